"""The tutorial's GPU build on a fixture GPU host: time from build start to the GPU step running.

The host is the tests' (``tests/gpuhost.py``): a driver root with the stand-in NVML and
``nvidia-smi``, on a glibc root standing for ``FROM ubuntu``. Each round builds

    FROM ubuntu
    RUN --device=nvidia.com/gpu nvidia-smi -L

twice with a fresh, empty spec directory:

- first:  the kind is on demand, so the build prepares it (validate, generate in-process,
          write the spec, refresh) before the step runs;
- second: the spec is there and is reused; nothing is prepared.

"GPU step running" is the moment the step's first output line (``GPU 0: ...``, printed by
``nvidia-smi`` in the container) reaches the progress display: the container has started
with the device injected and its hooks run. Also shown: the "preparing device" vertex alone
and the whole build. Medians of ``--rounds`` rounds. Needs root, runc, a static busybox and a
C compiler, as the GPU e2e tests do.

    .venv/bin/python bench/gpu_build.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from cdi.build import BuildOptions, Progress, build
from cdi.build.progress import Vertex
from cdi.hooks.launcher import build_launcher
from cdi.policy import DevicePolicy
from cdi.policy.nvidia_installer import HOOK_PATH_ENV, NvidiaInstaller
from cdi.registry import Registry
from cdi.runtime import RUNTIME_ROOT_ENV
from gpuhost import build_gpu_host, glibc_rootfs

DOCKERFILE = (
    "# syntax=docker/dockerfile:1-labs\nFROM ubuntu\nRUN --device=nvidia.com/gpu nvidia-smi -L\n"
)
PREPARING = "preparing device nvidia.com/gpu"


class Timings(Progress):
    """A silent progress display that notes when the GPU step first prints."""

    def __init__(self) -> None:
        super().__init__()
        self.started = time.perf_counter()
        self.first_gpu_line: float | None = None
        self.prepared = 0.0

    def on_log(self, vertex: Vertex, elapsed: float, line: str) -> None:
        if self.first_gpu_line is None and line.startswith("GPU 0: "):
            self.first_gpu_line = time.perf_counter()

    def on_done(self, vertex: Vertex) -> None:
        if vertex.name == PREPARING:
            self.prepared = vertex.duration


def timed_build(context: Path, ubuntu: Path, host: Path, spec_dir: Path) -> tuple[float, ...]:
    """(to the GPU step running, preparing, whole build) in seconds."""
    installer = NvidiaInstaller(str(host), spec_dir=str(spec_dir))
    progress = Timings()
    policy = DevicePolicy(Registry([str(spec_dir)]), installers={installer.kind: installer})
    options = BuildOptions(
        context=context,
        dockerfile_text=DOCKERFILE,
        progress=progress,
        build_contexts={"ubuntu": str(ubuntu)},
        policy=policy,
    )
    progress.started = time.perf_counter()
    build(options)
    finished = time.perf_counter()
    if progress.first_gpu_line is None:
        raise SystemExit("the GPU step printed no GPU line")
    return (
        progress.first_gpu_line - progress.started,
        progress.prepared,
        finished - progress.started,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    # The policy logs BuildKit's "Optional device ... is not registered" before each first
    # build prepares the kind; expected here, and not what is measured.
    logging.getLogger("cdi.policy").setLevel(logging.ERROR)
    if os.geteuid() != 0 or shutil.which("cc") is None:
        raise SystemExit("bench/gpu_build.py needs root (device nodes, runc) and cc")
    with tempfile.TemporaryDirectory(prefix="cdi-bench-gpu-") as temporary:
        base = Path(temporary)
        host = build_gpu_host(base / "host").root
        ubuntu = glibc_rootfs(base / "ubuntu")
        os.environ[HOOK_PATH_ENV] = build_launcher(str(base / "cdi-hook"))
        os.environ[RUNTIME_ROOT_ENV] = str(base / "runc")
        context = base / "context"
        context.mkdir()
        first: list[tuple[float, ...]] = []
        second: list[tuple[float, ...]] = []
        for round_number in range(args.rounds):
            spec_dir = base / f"cdi-{round_number}"
            first.append(timed_build(context, ubuntu, host, spec_dir))
            second.append(timed_build(context, ubuntu, host, spec_dir))

    def median_ms(rows: list[tuple[float, ...]], column: int) -> float:
        return statistics.median(row[column] for row in rows) * 1000

    print(f"GPU build on a fixture host, median of {args.rounds} rounds (ms):")
    print(f"{'':28}{'to GPU step':>12}{'preparing':>12}{'whole build':>12}")
    for label, rows in (("first build (preparing)", first), ("second build (spec reused)", second)):
        cells = "".join(f"{median_ms(rows, column):12.1f}" for column in range(3))
        print(f"{label:28}{cells}")
    ratio = median_ms(first, 0) / median_ms(second, 0)
    print(f"first / second, to the GPU step: {ratio:.2f}x")


if __name__ == "__main__":
    main()
