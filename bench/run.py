"""Running a container with a CDI device, against bare runc in the same run.

Runs ``true`` in a busybox container ``--runs`` times each way, interleaved, and prints the
median times and their ratios to bare runc:

- bare runc:     ``runc run --bundle B ID`` on a bundle prepared once (the floor);
- run_container: ``cdi.runtime.run_container`` with the same spec (bundle written, runc run,
                 cleanup) -- what every container start through this package pays;
- inject + run:  ``Registry.inject`` of ``vendor1.com/device=foo`` and then ``run_container``;
- cdi run:       the ``cdi run --rootfs R --device vendor1.com/device=foo -- true`` command
                 (a new interpreter each time, as a user runs it).

Needs root, runc and a static busybox (as the e2e tests do).

    .venv/bin/python bench/run.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from cdi.registry import Registry
from cdi.runtime import default_oci_spec, find_runtime, make_busybox_rootfs, run_container

ROOT = Path(__file__).resolve().parent.parent
DEVICE = "vendor1.com/device=foo"


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    runc = find_runtime("runc")
    cdi = str(Path(sys.executable).with_name("cdi"))
    with tempfile.TemporaryDirectory() as tmp:
        rootfs = make_busybox_rootfs(Path(tmp) / "rootfs")
        spec = default_oci_spec(["true"])
        bundle = Path(tmp) / "bundle"
        bundle.mkdir()
        (bundle / "config.json").write_text(json.dumps({**spec, "root": {"path": str(rootfs)}}))
        registry = Registry([ROOT / "examples" / "cdi"])

        def bare() -> None:
            subprocess.run(
                [runc, "run", "--bundle", str(bundle), f"bench-{uuid.uuid4().hex[:12]}"],
                check=True,
                stdin=subprocess.DEVNULL,
            )

        cases: dict[str, Callable[[], object]] = {
            "bare runc (baseline)": bare,
            "run_container": lambda: run_container(spec, rootfs, stdin=subprocess.DEVNULL),
            "inject + run_container": lambda: run_container(
                registry.inject(spec, [DEVICE]), rootfs, stdin=subprocess.DEVNULL
            ),
            "cdi run --device": lambda: subprocess.run(
                [
                    cdi,
                    "--spec-dir",
                    str(ROOT / "examples" / "cdi"),
                    "run",
                    "--rootfs",
                    str(rootfs),
                    "--device",
                    DEVICE,
                    "--",
                    "true",
                ],
                check=True,
                stdin=subprocess.DEVNULL,
            ),
        }
        for action in cases.values():  # warm caches
            action()
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, action in cases.items():
                samples[name].append(_timed(action))
    baseline = statistics.median(samples["bare runc (baseline)"])
    print(f"{args.runs} runs each of `true` in a busybox container, medians")
    print(f"{'way':<24} {'median ms':>10} {'x bare runc':>12}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:<24} {median:>10.1f} {median / baseline:>11.2f}x")


if __name__ == "__main__":
    main()
