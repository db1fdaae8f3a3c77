"""The tutorial's ``cdi build``, against bare runc in the same run (issue 14's targets).

Runs each case ``--runs`` times, interleaved, and prints the median wall time of each, its
ratio to bare runc, and the issue's target for that ratio:

- bare runc:            ``runc run --bundle B ID`` of busybox ``true`` on a bundle prepared
                        once (the floor every build step pays at least once);
- builds:               ``cdi build`` of ``examples/build`` (``FROM busybox``, one ``RUN
                        --device``), a new process each time, as a user runs it: ``--spec-dir
                        examples/cdi --allow device --progress plain``, the base given as
                        ``busybox=oci-layout://L``, an OCI image layout (made once) of a
                        busybox root -- the case the issue measured against BuildKit -- or
                        once as the directory itself:

  - ``--no-cache``: every step runs (BuildKit's ``--no-cache`` case); the unpacked base
    comes from the cache, as BuildKit's comes from its snapshots;
  - empty cache: a new cache directory for each build, so the base is unpacked too;
  - cache hit: the same build again: every step from the cache, no container;
  - changed last step: a second Dockerfile on the same base whose last ``RUN`` sees a new
    build argument each time: only that step runs.

With ``--profile``, it also shows where an oci-layout ``--no-cache`` build's time goes: the slowest
imports of one build (``python -X importtime``), the medians of its parts over ``--runs``
new processes (interpreter, imports, layer unpacking, runc, the rest), and a cProfile
summary of a build run in this process.

Needs root, runc and a static busybox (as the e2e tests do). The builds' processes keep
their bytecode (``PYTHONDONTWRITEBYTECODE`` is dropped from their environment).

    .venv/bin/python bench/build.py [--runs 10] [--profile] [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cdi.build.fs import Root
from cdi.build.image import ImageConfig, host_platform
from cdi.build.output import parse_output, write_oci
from cdi.runtime import RUNTIME_ROOT_ENV, default_oci_spec, find_runtime, make_busybox_rootfs

ROOT = Path(__file__).resolve().parent.parent
CDI = str(Path(sys.executable).with_name("cdi"))
BASELINE = "bare runc (baseline)"
COLD_TARGET = 3.0
CACHED_TARGET = 1.5
# The line the tutorial's step prints; a build that does not show it measured something else.
EXPECTED_OUTPUT = "FOO=injected"
#: What a cache hit of that step shows instead (its output is not shown again, as in BuildKit).
CACHED_RUN = "env | grep ^FOO=\n#5 CACHED"


class Case:
    """One way of doing the work: a command, and the ratio to bare runc the issue asks of it."""

    def __init__(self, name: str, action: Callable[[], object], target: float | None) -> None:
        self.name = name
        self.action = action
        self.target = target
        self.samples: list[float] = []

    def timed(self) -> None:
        started = time.perf_counter()
        self.action()
        self.samples.append((time.perf_counter() - started) * 1000)


def _busybox_layout(rootfs: Path, dest: Path, workdir: Path) -> Path:
    """An OCI image layout directory holding *rootfs* as its one layer, tagged ``latest``."""
    config = ImageConfig.scratch()
    config.os, config.architecture, config.variant = host_platform()
    config.cmd = ["sh"]
    write_oci(
        Root(rootfs),
        config,
        parse_output(f"type=oci,dest={dest},tar=false"),
        created="2024-01-01T00:00:00Z",
        epoch=0,
        status=lambda _line: None,
        workdir=workdir,
    )
    return dest


def _build_argv(base: str, extra: list[str]) -> list[str]:
    return [
        CDI,
        "build",
        "--spec-dir",
        str(ROOT / "examples" / "cdi"),
        "--allow",
        "device",
        "--progress",
        "plain",
        "--build-context",
        f"busybox={base}",
        *extra,
        str(ROOT / "examples" / "build"),
    ]


def _run_build(argv: list[str], env: dict[str, str], expected: str = EXPECTED_OUTPUT) -> None:
    result = subprocess.run(
        argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if result.returncode != 0 or expected not in result.stderr + result.stdout:
        raise SystemExit(
            f"the build failed or did not print {expected!r}:\n"
            f"$ {' '.join(argv)}\n{result.stdout}{result.stderr}"
        )


#: The issue's "second Dockerfile with the same base and a changed last step": the first
#: steps are cached; the last one sees a new ``N`` on every build, so it runs every time.
CHANGED_LAST_STEP = """\
# syntax=docker/dockerfile:1-labs
FROM busybox
RUN echo prepared > /prepared
ARG N
RUN --device=vendor1.com/device env | grep ^FOO= && echo "$N" > /n
"""


def _cache_cases(base: str, env: dict[str, str], work: Path) -> list[Case]:
    """The builds with a build cache, *base* being the busybox context's source.

    - empty cache: a new cache directory each build, so the base is unpacked too;
    - ``--no-cache``: every step runs, the unpacked base comes from the cache;
    - cache hit: the tutorial build again, every step from the cache, no container;
    - changed last step: only the last step runs.
    """
    cache = work / "cache"
    fresh = iter(range(1 << 30))
    context = work / "changed-last-step"
    context.mkdir()
    (context / "Dockerfile").write_text(CHANGED_LAST_STEP)
    counter = iter(range(1 << 30))

    def empty_cache() -> None:
        _run_build(_build_argv(base, ["--cache-dir", str(work / f"empty-{next(fresh)}")]), env)

    def changed_last_step() -> None:
        argv = _build_argv(base, ["--cache-dir", str(cache), "--build-arg", f"N={next(counter)}"])
        argv[-1] = str(context)
        _run_build(argv, env)

    return [
        Case("build, empty cache", empty_cache, COLD_TARGET),
        Case(
            "build, --no-cache",
            lambda: _run_build(_build_argv(base, ["--cache-dir", str(cache), "--no-cache"]), env),
            COLD_TARGET,
        ),
        Case(
            "build again (cache hit)",
            lambda: _run_build(_build_argv(base, ["--cache-dir", str(cache)]), env, CACHED_RUN),
            CACHED_TARGET,
        ),
        Case("changed last step", changed_last_step, None),
    ]


def _import_profile(argv: list[str], env: dict[str, str], top: int) -> str:
    """The *top* slowest imports (cumulative) of one build, and the imports' total."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
    )
    rows: list[tuple[int, int, str]] = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|", 2)
        rows.append((int(cumulative_us), int(self_us), name.rstrip()))
    # Top-level imports (one space of indent) add up to the whole import time.
    total = sum(cumulative for cumulative, _, name in rows if not name.startswith("  "))
    ours = sum(own for _, own, name in rows if name.strip().startswith("cdi"))
    lines = [
        f"imports of one build: {total / 1000:.1f} ms in {len(rows)} modules "
        f"({ours / 1000:.1f} ms in cdi's own module bodies)",
        f"{'cumulative ms':>14} {'self ms':>8}  module",
    ]
    for cumulative, own, name in sorted(rows, reverse=True)[:top]:
        lines.append(f"{cumulative / 1000:>14.1f} {own / 1000:>8.1f}  {name}")
    return "\n".join(lines)


