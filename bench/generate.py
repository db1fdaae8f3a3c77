"""``cdi generate nvidia`` on a fixture host against merely walking and stat-ing its files.

The fixture is the one the tests use (``tests/generate/nvidiaroot.py``): a driver root with
the full library set of a 580-series install (real ELF objects with SONAMEs, their links, a
real ``ld.so.cache`` from ``ldconfig -r``), binaries, socket, firmware, configuration files,
8 GPUs with their device nodes, DRM nodes and by-path links, and a fake sysfs. NVML is the
tests' fake (the real one needs a GPU), so what is timed is discovery and assembly:

- walk:     ``os.walk`` over the root with an ``lstat`` of every entry -- the floor of any
            generator that looks at the files at all;
- generate: :func:`cdi.generate.nvidia.generate` (all hooks, index and uuid names);
- render:   the same plus encoding the spec as YAML (what ``cdi generate nvidia`` prints).

Each time is the median of several rounds, run alternately; ratios are against walk. Run as
root (the fixture's device nodes need ``mknod``; without them the nodes are left out).

    .venv/bin/python bench/generate.py [--gpus 8] [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from cdi.generate.nvidia import generate
from cdi.generate.options import Options
from cdi.generate.output import render
from generate.fakenvml import FakeNvml
from generate.nvidiaroot import build_nvidia_root


def walk(root: str) -> int:
    count = 0
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            os.lstat(os.path.join(directory, name))
            count += 1
    return count


def median_ms(function: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as base:
        info = build_nvidia_root(Path(base) / "root", gpus=args.gpus, library_set="full")
        options = Options(
            driver_root=info.driver_root,
            sysfs_root=info.sysfs_root,
            procfs_root=info.procfs_root,
        )
        nvml = FakeNvml.with_gpus(args.gpus)
        entries = walk(info.driver_root)
        spec = generate(options, nvml=nvml)
        print(
            f"fixture: {args.gpus} GPUs, {entries} files and directories, "
            f"{len(spec.devices)} devices, {len(spec.container_edits.mounts)} common mounts"
        )
        results: dict[str, list[float]] = {"walk": [], "generate": [], "render": []}
        for _ in range(args.rounds):  # interleaved, so load from elsewhere hits all alike
            results["walk"].append(median_ms(lambda: walk(info.driver_root), 1))
            results["generate"].append(median_ms(lambda: generate(options, nvml=nvml), 1))
            results["render"].append(
                median_ms(lambda: render(generate(options, nvml=nvml), "yaml"), 1)
            )
    floor = statistics.median(results["walk"])
    print(f"{'step':<10} {'median':>10} {'x walk':>8}")
    for name, times in results.items():
        value = statistics.median(times)
        print(f"{name:<10} {value:>8.2f} ms {value / floor:>8.2f}")


if __name__ == "__main__":
    main()
