"""Registry refresh and injection times against the raw-parse floor, measured in the same run.

For 10, 100 and 1,000 generated spec files (JSON, then YAML; see ``specgen.py``) in one spec
directory:

- raw:         read every file and parse it with ``json.loads`` / libyaml ``CSafeLoader``
               (no validation, no model) -- the floor any registry pays on a cold start;
- cold:        ``cdi.Registry([dir], index=False)``: the first scan, every file read, parsed
               and resolved (no persistent index);
- indexed:     ``cdi.Registry([dir], index=...)`` starting from a persistent index that
               covers every file (what a new process does; specs decoded only when used);
- warm:        ``refresh()`` with nothing changed (every file is stat()ed, none is read);
- one changed: ``refresh()`` right after one file was rewritten;
- inject:      ``inject()`` of one device into a runc-style OCI spec, for a small vendor
               device and for a GPU device with 15 library mounts, a hook and device nodes
               (host device nodes are faked, so no /dev access is timed).

Each time is the median of several rounds (cold and raw alternate); ratios are against raw
for the same files. Files are left to age for a moment before timing, as spec files on a real
host are: the registry re-reads (but does not re-parse) files changed in the last few
milliseconds, to be safe from coarse file timestamps.

    .venv/bin/python bench/registry.py [--sizes 10,100,1000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import stat
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cdi
import cdi.registry.scan

sys.path.insert(0, str(Path(__file__).parent))
from specgen import generate, raw_json, raw_yaml

# A runc-style OCI spec as runtimes hand it over (process, mounts, namespaces, ...).
OCI_SPEC: dict[str, Any] = {
    "ociVersion": "1.2.0",
    "process": {
        "user": {"uid": 0, "gid": 0},
        "args": ["sh"],
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
        "cwd": "/",
        "capabilities": {
            key: ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD"]
            for key in ("bounding", "effective", "permitted")
        },
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs"},
    "hostname": "bench",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro"]},
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
        "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/sys/firmware"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"],
    },
}


class _FakeDevice:
    st_mode = stat.S_IFCHR | 0o666
    st_rdev = os.makedev(195, 0)


def fake_lstat(path: str) -> _FakeDevice:
    return _FakeDevice()


def _timed(function: Callable[[], Any]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def _median(function: Callable[[], Any], repeats: int) -> float:
    return statistics.median(_timed(function) for _ in range(repeats))


def _settle() -> None:
    time.sleep(cdi.registry.scan.RACY_WINDOW_NS / 1e9 + 0.05)


def measure(directory: Path, paths: list[Path], fmt: str, rounds: int) -> dict[str, float]:
    raw_parse = raw_json if fmt == "json" else raw_yaml
    raw, cold, indexed = [], [], []
    index_dir = directory.parent / f"index-{directory.name}"
    cdi.Registry([directory], index=index_dir)  # writes the index
    for _ in range(rounds):
        raw.append(_timed(lambda: [raw_parse(path) for path in paths]))
        cold.append(_timed(lambda: cdi.Registry([directory], stat_device=fake_lstat, index=False)))
        indexed.append(_timed(lambda: cdi.Registry([directory], index=index_dir)))
    registry = cdi.Registry([directory], stat_device=fake_lstat, index=False)
    registry.refresh()
    warm = _median(registry.refresh, max(rounds, 21))

    # One file changes between refreshes; a toggled value keeps the device set the same.
    target = paths[len(paths) // 2]
    original = target.read_text()
    variants = [original.replace("VENDOR_DEVICE_0=on", f"VENDOR_DEVICE_0=o{n}") for n in "nf"]
    if variants[0] == variants[1]:  # a GPU spec: toggle its env instead
        variants = [original.replace("=void", f"=vo{n}d") for n in "io"]
    changed = []
    for index in range(rounds):
        target.write_text(variants[index % 2])
        changed.append(_timed(registry.refresh))
    target.write_text(original)
    registry.refresh()
    _settle()
    registry.refresh()

    names = registry.list_devices()
    small = next(name for name in names if ".example.com/device=" in name)
    gpu = next((name for name in names if name.endswith("/gpu=0")), small)
    inject_small = _median(lambda: registry.inject(OCI_SPEC, [small]), 201)
    inject_gpu = _median(lambda: registry.inject(OCI_SPEC, [gpu]), 201)
    return {
        "raw": statistics.median(raw),
        "cold": statistics.median(cold),
        "indexed": statistics.median(indexed),
        "warm": warm,
        "changed": statistics.median(changed),
        "inject": inject_small,
        "inject_gpu": inject_gpu,
    }


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    print(
        f"cdi.Registry, generated spec files in one directory, median of {args.rounds}+ rounds;"
        " (x) = ratio to raw read+parse of the same files, same run"
    )
    header = (
        f"{'fmt':<4} {'files':>5}  {'raw read+parse':>14}  {'cold refresh':>20}  "
        f"{'from the index':>20}  "
        f"{'warm refresh':>20}  {'one file changed':>20}  {'inject 1 device':>20}  "
        f"{'inject GPU device':>20}"
    )
    print(header)
    goals = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("json", "yaml"):
            for size in sizes:
                directory = Path(tmp) / f"{fmt}-{size}"
                paths = generate(directory, size, fmt)
                _settle()
                result = measure(directory, paths, fmt, args.rounds)
                raw = result["raw"]
                cells = [
                    f"{_ms(result[key])} ({result[key] / raw:5.2f}x)"
                    for key in ("cold", "indexed", "warm", "changed", "inject", "inject_gpu")
                ]
                print(f"{fmt:<4} {size:>5}  {_ms(raw):>14}  " + "  ".join(cells))
                goals.append((fmt, size, result))
    print()
    for fmt, size, result in goals:
        goal = 1.8 if fmt == "json" else 0.4
        print(
            f"{fmt} {size:>5} files: cold = {result['cold'] / result['raw']:.2f}x raw"
            f" (goal <= {goal}x), warm refresh = {result['warm'] / result['cold']:6.2%} of cold"
            f" (goal < 5%), one changed = {result['changed'] / result['cold']:6.2%} of cold,"
            f" inject = {result['inject'] * 1e6:.0f} us / GPU {result['inject_gpu'] * 1e6:.0f} us"
            " (goal < 1 ms)"
        )


if __name__ == "__main__":
    main()