def _in_process(argv: list[str]) -> None:
    """One build through the click command in this process (its imports already done)."""
    from click.testing import CliRunner

    from cdi.cli.main import main as cli_main

    result = CliRunner().invoke(cli_main, argv[1:], catch_exceptions=False)
    if result.exit_code != 0 or EXPECTED_OUTPUT not in result.output:
        raise SystemExit(f"the in-process build failed:\n{result.output}")


# A new process that splits one build into its parts. It first imports the modules a build
# imports (the list from an earlier child: argv[1], JSON), then runs the build through the
# click command with the functions that do the two big parts wrapped in timers; a part whose
# function is found at none of its places is reported as missing, not as zero.
# It writes what it measured, and the modules it ended with, as JSON to the file argv[2].
_PHASE_CHILD = """
import importlib, json, sys, time
started = time.perf_counter()
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except Exception:
        pass
imported = time.perf_counter()
# Every place a build may reach each part through (where it is defined, and where a module
# bound it at import time); only the outermost call of nested ones is counted.
phases = {"unpack": [("cdi.build.layers", "apply_layer"), ("cdi.build.context", "apply_layer")],
          "runc": [("cdi.runtime.runc", "run_container"), ("cdi.runtime", "run_container"),
                   ("cdi.build.run_step", "run_container")]}
spent = {}
depth = {}
def wrap(key, function):
    def timed(*args, **kwargs):
        depth[key] = depth.get(key, 0) + 1
        begun = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            depth[key] -= 1
            if depth[key] == 0:
                spent[key] += time.perf_counter() - begun
    return timed
for key, sites in phases.items():
    for module_name, attribute in sites:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if callable(getattr(module, attribute, None)):
            setattr(module, attribute, wrap(key, getattr(module, attribute)))
            spent[key] = 0.0
from cdi.cli.main import main
before_build = time.perf_counter()
try:
    main(sys.argv[3:], prog_name="cdi")
except SystemExit as exit:
    code = exit.code
else:
    code = 0
built = time.perf_counter()
with open(sys.argv[2], "w") as out:
    json.dump({"code": code, "imports": imported - started, "build": built - before_build,
               "spent": spent, "modules": list(sys.modules)}, out)
"""


def _phase_child(
    argv: list[str], env: dict[str, str], modules: list[str], out: Path
) -> dict[str, Any]:
    subprocess.run(
        [sys.executable, "-c", _PHASE_CHILD, json.dumps(modules), str(out), *argv[1:]],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.read_text())
    if result["code"] != 0:
        raise SystemExit(f"the build in the phase probe failed: exit status {result['code']}")
    return result


