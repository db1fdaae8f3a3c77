"""``cdi build prune``: which cache entries go, and that exactly those go.

Caches are made with the store's own API (staged, published, then dated with ``os.utime`` on
their ``info.json``) and pruned through the real command line. The vectors in
``tests/vectors/build/prune.yaml`` hold the parsing of durations and sizes and the choice of
entries; the tests here hold what happens on disk.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from buildtools import write_tree
from click.testing import CliRunner

from cdi.build.cache.prune import prune
from cdi.build.cache.selection import Entry, select
from cdi.build.cache.store import BASES, COPY, INFO, OVERLAY, STEPS, BuildCache, CacheError
from cdi.build.cache.units import UnitError, human_size, parse_duration, parse_size
from cdi.cli.main import main
from tables import load_table

TABLE = load_table("build/prune.yaml")
NOW = 1_000_000.0
HOUR = 3600.0


def _cases(key: str) -> Any:
    chosen = [case for case in TABLE if key in case]
    return pytest.mark.parametrize("case", chosen, ids=[case["name"] for case in chosen])


# --- vectors ----------------------------------------------------------------------------------


@_cases("duration")
def test_duration(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(UnitError) as raised:
            parse_duration(case["duration"])
        assert str(raised.value) == case["error"]
    else:
        assert parse_duration(case["duration"]) == pytest.approx(case["seconds"])


@_cases("size")
def test_size(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(UnitError) as raised:
            parse_size(case["size"])
        assert str(raised.value) == case["error"]
    else:
        assert parse_size(case["size"]) == case["bytes"]


@_cases("human")
def test_human_size(case: dict[str, Any]) -> None:
    assert human_size(case["human"]) == case["text"]


@_cases("select")
def test_selection(case: dict[str, Any]) -> None:
    spec = case["select"]
    entries = []
    for item in spec["entries"]:
        kind, _, key = item["name"].partition("/")
        entries.append(
            Entry(
                kind=kind,
                key=key,
                parent=item.get("parent"),
                description=f"made {key}",
                last_used=NOW - item["age"],
                size=item["size"],
                problem="no info.json" if item.get("damaged") else None,
            )
        )
    duration, storage = spec.get("keep_duration"), spec.get("keep_storage")
    removals = select(
        entries,
        now=NOW,
        keep_duration=None if duration is None else parse_duration(duration),
        keep_storage=None if storage is None else parse_size(storage),
        stacked=spec["backend"] == OVERLAY,
    )
    assert [[removal.entry.name, removal.reason] for removal in removals] == case["removed"]


def test_command_line_errors_are_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    cache = tmp_path / "cache"
    for option, value, message in [
        ("--keep-duration", "7d", "invalid duration '7d': unknown unit 'd'"),
        ("--keep-storage", "lots", "invalid size 'lots': expected a number of bytes"),
    ]:
        result = runner.invoke(
            main, ["build", "prune", "--cache-dir", str(cache), option, value], prog_name="cdi"
        )
        assert result.exit_code == 2
        assert f"Error: Invalid value for '{option}': {message}" in result.stderr
        assert "Usage: cdi build prune [OPTIONS]" in result.stderr
    assert not cache.exists()


# --- real caches ------------------------------------------------------------------------------


class CacheMaker:
    """Makes entries in a cache directory with the store's API."""

    def __init__(self, path: Path, backend: str) -> None:
        path.mkdir(parents=True)
        (path / "backend").write_text(backend + "\n")  # chosen once, as a build would
        self.path = path
        self.cache = BuildCache(path).open()
        assert self.cache.backend == backend

    def add(
        self,
        kind: str,
        key: str,
        *,
        age: float,
        size: int,
        parent: str | None = None,
        description: str = "",
    ) -> Path:
        """Publish entry *kind*/*key* with a payload file, recorded as *size* bytes and last
        used *age* seconds ago."""
        staged = self.cache.staging()
        payload = staged / self.cache.payload_name(kind)
        write_tree(payload, {f"{key}.txt": f"payload of {key}\n"})
        self.cache.publish(
            staged, kind, key, parent=parent, description=description or f"RUN make {key}"
        )
        info_path = self.path / kind / key / INFO
        info = json.loads(info_path.read_text())
        info["size"] = size  # sizes on disk depend on the file system; the test's do not
        info_path.write_text(json.dumps(info))
        used = time.time() - age
        os.utime(info_path, (used, used))
        return self.path / kind / key

    def close(self) -> None:
        self.cache.close()

    def names(self) -> set[str]:
        """The entries there now (kind/key), and what is in tmp/ (tmp/NAME)."""
        return {
            f"{kind}/{name}"
            for kind in (BASES, STEPS, "tmp")
            for name in os.listdir(self.path / kind)
        }


