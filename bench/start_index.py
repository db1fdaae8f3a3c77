"""New-process cost of the ``cdi`` command with the persistent index, against ``python -c pass``.

For each size (spec files in one directory, the `specgen.py` mix) and format, in new processes
(the installed console script, bytecode compiled, the index in a private directory):

- ``devices -o json`` with nothing changed since the index was written;
- ``inject`` of one small device into a runc-style OCI spec, nothing changed;
- ``devices -o json`` right after one file was rewritten (a new value each run);
- ``devices -o json`` without the index (``CDI_INDEX=0``): every file parsed, as before.

Runs are interleaved with ``python -c pass`` and the medians reported with their ratio to it.
Files are left to age past the racy window before the unchanged runs, as spec files on a real
host are (a file changed within the window is read again by the next process).

    .venv/bin/python bench/start_index.py [--sizes 10,100,1000,10000] [--formats json,yaml]
        [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from specgen import generate

CDI = str(Path(sys.executable).parent / "cdi")
OCI_SPEC = {"ociVersion": "1.2.0", "process": {"args": ["sh"], "env": ["PATH=/bin"]}}
#: The no-index runs parse every file: a few are enough to see it.
NO_INDEX_RUNS = 3


def _environment(index_dir: Path, *, index: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "CDI_INDEX")}
    env["CDI_INDEX_DIR"] = str(index_dir)
    env.pop("CDI_SPEC_DIRS", None)
    if not index:
        env["CDI_INDEX"] = "0"
    return env


def _time(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
    return (time.perf_counter() - start) * 1000


def _rewrite(path: Path, run: int) -> None:
    """A new value in one file (same shape), as an update by a device plugin would be."""
    text = path.read_text()
    marker = "VENDOR_DEVICE_0=on"
    path.write_text(
        text.replace(marker, f"VENDOR_DEVICE_0=run{run}", 1) if marker in text else text
    )


def measure(size: int, fmt: str, runs: int, work: Path) -> dict[str, float]:
    directory = work / f"{fmt}-{size}"
    generate(directory, size, fmt)
    oci = work / "oci.json"
    oci.write_text(json.dumps(OCI_SPEC))
    index_dir = work / f"index-{fmt}-{size}"
    env, no_index = _environment(index_dir), _environment(index_dir, index=False)
    device = "vendor1.example.com/device=dev0"
    changing = directory / f"spec-00001.{fmt}"
    time.sleep(0.1)  # older than the racy window
    devices = [CDI, "--spec-dir", str(directory), "devices", "-o", "json"]
    inject = [CDI, "--spec-dir", str(directory), "inject", str(oci), device]
    baseline = [sys.executable, "-c", "pass"]
    for argv in (baseline, devices, inject):  # bytecode, page cache, and the index written
        _time(argv, env)
    samples: dict[str, list[float]] = {
        "pass": [],
        "devices": [],
        "inject": [],
        "one changed": [],
        "no index": [],
    }
    for run in range(runs):
        samples["pass"].append(_time(baseline, env))
        samples["devices"].append(_time(devices, env))
        samples["inject"].append(_time(inject, env))
        _rewrite(changing, run)
        samples["one changed"].append(_time(devices, env))
        if run < NO_INDEX_RUNS:
            samples["no index"].append(_time(devices, no_index))
        # Let the changed file age and the index learn that (the next process re-reads a
        # file that was racy when indexed once), so that "unchanged" is unchanged.
        time.sleep(0.1)
        _time(devices, env)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--formats", default="json,yaml")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    columns = ["devices", "inject", "one changed", "no index"]
    print(f"{'fmt':<5} {'files':>6} {'pass ms':>8} " + " ".join(f"{c:>20}" for c in columns))
    with tempfile.TemporaryDirectory(prefix="cdi-bench-") as work:
        for fmt in args.formats.split(","):
            for size in (int(part) for part in args.sizes.split(",")):
                result = measure(size, fmt, args.runs, Path(work))
                base = result["pass"]
                cells = [f"{result[c]:8.1f} ms ({result[c] / base:5.1f}x)" for c in columns]
                print(f"{fmt:<5} {size:>6} {base:8.1f} " + " ".join(f"{c:>20}" for c in cells))
    print(f"(medians of {args.runs} interleaved runs; 'no index': {NO_INDEX_RUNS} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
