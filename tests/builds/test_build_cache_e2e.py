"""The build cache through ``cdi build`` under real runc: hits and misses on every key input
(the table ``tests/vectors/build/cache_keys.yaml``), results served from the cache, builds
sharing one cache at once, the copy backend, and failures.

Every build here is followed by :meth:`CacheWorld.check_clean`: no mount, no half-made
entry, no working directory survives a build, whether it passed or failed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from cacheworld import CACHED, RAN, CacheWorld, Outcome, mounts_under, parse_plain, tree_listing
from cacheworld import without_timings as untimed

from runctools import RuncState
from tables import cases, load_table

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("require_runtime")]

TABLE = "build/cache_keys.yaml"
#: The cases also run on a cache directory that stores whole trees (the copy backend).
COPY_BACKEND_CASES = (
    "identical-rebuild",
    "earlier-step-changed-misses-every-later-step",
    "copy-source-touched",
    "copy-from-stage-changed",
    "failing-run-leaves-no-entry",
    "device-edit-changed",
)
CDI = str(Path(sys.executable).with_name("cdi"))


def copy_backend(cache: Path) -> None:
    """Make *cache* a new cache directory that uses the copy backend."""
    cache.mkdir(parents=True)
    (cache / "backend").write_text("copy\n")


@pytest.fixture
def world(tmp_path: Path, busybox_rootfs: Path, monkeypatch: pytest.MonkeyPatch) -> CacheWorld:
    return CacheWorld(tmp_path, busybox_rootfs, monkeypatch)


# --- the table -----------------------------------------------------------------------------------


def run_case(world: CacheWorld, case: dict[str, Any]) -> None:
    dockerfile_path = "Dockerfile"
    for number, step in enumerate(case["builds"], 1):
        where = f"{case['name']}, build {number}"
        dockerfile_path = step.get("file", dockerfile_path)
        if "dockerfile" in step:
            world.write(world.context, {dockerfile_path: step["dockerfile"]})
        world.write(world.context, step.get("files", {}))
        world.touch(step.get("touch", []))
        world.write(world.specs, step.get("specs", {}))
        flags = [flag.replace("{context}", str(world.context)) for flag in step.get("flags", [])]
        if dockerfile_path != "Dockerfile":
            flags += ["-f", str(world.context / dockerfile_path)]
        for name, value in step.get("args", {}).items():
            flags += ["--build-arg", f"{name}={value}"]
        outcome = world.build(*flags)
        if "error" in step:
            assert outcome.exit_code == 1, where
            assert outcome.stderr.endswith(step["error"]), (where, outcome.stderr)
        else:
            assert outcome.exit_code == 0, (where, outcome.stderr)
        if "steps" in step:
            assert outcome.steps == step["steps"], (where, outcome.stderr)
        else:
            assert number == 1, f"{where}: say what becomes of each step"
        for line in step.get("prints", []):
            assert line in outcome.logs, (where, line, outcome.stderr)
        if step.get("as_cold"):
            cold = world.build(*flags, cache=world.base / f"cold-{number}")
            assert untimed(outcome.stderr) == untimed(cold.stderr), where


@cases(TABLE)
def test_cache_keys(world: CacheWorld, case: dict[str, Any]) -> None:
    run_case(world, case)


@pytest.mark.parametrize("name", COPY_BACKEND_CASES)
def test_cache_keys_with_the_copy_backend(world: CacheWorld, name: str) -> None:
    (case,) = [case for case in load_table(TABLE) if case["name"] == name]
    copy_backend(world.cache)
    run_case(world, case)
    assert (world.cache / "backend").read_text() == "copy\n"
    for key in world.entries():
        assert sorted(os.listdir(world.cache / "steps" / key)) == ["info.json", "root"]


def test_a_failed_step_leaves_no_entry(world: CacheWorld) -> None:
    world.write(world.context, {"Dockerfile": "FROM busybox\nRUN echo before\nRUN exit 3\n"})
    assert world.build().exit_code == 1
    assert len(world.entries()) == 1  # RUN echo before
    assert len(world.entries("bases")) == 1
    world.write(world.context, {"Dockerfile": "FROM busybox\nRUN echo before\nRUN true\n"})
    fixed = world.build()
    assert fixed.exit_code == 0, fixed.stderr
    assert fixed.steps == [
        {"[1/3] FROM busybox": CACHED},
        {"[2/3] RUN echo before": CACHED},
        {"[3/3] RUN true": RAN},
    ]
    assert len(world.entries()) == 2


# --- results served from the cache ---------------------------------------------------------------

RESULTS = """\
FROM busybox
RUN rm /etc/group && mkdir -p /data/sub /data/gone \\
 && echo base > /data/gone/old && echo kept > /data/kept