@pytest.fixture
def overlay_cache(tmp_path: Path) -> Iterator[CacheMaker]:
    maker = CacheMaker(tmp_path / "cache", OVERLAY)
    yield maker
    maker.close()


@pytest.fixture
def copy_cache(tmp_path: Path) -> Iterator[CacheMaker]:
    maker = CacheMaker(tmp_path / "cache", COPY)
    yield maker
    maker.close()


def _prune(maker: CacheMaker, *args: str) -> Any:
    maker.close()  # a build is done with the cache before the prune
    return CliRunner().invoke(main, ["build", "prune", "--cache-dir", str(maker.path), *args])


def _chain(maker: CacheMaker) -> None:
    """A base with two steps on it (one on the other) and a second, recent, branch."""
    maker.add(BASES, "b" * 64, age=5 * HOUR, size=4096, description="FROM busybox")
    maker.add(STEPS, "1" * 64, age=5 * HOUR, size=1000, parent=f"bases/{'b' * 64}")
    maker.add(STEPS, "2" * 64, age=4 * HOUR, size=2000, parent=f"steps/{'1' * 64}")
    maker.add(STEPS, "3" * 64, age=60, size=3000, parent=f"bases/{'b' * 64}")


def test_everything_goes_without_keep_options(overlay_cache: CacheMaker) -> None:
    _chain(overlay_cache)
    result = _prune(overlay_cache)
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        f"steps/222222222222  2kB      RUN make {'2' * 64}\n"
        f"steps/111111111111  1kB      RUN make {'1' * 64}\n"
        f"steps/333333333333  3kB      RUN make {'3' * 64}\n"
        "bases/bbbbbbbbbbbb  4.096kB  FROM busybox\n"
        "Total: 10.1kB\n"
    )
    assert overlay_cache.names() == set()
    # The cache itself stays usable: its backend and lock are still there.
    assert sorted(os.listdir(overlay_cache.path)) == ["backend", "bases", "lock", "steps", "tmp"]


def test_keep_duration_keeps_what_was_used_within_it(overlay_cache: CacheMaker) -> None:
    _chain(overlay_cache)
    result = _prune(overlay_cache, "--keep-duration", "3h")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "Total: 3kB"
    # The old branch goes; the base stays, since the recent step stacks on it.
    assert overlay_cache.names() == {f"bases/{'b' * 64}", f"steps/{'3' * 64}"}


def test_overlay_removing_a_base_removes_what_stacks_on_it(overlay_cache: CacheMaker) -> None:
    _chain(overlay_cache)
    overlay_cache.add(BASES, "c" * 64, age=10, size=500, description="FROM alpine")
    result = _prune(overlay_cache, "--keep-storage", "1kB")
    assert result.exit_code == 0
    assert overlay_cache.names() == {f"bases/{'c' * 64}"}
    assert result.stdout.splitlines()[-1] == "Total: 10.1kB"


def test_copy_backend_removes_only_what_was_chosen(copy_cache: CacheMaker) -> None:
    _chain(copy_cache)
    result = _prune(copy_cache, "--keep-duration", "4h30m")
    assert result.exit_code == 0
    # Whole trees: the steps outlive the base and the step they were made on.
    assert copy_cache.names() == {f"steps/{'2' * 64}", f"steps/{'3' * 64}"}


def test_keep_storage_removes_least_recently_used(copy_cache: CacheMaker) -> None:
    for number, age in enumerate([400, 300, 200, 100]):
        copy_cache.add(BASES, f"{number}" * 64, age=age, size=1000)
    result = _prune(copy_cache, "--keep-storage", "2.5kB")
    assert result.exit_code == 0
    assert copy_cache.names() == {f"bases/{'2' * 64}", f"bases/{'3' * 64}"}