def _phases(
    argv: list[str], env: dict[str, str], runs: int, work: Path
) -> list[tuple[str, float | None]]:
    """Median ms of each part of one build in a new process, over *runs* processes.

    Interleaved with ``python -c pass``, whose median is the interpreter's own start and exit.
    """
    out = work / "phases.json"
    modules = _phase_child(argv, env, [], out)["modules"]  # also the warm-up
    rows: dict[str, list[float]] = {
        "python -c pass (interpreter start, exit)": [],
        "imports (all the build uses)": [],
        "build (first in the process)": [],
        "  of which: unpack the base layer": [],
        "  of which: runc run of the RUN step": [],
        "  of which: the rest": [],
    }
    missing = set()
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
        rows["python -c pass (interpreter start, exit)"].append(time.perf_counter() - started)
        result = _phase_child(argv, env, modules, out)
        rows["imports (all the build uses)"].append(result["imports"])
        rows["build (first in the process)"].append(result["build"])
        for key, label in (
            ("unpack", "unpack the base layer"),
            ("runc", "runc run of the RUN step"),
        ):
            if key in result["spent"]:
                rows[f"  of which: {label}"].append(result["spent"][key])
            else:
                missing.add(f"  of which: {label}")
        rows["  of which: the rest"].append(result["build"] - sum(result["spent"].values()))
    return [
        (name, None if name in missing else statistics.median(values) * 1000)
        for name, values in rows.items()
    ]


def _call_profile(argv: list[str], top: int) -> str:
    """A cProfile summary of a second build in this process (imports already done)."""
    _in_process(argv)  # its lazy imports and first-call caches: shown by the other profiles
    profiler = cProfile.Profile()
    profiler.enable()
    _in_process(argv)
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    # The build's own code and the standard library's heavy parts, without click's frames.
    stats.sort_stats("cumulative").print_stats(r"src/cdi/|tarfile|gzip|zlib|subprocess|os\.", top)
    return text.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--profile", action="store_true", help="also print where one build goes")
    parser.add_argument("--top", type=int, default=25, help="rows in each profile")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/build.py needs root (runc)")
    runc = find_runtime("runc")
    with tempfile.TemporaryDirectory(prefix="cdi-bench-build-") as tmp:
        work = Path(tmp)
        rootfs = make_busybox_rootfs(work / "rootfs")
        layout = _busybox_layout(rootfs, work / "layout", work)
        bundle = work / "bundle"
        bundle.mkdir()
        spec = default_oci_spec(["true"])
        (bundle / "config.json").write_text(json.dumps({**spec, "root": {"path": str(rootfs)}}))
        # Both runc and the builds keep their container state here, so neither pays for
        # the other's leftovers in /run/runc.
        state = work / "runc-state"
        env = {**os.environ, RUNTIME_ROOT_ENV: str(state)}
        # The interpreter must keep its bytecode, or every build recompiles cdi's modules.
        env.pop("PYTHONDONTWRITEBYTECODE", None)

        def bare() -> None:
            subprocess.run(
                [
                    runc,
                    "--root",
                    str(state),
                    "run",
                    "--bundle",
                    str(bundle),
                    f"bench-{uuid.uuid4().hex[:12]}",
                ],
                check=True,
                stdin=subprocess.DEVNULL,
            )

        cache = ["--cache-dir", str(work / "cache")]
        dir_argv = _build_argv(str(rootfs), [*cache, "--no-cache"])
        layout_argv = _build_argv(f"oci-layout://{layout}", [*cache, "--no-cache"])
        cases = [
            Case(BASELINE, bare, None),
            Case("build, dir base, --no-cache", lambda: _run_build(dir_argv, env), COLD_TARGET),
            *_cache_cases(f"oci-layout://{layout}", env, work),
        ]
        for case in cases:  # warm up: page cache, bytecode, runc's binary
            case.action()
        for _ in range(args.runs):
            for case in cases:
                case.timed()
        if args.profile:
            imports = _import_profile(layout_argv, env, args.top)
            os.environ[RUNTIME_ROOT_ENV] = str(state)
            phases = _phases(layout_argv, env, args.runs, work)
            calls = _call_profile(layout_argv, args.top)
    baseline = statistics.median(cases[0].samples)
    print(f"{args.runs} interleaved runs each; the tutorial build (examples/build), medians")
    print(f"{'case':<30} {'median ms':>10} {'x bare runc':>12} {'target':>8}")
    for case in cases:
        median = statistics.median(case.samples)
        target = f"<= {case.target:g}x" if case.target is not None else ""
        print(f"{case.name:<30} {median:>10.1f} {median / baseline:>11.2f}x {target:>8}")
    if args.profile:
        print()
        print(imports)
        print("(-X importtime itself slows imports; the breakdown below does not use it)")
        print()
        print(f"where one oci-layout build goes, new processes, medians of {args.runs} (ms):")
        for name, value in phases:
            shown = f"{value:>8.1f}" if value is not None else "   (not found)"
            print(f"{name:<40} {shown}")
        print()
        print(f"one build in-process (oci-layout base), cProfile, top {args.top} by cumulative:")
        print(calls)


if __name__ == "__main__":
    main()
