"""The build cache directory: its layout, entries appearing whole, lookups, locks, and where
it lives by default (the table ``tests/vectors/build/cache_dir.yaml``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cdi.build.cache import store
from cdi.build.cache.store import (
    BASES,
    COPY,
    OVERLAY,
    STEPS,
    BuildCache,
    CacheError,
    default_cache_dir,
    disk_usage,
)
from tables import cases

#: An mtime long past, to see a lookup move it.
LONG_AGO = 1_000_000_000


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[BuildCache]:
    """An open cache directory that uses the copy backend (chosen without a mount)."""
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "backend").write_text("copy\n")
    opened = BuildCache(tmp_path / "cache").open()
    yield opened
    opened.close()


def staged_entry(cache: BuildCache, payload: str, files: dict[str, str]) -> Path:
    staged = cache.staging()
    (staged / payload).mkdir()
    for name, text in files.items():
        (staged / payload / name).write_text(text)
    return staged


# --- where it lives ------------------------------------------------------------------------------


@cases("build/cache_dir.yaml")
def test_default_cache_dir(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CDI_BUILD_CACHE", "XDG_CACHE_HOME", "HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in case["env"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(os, "geteuid", lambda: case["euid"])
    assert default_cache_dir() == Path(case["dir"])


# --- layout and backend --------------------------------------------------------------------------


def test_open_makes_the_layout(tmp_path: Path) -> None:
    cache = BuildCache(tmp_path / "new" / "cache").open()
    try:
        assert sorted(os.listdir(cache.path)) == ["backend", "bases", "lock", "steps", "tmp"]
        assert cache.backend in (OVERLAY, COPY)
        assert (cache.path / "backend").read_text() == cache.backend + "\n"
        assert os.listdir(cache.path / "tmp") == []  # the probe is gone
        for name in ("bases", "steps", "tmp"):
            assert os.stat(cache.path / name).st_mode & 0o777 == 0o700
    finally:
        cache.close()


@pytest.mark.parametrize("recorded", [OVERLAY, COPY])
def test_the_recorded_backend_is_kept(tmp_path: Path, recorded: str) -> None:
    (tmp_path / "backend").write_text(recorded + "\n")
    cache = BuildCache(tmp_path).open()
    cache.close()
    assert cache.backend == recorded
    assert cache.payload_name(STEPS) == ("diff" if recorded == OVERLAY else "root")
    assert cache.payload_name(BASES) == "root"


def test_an_unknown_backend_is_chosen_again(tmp_path: Path) -> None:
    (tmp_path / "backend").write_text("zfs\n")
    cache = BuildCache(tmp_path).open()
    cache.close()
    assert cache.backend in (OVERLAY, COPY)
    assert (tmp_path / "backend").read_text() == cache.backend + "\n"


def test_overlay_needs_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "backend").write_text("copy\n")
    cache = BuildCache(tmp_path).open()
    cache.close()
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert cache._overlay_works() is False
    assert os.listdir(tmp_path / "tmp") == []


def test_a_cache_path_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(CacheError) as raised:
        BuildCache(tmp_path / "file").open()
    assert str(raised.value) == f"cannot use the build cache {tmp_path / 'file'}: File exists"


def test_builds_share_the_lock_and_a_prune_takes_it_alone(tmp_path: Path) -> None:
    (tmp_path / "backend").write_text("copy\n")
    first = BuildCache(tmp_path).open()
    second = BuildCache(tmp_path).open(wait=False)  # shared with shared: fine
    with pytest.raises(BlockingIOError):
        BuildCache(tmp_path).open(exclusive=True, wait=False)
    first.close()
    second.close()
    prune = BuildCache(tmp_path).open(exclusive=True, wait=False)
    with pytest.raises(BlockingIOError):
        BuildCache(tmp_path).open(wait=False)
    prune.close()
    BuildCache(tmp_path).open(wait=False).close()


# --- entries -------------------------------------------------------------------------------------


def test_publish_makes_the_entry_whole(cache: BuildCache) -> None:
    staged = staged_entry(cache, "root", {"file": "x" * 5000})
    payload = cache.publish(staged, BASES, "k1", parent=None, description="FROM busybox")
    assert payload == cache.path / "bases" / "k1" / "root"
    assert not staged.exists()
    assert os.listdir(cache.path / "tmp") == []
    assert (payload / "file").read_text() == "x" * 5000
    info = json.loads((cache.path / "bases" / "k1" / "info.json").read_text())
    assert list(info) == ["kind", "key", "parent", "description", "created", "size"]
    assert info["kind"] == "bases" and info["key"] == "k1" and info["parent"] is None
    assert info["description"] == "FROM busybox"
    assert info["size"] == disk_usage(payload) and info["size"] >= 5000
    assert cache.lookup(BASES, "k1") == payload


def test_a_second_publish_of_a_key_keeps_the_first(cache: BuildCache) -> None:
    first = staged_entry(cache, "root", {"file": "first"})
    payload = cache.publish(first, STEPS, "k", parent="bases/b", description="RUN one")
    info_before = (cache.path / "steps" / "k" / "info.json").read_text()
    second = staged_entry(cache, "root", {"file": "second", "more": "more"})
    again = cache.publish(second, STEPS, "k", parent="bases/b", description="RUN one")
    assert again == payload
    assert sorted(os.listdir(payload)) == ["file"]
    assert (payload / "file").read_text() == "first"
    assert (cache.path / "steps" / "k" / "info.json").read_text() == info_before
    assert not second.exists()
    assert os.listdir(cache.path / "tmp") == []


@pytest.mark.parametrize("left", ["payload only", "info.json only"])
def test_a_publish_replaces_a_damaged_entry(cache: BuildCache, left: str) -> None:
    # Someone removed part of an entry: it is never a hit, so the step runs again; its new
    # result must replace the remains, or the step would run on every build.
    entry = cache.path / "steps" / "k"
    if left == "payload only":
        (entry / "root").mkdir(parents=True)
        (entry / "root" / "stale").write_text("stale")
    else:
        entry.mkdir()
        (entry / "info.json").write_text("{}\n")
    staged = staged_entry(cache, "root", {"file": "fresh"})
    payload = cache.publish(staged, STEPS, "k", parent="bases/b", description="RUN x")
    assert sorted(os.listdir(payload)) == ["file"]
    assert cache.lookup(STEPS, "k") == payload
    assert os.listdir(cache.path / "tmp") == []


def test_a_publish_that_cannot_rename_raises(cache: BuildCache) -> None:
    staged = staged_entry(cache, "root", {"file": "x"})
    os.rmdir(cache.path / "steps")
    with pytest.raises(FileNotFoundError):
        cache.publish(staged, STEPS, "k", parent=None, description="RUN x")
    assert staged.exists()  # the caller's to remove, as the snapshots do


def test_lookup_of_a_missing_entry_is_a_miss(cache: BuildCache) -> None:
    assert cache.lookup(STEPS, "absent") is None
    assert cache.lookup(BASES, "absent") is None
    assert not (cache.path / "steps" / "absent").exists()


def test_lookup_of_a_half_entry_is_a_miss(cache: BuildCache) -> None:
    # A payload without its info.json (never made by a publish, which renames both at once).
    (cache.path / "steps" / "half" / "root").mkdir(parents=True)
    assert cache.lookup(STEPS, "half") is None
    # An info.json without its payload.
    (cache.path / "steps" / "nopayload").mkdir()
    (cache.path / "steps" / "nopayload" / "info.json").write_text("{}\n")
    assert cache.lookup(STEPS, "nopayload") is None


def test_lookup_of_another_backends_entry_is_a_miss(tmp_path: Path) -> None:
    (tmp_path / "backend").write_text("overlay\n")
    cache = BuildCache(tmp_path).open()
    cache.close()
    (tmp_path / "steps" / "k" / "root").mkdir(parents=True)
    (tmp_path / "steps" / "k" / "info.json").write_text("{}\n")
    assert cache.lookup(STEPS, "k") is None


def test_a_hit_marks_the_entry_used(cache: BuildCache) -> None:
    staged = staged_entry(cache, "root", {"file": "x"})
    cache.publish(staged, STEPS, "k", parent=None, description="RUN x")
    info = cache.path / "steps" / "k" / "info.json"
    os.utime(info, (LONG_AGO, LONG_AGO))
    assert cache.lookup(STEPS, "k") is not None
    assert os.stat(info).st_mtime > LONG_AGO


def test_touch_marks_the_entry_of_a_payload_used(cache: BuildCache) -> None:
    staged = staged_entry(cache, "root", {})
    payload = cache.publish(staged, BASES, "b", parent=None, description="FROM x")
    info = payload.parent / "info.json"
    os.utime(info, (LONG_AGO, LONG_AGO))
    cache.touch(payload)
    assert os.stat(info).st_mtime > LONG_AGO
    cache.touch(cache.path / "bases" / "gone" / "root")  # an entry pruned meanwhile: no error


def test_staging_gives_a_new_empty_directory_each_time(cache: BuildCache) -> None:
    first, second = cache.staging(), cache.staging()
    assert first != second
    assert first.parent == second.parent == cache.path / "tmp"
    assert os.listdir(first) == os.listdir(second) == []


# Root deletes below any mode: the removal runs as an ordinary user (nobody), on a tree of
# that user's, as a non-root build's copy backend leaves one.
_REMOVE_AS_NOBODY = """
import os, sys
from pathlib import Path
from cdi.build.cache.store import remove_tree  # before: the interpreter is root's to read
os.setgid(65534)
os.setuid(65534)
remove_tree(Path(sys.argv[1]))
"""


def test_remove_tree_removes_what_a_build_made_unwritable(tmp_path: Path) -> None:
    # Under /tmp itself: pytest's own directories are root's alone, closed to nobody.
    base = Path(tempfile.mkdtemp(prefix="cdi-remove-", dir="/tmp"))
    tree = base / "tree"
    locked = tree / "locked"
    locked.mkdir(parents=True)
    (locked / "file").write_text("x")
    if os.geteuid() == 0:
        for path in (base, tree, locked, locked / "file"):
            os.chown(path, 65534, 65534)
        os.chmod(locked, 0)
        command = [sys.executable, "-c", _REMOVE_AS_NOBODY, str(tree)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
    else:
        os.chmod(locked, 0)
        store.remove_tree(tree)
    assert not tree.exists()
    os.rmdir(base)


def test_disk_usage_counts_allocated_blocks(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * 65536)
    (tmp_path / "link").symlink_to("/nonexistent/far/away")
    assert disk_usage(tmp_path) >= 65536
    assert disk_usage(tmp_path / "absent") == 0


def test_a_backend_recorded_meanwhile_by_another_build_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def another_build_records_overlay_first(self: BuildCache) -> bool:
        (tmp_path / "backend").write_text("overlay\n")
        return False  # this build would choose copy

    monkeypatch.setattr(BuildCache, "_overlay_works", another_build_records_overlay_first)
    cache = BuildCache(tmp_path).open()
    cache.close()
    # Both builds must use the same backend, or each misses (and fails on) the other's entries.
    assert (tmp_path / "backend").read_text() == "overlay\n"
    assert cache.backend == OVERLAY