def test_leftovers_and_damaged_entries_go(copy_cache: CacheMaker) -> None:
    copy_cache.add(BASES, "a" * 64, age=10, size=100)
    leftover = copy_cache.cache.staging()
    write_tree(leftover / "root", {"big": "x" * 10000})
    damaged = copy_cache.path / STEPS / ("d" * 64)
    write_tree(damaged / "root", {"file": "no info.json\n"})
    garbled = copy_cache.path / STEPS / ("e" * 64)
    write_tree(garbled, {INFO: "{not json", "root/file": "x\n"})
    dry = json.loads(_prune(copy_cache, "-o", "json", "--dry-run", "--keep-duration", "1h").stdout)
    assert [item["reason"] for item in dry["removed"]] == ["leftover", "damaged", "damaged"]
    assert dry["total"] >= 10000  # leftovers are measured: at least the big file's blocks
    result = _prune(copy_cache, "--keep-duration", "1h")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"tmp/{leftover.name[:12]}")
    assert lines[0].endswith("(left by an interrupted build)")
    assert lines[1].startswith("steps/dddddddddddd")
    assert lines[1].endswith("(damaged: no info.json)")
    assert lines[2].startswith("steps/eeeeeeeeeeee")
    assert "(damaged: invalid info.json: " in lines[2]
    assert len(lines) == 4
    assert copy_cache.names() == {f"bases/{'a' * 64}"}


def test_odd_things_in_the_cache_go_without_following_links(
    copy_cache: CacheMaker, tmp_path: Path
) -> None:
    outside = write_tree(tmp_path / "outside", {"precious": "not the cache's\n"})
    (copy_cache.path / STEPS / "junk").write_text("a file where an entry should be\n")
    (copy_cache.path / BASES / "link").symlink_to(outside, target_is_directory=True)
    result = _prune(copy_cache, "--keep-duration", "1h")
    assert (result.exit_code, result.stderr) == (0, "")
    assert [line.split()[0] for line in result.stdout.splitlines()] == [
        "bases/link",
        "steps/junk",
        "Total:",
    ]
    assert "(damaged: not a directory)" in result.stdout
    assert copy_cache.names() == set()
    assert (outside / "precious").read_text() == "not the cache's\n"


def test_dry_run_removes_nothing(overlay_cache: CacheMaker) -> None:
    _chain(overlay_cache)
    before = overlay_cache.names()
    result = _prune(overlay_cache, "--dry-run", "--keep-duration", "3h")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "Total: 3kB (dry run: nothing was removed)"
    assert len(result.stdout.splitlines()) == 3
    assert overlay_cache.names() == before


def test_json_output(overlay_cache: CacheMaker) -> None:
    _chain(overlay_cache)
    result = _prune(overlay_cache, "-o", "json", "--keep-duration", "3h")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert set(document) == {"cache", "backend", "dry_run", "removed", "total", "errors"}
    assert document["cache"] == str(overlay_cache.path)
    assert (document["backend"], document["dry_run"], document["total"]) == ("overlay", False, 3000)
    assert document["errors"] == []
    first = document["removed"][0]
    assert set(first) == {
        "name",
        "kind",
        "key",
        "parent",
        "description",
        "last_used",
        "size",
        "reason",
    }
    assert [(item["name"], item["reason"], item["size"]) for item in document["removed"]] == [
        (f"steps/{'2' * 64}", "age", 2000),
        (f"steps/{'1' * 64}", "age", 1000),
    ]
    assert first["parent"] == f"steps/{'1' * 64}"
    assert first["key"] == "2" * 64
    assert time.time() - first["last_used"] == pytest.approx(4 * HOUR, abs=60)


