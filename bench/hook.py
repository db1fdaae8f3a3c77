"""Start-path time of a hook: ``create-symlinks`` with 10 links, against a bare interpreter.

A hook runs on every container start. Each run is a new process, as runc starts it: the OCI
state on stdin, a fresh directory of the container root to link in. Compared, interleaved
in the same run:

- ``python -I -c pass``, the baseline (what any Python hook pays to start);
- the static launcher ``cdi install-hook`` builds (skipped without a C compiler);
- the ``cdi-hook`` console script, which restarts itself isolated (so it starts twice).

Target: the launcher under 60 ms on the development machine (``docs/performance.md``).

    python bench/hook.py [--runs 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import count
from pathlib import Path

from cdi.hooks.errors import HookError
from cdi.hooks.launcher import build_launcher

TARGET_MS = 60.0
_RUNS = count()


def _links() -> list[str]:
    """Ten ``--link`` pairs into a directory no run used before."""
    run = next(_RUNS)
    args = []
    for index in range(10):
        args += ["--link", f"libfoo.so.{index}::/usr/lib/run{run}/libfoo{index}.so"]
    return args


def _time(argv: list[str], state: bytes, hook: bool) -> float:
    command = [*argv, "create-symlinks", *_links()] if hook else argv
    start = time.perf_counter()
    subprocess.run(command, input=state, check=True, env={}, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        rootfs = Path(scratch) / "rootfs"
        rootfs.mkdir()
        state = json.dumps({"ociVersion": "1.2.0", "id": "bench", "root": str(rootfs)}).encode()
        cases: dict[str, tuple[list[str], bool]] = {
            "python -I -c pass (baseline)": ([sys.executable, "-I", "-c", "pass"], False),
        }
        try:
            launcher = build_launcher(str(Path(scratch) / "cdi-hook"))
            cases["launcher create-symlinks x10"] = ([launcher], True)
        except HookError as err:
            print(f"(no launcher: {err})")
        script = Path(sys.executable).parent / "cdi-hook"
        if script.exists():
            cases["console script create-symlinks x10"] = ([str(script)], True)
        for argv, hook in cases.values():  # warm the page cache and the bytecode
            _time(argv, state, hook)
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, (argv, hook) in cases.items():
                samples[name].append(_time(argv, state, hook))
    baseline = statistics.median(samples["python -I -c pass (baseline)"])
    print(f"{'command':<38} {'median ms':>10} {'x baseline':>11} {'target':>8}")
    failed = False
    for name, values in samples.items():
        median = statistics.median(values)
        verdict = ""
        if name.startswith("launcher"):
            failed = median >= TARGET_MS
            verdict = "SLOW" if failed else "ok"
        print(f"{name:<38} {median:>10.1f} {median / baseline:>11.2f} {verdict:>8}")
    print(f"({args.runs} runs each, interleaved; target: the launcher under {TARGET_MS:.0f} ms)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
