"""Start-up time of the ``cdi`` command line, against a bare interpreter in the same run.

Runs ``cdi --help`` and ``cdi --spec-dir examples/cdi devices -o json`` as subprocesses (the
installed console script next to this interpreter), ``--runs`` times each, interleaved with
``python -c pass``, and prints the medians and their ratios to the baseline. The target for
both commands is under 150 ms on the development machine (``docs/performance.md``).

    python bench/startup.py [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 150.0


def _cdi() -> list[str]:
    script = Path(sys.executable).parent / "cdi"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from cdi.cli.main import main; sys.exit(main())"]


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return (time.perf_counter() - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    cdi = _cdi()
    cases = {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "cdi --help": [*cdi, "--help"],
        "cdi devices -o json": [*cdi, "--spec-dir", "examples/cdi", "devices", "-o", "json"],
    }
    os.environ.pop("CDI_SPEC_DIRS", None)
    for argv in cases.values():  # warm the page cache and the bytecode
        _time(argv)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, argv in cases.items():
            samples[name].append(_time(argv))
    baseline = statistics.median(samples["python -c pass (baseline)"])
    print(f"{'command':<28} {'median ms':>10} {'x baseline':>11} {'target':>8}")
    failed = False
    for name, values in samples.items():
        median = statistics.median(values)
        verdict = ""
        if name.startswith("cdi"):
            ok = median < TARGET_MS
            failed = failed or not ok
            verdict = "ok" if ok else "SLOW"
        print(f"{name:<28} {median:>10.1f} {median / baseline:>11.2f} {verdict:>8}")
    print(f"({args.runs} runs each, interleaved; target: cdi commands under {TARGET_MS:.0f} ms)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