def test_global_output_option_applies(overlay_cache: CacheMaker) -> None:
    overlay_cache.close()
    result = CliRunner().invoke(
        main, ["-o", "json", "build", "prune", "--cache-dir", str(overlay_cache.path)]
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["removed"] == []


def test_missing_cache_is_not_created(tmp_path: Path) -> None:
    cache = tmp_path / "nowhere"
    result = CliRunner().invoke(main, ["build", "prune", "--cache-dir", str(cache)])
    assert (result.exit_code, result.stdout, result.stderr) == (0, "Total: 0B\n", "")
    assert not cache.exists()


def test_default_cache_dir_is_the_environments(build_cache_dir: Path) -> None:
    maker = CacheMaker(build_cache_dir, COPY)
    maker.add(BASES, "a" * 64, age=10, size=100)
    maker.close()
    result = CliRunner().invoke(main, ["build", "prune"])
    assert result.exit_code == 0
    assert maker.names() == set()


def test_a_directory_that_is_not_a_cache_is_refused(tmp_path: Path) -> None:
    # Pointing --cache-dir at /, say, must not empty /tmp as if it held leftovers.
    other = write_tree(tmp_path / "home", {"tmp/precious": "keep me\n", "notes": "x\n"})
    result = CliRunner().invoke(main, ["build", "prune", "--cache-dir", str(other)])
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"Error: {other} is not a build cache (it has no lock file): not pruning it\n"
    )
    assert (other / "tmp" / "precious").read_text() == "keep me\n"
    assert sorted(os.listdir(other)) == ["notes", "tmp"]


def test_an_empty_directory_is_an_empty_cache(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(main, ["build", "prune", "--cache-dir", str(empty)])
    assert (result.exit_code, result.stdout) == (0, "Total: 0B\n")
    assert os.listdir(empty) == []


def test_a_cache_that_is_a_file_is_one_error_line(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    result = CliRunner().invoke(main, ["build", "prune", "--cache-dir", str(path)])
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"Error: cannot use the build cache {path}: Not a directory\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount")
def test_a_mount_point_in_an_entry_keeps_it_and_what_it_stacks_on(
    overlay_cache: CacheMaker,
) -> None:
    _chain(overlay_cache)
    overlay_cache.add(BASES, "f" * 64, age=10, size=1)
    busy = overlay_cache.path / STEPS / ("2" * 64) / "diff" / "mnt"
    busy.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(busy)], check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        (busy / "not-ours").write_text("files of another file system\n")
        result = _prune(overlay_cache)
        assert (busy / "not-ours").exists()  # nothing below the mount point was deleted
    finally:
        subprocess.run(["umount", str(busy)], check=True)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: cannot remove steps/{'2' * 64}: {busy} is a mount point (unmount it first)\n"
        f"Error: cannot remove steps/{'1' * 64}: steps/{'2' * 64}, stacked on it, could not "
        "be removed\n"
        f"Error: cannot remove bases/{'b' * 64}: steps/{'1' * 64}, stacked on it, could not "
        "be removed\n"
    )
    # The rest went, and the total counts only that.
    assert overlay_cache.names() == {f"steps/{'2' * 64}", f"steps/{'1' * 64}", f"bases/{'b' * 64}"}
    assert result.stdout.splitlines() == [
        f"steps/333333333333  3kB  RUN make {'3' * 64}",
        f"bases/ffffffffffff  1B   RUN make {'f' * 64}",
        "Total: 3.001kB",
    ]


# --- the lock -----------------------------------------------------------------------------------