RUN rm -rf /data/gone && mkdir /data/gone && echo new > /data/gone/new \\
 && echo text > /data/file && chown 65534:65534 /data/file && chmod 4751 /data/file \\
 && ln -s ../file /data/sub/link && ln /data/file /data/hard && mkfifo /data/fifo
RUN mv /data/sub /data/moved && chmod 640 /data/kept && rm /data/fifo
COPY --chmod=600 hello.txt /data/copied
WORKDIR /data/made/by/workdir
"""


def test_a_cached_build_exports_the_same_tree(world: CacheWorld) -> None:
    # Built on the default backend and on the copy backend, each time cold, then warm: four
    # times the same tree (the backends store a step's result in different ways).
    world.write(world.context, {"Dockerfile": RESULTS, "hello.txt": "hello\n"})
    copy_cache = world.base / "copy-cache"
    copy_backend(copy_cache)
    listings = []
    for cache in (world.cache, copy_cache):
        for round_number in (1, 2):
            out = world.base / f"out-{cache.name}-{round_number}"
            built = world.build("--output", f"type=local,dest={out}", cache=cache)
            assert built.exit_code == 0, built.stderr
            assert built.fates == [RAN if round_number == 1 else CACHED] * 6, built.stderr
            listings.append(tree_listing(out))
    assert all(listing == listings[0] for listing in listings[1:])
    second = world.base / "out-cache-2"
    # And the tree is the right one, not only the same one each time.
    listing = listings[1]
    assert "etc/group" not in listing and "etc/passwd" in listing
    assert sorted(p for p in listing if p.startswith("data/gone")) == ["data/gone", "data/gone/new"]
    assert (second / "data" / "kept").read_text() == "kept\n"
    file_info = os.lstat(second / "data" / "file")
    assert (file_info.st_mode & 0o7777, file_info.st_uid, file_info.st_gid) == (
        0o4751,
        65534,
        65534,
    )
    assert os.readlink(second / "data" / "moved" / "link") == "../file"
    assert "data/sub" not in listing and "data/fifo" not in listing
    assert os.lstat(second / "data" / "kept").st_mode & 0o777 == 0o640
    assert listing["data/hard"][-1] == "data/file"  # one inode, two names
    assert os.lstat(second / "data" / "copied").st_mode & 0o7777 == 0o600
    assert (second / "data" / "made" / "by" / "workdir").is_dir()


def test_a_step_on_a_cached_parent_sees_its_files(world: CacheWorld) -> None:
    # The parent comes from the cache; the new step runs on top of it (whiteouts included).
    world.write(world.context, {"Dockerfile": "FROM busybox\nRUN rm /etc/group && echo a > /a\n"})
    assert world.build().exit_code == 0
    world.write(
        world.context,
        {
            "Dockerfile": "FROM busybox\nRUN rm /etc/group && echo a > /a\n"
            "RUN test ! -e /etc/group && cat /a\n"
        },
    )
    after = world.build()
    assert after.exit_code == 0, after.stderr
    assert after.steps[1:] == [
        {"[2/3] RUN rm /etc/group && echo a > /a": CACHED},
        {"[3/3] RUN test ! -e /etc/group && cat /a": RAN},
    ]
    assert "a" in after.logs


# --- builds sharing one cache at once ------------------------------------------------------------

SHARED = "FROM busybox\nRUN echo shared > /shared\nCOPY hello.txt /\n"
CONCURRENT = {
    "same-1": SHARED + "RUN echo one > /which\n",
    "same-2": SHARED + "RUN echo one > /which\n",
    "other": SHARED + "RUN echo other > /which\n",
}


def start_builds(world: CacheWorld, names: list[str]) -> dict[str, subprocess.Popen[str]]:
    env = dict(os.environ, TMPDIR=str(world.temp))
    started = {}
    for name in names:
        started[name] = subprocess.Popen(
            [
                CDI,
                "build",
                *world.command("-f", str(world.context / name), "--output", str(world.base / name)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
    return started


def test_concurrent_builds_share_one_cache(world: CacheWorld) -> None:
    world.write(world.context, {"hello.txt": "hello\n", **CONCURRENT})
    for round_number in (1, 2):
        started = start_builds(world, list(CONCURRENT))
        finished = {name: process.communicate(timeout=300) for name, process in started.items()}
        for name, process in started.items():
            stderr = finished[name][1]
            assert process.returncode == 0, (round_number, name, stderr)
            if round_number == 2:
                outcome = Outcome(process.returncode, stderr, parse_plain(stderr))
                assert outcome.fates == [CACHED] * 4, (name, stderr)
            output = world.base / name
            assert (output / "shared").read_text() == "shared\n"
            assert (output / "hello.txt").read_text() == "hello\n"
            expected = "other\n" if name == "other" else "one\n"
            assert (output / "which").read_text() == expected
            assert not (output / "which").is_symlink()
        world.check_clean()
        assert mounts_under([world.base]) == []
    # Each entry was stored once: the base, RUN echo shared, COPY, and the two last RUNs.
    assert len(world.entries("bases")) == 1
    assert len(world.entries()) == 4


# --- a build stopped by a signal ---------------------------------------------------------------


def remove_leftovers(world: CacheWorld, runc: RuncState) -> None:
    """Take down what a killed build left: its containers, then its mounts."""
    from cdi.build.cache.mounts import unmount

    for container in runc.ids():
        subprocess.run(
            ["runc", "--root", str(runc.root), "delete", "--force", container],
            capture_output=True,
            check=False,
            timeout=30,
        )
    for point in sorted(mounts_under([world.base]), reverse=True):
        unmount(Path(point))


@pytest.mark.parametrize(
    "signal_number",
    [
        pytest.param(signal.SIGINT, id="SIGINT"),
        pytest.param(signal.SIGTERM, id="SIGTERM"),
    ],
)
def test_a_build_stopped_by_a_signal_leaves_nothing(
    world: CacheWorld, runc: RuncState, signal_number: int
) -> None:
    world.write(world.context, {"Dockerfile": "FROM busybox\nRUN echo started && sleep 60\n"})
    process = _start_build(world)
    try:
        assert process.stderr is not None
        for line in process.stderr:  # until the step's container is running
            if line.endswith(" started\n"):
                break
        process.send_signal(signal_number)
        _, rest = process.communicate(timeout=60)
        # Reported as a shell reports a signal, with buildx's line: no traceback.
        assert process.returncode == 128 + signal_number
        assert "Traceback" not in rest
        assert rest.splitlines()[-1] == (
            "ERROR: failed to build: failed to solve: Canceled: context canceled"
        )
        assert runc.ids() == set()
        world.check_clean()
        assert world.entries() == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        remove_leftovers(world, runc)


def test_a_build_waits_for_a_prune_and_says_so(world: CacheWorld) -> None:
    from cdi.build.cache.store import BuildCache

    world.write(world.context, {"Dockerfile": "FROM busybox\nRUN true\n"})
    prune = BuildCache(world.cache).open(exclusive=True)  # as cdi build prune holds it
    process = _start_build(world)
    # A build that never says it waits would block on the lock: killed, it fails the test.
    watchdog = threading.Timer(30, process.kill)
    watchdog.start()
    try:
        assert process.stderr is not None
        said = _lines_until(process.stderr, "WARNING: waiting")
        waiting = f"WARNING: waiting for cdi build prune to finish with {world.cache}\n"
        assert said[-1:] == [waiting]
        prune.close()
        _, rest = process.communicate(timeout=60)
        assert process.returncode == 0, rest
    finally:
        watchdog.cancel()
        prune.close()
        if process.poll() is None:
            process.kill()
            process.wait()
    world.check_clean()


def _start_build(world: CacheWorld) -> subprocess.Popen[str]:
    """``cdi build`` of the world's context in a new process, its stderr to read."""
    return subprocess.Popen(
        [CDI, "build", *world.command()],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, TMPDIR=str(world.temp)),
    )


def _lines_until(stream: Any, prefix: str) -> list[str]:
    """The lines read from *stream* up to the first that starts with *prefix* (or its end)."""
    lines = []
    for line in stream:
        lines.append(line)
        if line.startswith(prefix):
            break
    return lines