def _hold_shared(path: Path) -> int:
    """A build's hold on the cache: the lock file, locked shared (released by closing)."""
    fd = os.open(path / "lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def test_prune_waits_for_builds(copy_cache: CacheMaker) -> None:
    copy_cache.add(BASES, "a" * 64, age=10, size=100)
    copy_cache.close()
    holder = _hold_shared(copy_cache.path)
    calls = []

    def build_finishes() -> None:
        calls.append(copy_cache.names())  # nothing removed while the build holds the cache
        os.close(holder)

    result = prune(copy_cache.path, on_wait=build_finishes)
    assert calls == [{f"bases/{'a' * 64}"}]
    assert [removal.entry.name for removal in result.removed] == [f"bases/{'a' * 64}"]
    assert copy_cache.names() == set()


def test_no_wait_message_when_the_cache_is_free(copy_cache: CacheMaker) -> None:
    copy_cache.close()
    calls: list[None] = []
    prune(copy_cache.path, on_wait=lambda: calls.append(None))
    assert calls == []


def test_console_script_says_it_waits(copy_cache: CacheMaker) -> None:
    copy_cache.add(BASES, "a" * 64, age=10, size=100)
    copy_cache.close()
    holder = _hold_shared(copy_cache.path)
    script = Path(sys.executable).parent / "cdi"
    process = subprocess.Popen(
        [str(script), "build", "prune", "--cache-dir", str(copy_cache.path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()  # returns once prune has found the cache busy
        assert line == (
            f"waiting for the builds using the build cache {copy_cache.path} to finish\n"
        )
        assert copy_cache.names() == {f"bases/{'a' * 64}"}
    finally:
        os.close(holder)
    stdout, stderr = process.communicate(timeout=60)
    assert (process.returncode, stderr) == (0, "")
    assert stdout == f"bases/aaaaaaaaaaaa  100B  RUN make {'a' * 64}\nTotal: 100B\n"
    assert copy_cache.names() == set()


def test_library_errors_are_cache_errors(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(CacheError, match="Not a directory"):
        prune(tmp_path / "file")


# --- dispatch -----------------------------------------------------------------------------------


def test_build_dot_slash_prune_builds_a_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(tmp_path / "prune", {"Dockerfile": "FROM scratch\n"})
    monkeypatch.chdir(tmp_path)
    built = CliRunner().invoke(main, ["build", "--progress", "plain", "./prune"])
    assert built.exit_code == 0, built.stderr
    assert "#3 [1/1] FROM scratch\n" in built.stderr
    # With the directory there, "prune" alone is still the command: it lists what the
    # build left in the cache.
    pruned = CliRunner().invoke(main, ["build", "prune", "--dry-run"])
    assert pruned.exit_code == 0
    lines = pruned.stdout.splitlines()
    assert [line.split()[-1] for line in lines[:-1]] == ["scratch"]
    assert lines[-1].endswith("(dry run: nothing was removed)")


def test_build_help_mentions_prune() -> None:
    result = CliRunner().invoke(main, ["build", "--help"])
    assert result.exit_code == 0
    assert "cdi build prune" in " ".join(result.stdout.split())
    usage = CliRunner().invoke(main, ["build", "prune", "--help"], prog_name="cdi")
    assert usage.stdout.startswith("Usage: cdi build prune [OPTIONS]\n")


def test_build_help_does_not_import_prune() -> None:
    code = (
        "import sys\nfrom cdi.cli.main import main\n"
        "main(['build', '--help'], standalone_mode=False)\n"
        "print('PRUNE' if 'cdi.build.cache.prune' in sys.modules else 'LEAN', file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stderr.strip().splitlines()[-1] == "LEAN"


# --- with real builds -----------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.usefixtures("require_runtime")
@pytest.mark.parametrize("backend", [OVERLAY, COPY])
def test_build_prune_build_runs_the_step_again(
    backend: str, busybox_rootfs: Path, tmp_path: Path
) -> None:
    context = write_tree(
        tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo step-ran > /made\n"}
    )
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "backend").write_text(backend + "\n")
    runner = CliRunner()
    build = [
        "build",
        "--build-context",
        f"busybox={busybox_rootfs}",
        "--progress",
        "plain",
        "--cache-dir",
        str(cache),
        str(context),
    ]
    first = runner.invoke(main, build)
    assert first.exit_code == 0, first.stderr
    assert "#4 CACHED" not in first.stderr
    again = runner.invoke(main, build)
    assert again.exit_code == 0, again.stderr
    assert "#4 CACHED" in again.stderr  # what the prune is to undo
    pruned = runner.invoke(main, ["build", "prune", "--cache-dir", str(cache)])
    assert pruned.exit_code == 0, pruned.stderr
    removed = [line.split()[0].split("/")[0] for line in pruned.stdout.splitlines()[:-1]]
    assert sorted(removed) == ["bases", "steps"]
    assert "RUN echo step-ran > /made" in pruned.stdout
    third = runner.invoke(main, build)
    assert third.exit_code == 0, third.stderr
    assert "#4 [2/2] RUN echo step-ran > /made\n" in third.stderr
    assert "#4 CACHED" not in third.stderr
    assert "#3 CACHED" not in third.stderr  # the base was unpacked again too
