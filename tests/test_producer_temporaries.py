"""Temporary files of killed writers: ignored by readers, removed by a later write.

A writer is killed (SIGKILL) in the middle of ``cdi.write_spec`` by a child process that
blocks between writing its temporary file and renaming it; the test waits for the child to
say so, never for time to pass. Files are aged with ``os.utime``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import cdi
from cdi import producer

SPEC = (
    "cdiVersion: 0.3.0\nkind: vendor.com/device\n"
    "devices:\n- {name: d, containerEdits: {env: [A=1]}}\n"
)
OTHER = SPEC.replace("vendor.com", "other.com")

# Blocks in the fsync of the temporary file (written, not yet renamed) until killed.
_CHILD = textwrap.dedent(
    """
    import os, sys
    import cdi

    def stall(fd):
        sys.stdout.write("in the middle\\n")
        sys.stdout.flush()
        sys.stdin.read()
        raise SystemExit("not killed")

    os.fsync = stall
    cdi.write_spec(cdi.parse_spec(sys.argv[2]), sys.argv[1], "vendor.yaml")
    """
)


def killed_writer(directory: Path) -> Path:
    """Kill a writer in the middle of a write into *directory*; the temporary it left."""
    before = set(os.listdir(directory)) if directory.exists() else set()
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(directory), SPEC],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "in the middle\n"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
        if child.stdin is not None:
            child.stdin.close()
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    left = set(os.listdir(directory)) - before
    assert len(left) == 1, left
    return directory / left.pop()


def age(path: Path, seconds: float = producer.STALE_TEMPORARY_SECONDS + 60) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def test_a_killed_writer_leaves_one_of_our_temporaries(tmp_path: Path) -> None:
    left = killed_writer(tmp_path)
    assert producer.is_temporary_name(left.name)
    assert left.name.startswith(".cdi-spec.") and left.name.endswith(".tmp")
    assert not (tmp_path / "vendor.yaml").exists()


def test_readers_ignore_it(tmp_path: Path) -> None:
    killed_writer(tmp_path)
    for auto_refresh in (False, True):
        with cdi.Registry([tmp_path], auto_refresh=auto_refresh) as registry:
            assert registry.list_devices() == []
            assert registry.specs() == []
            assert registry.errors() == {}


def test_the_next_write_removes_it_once_stale(tmp_path: Path) -> None:
    stale = killed_writer(tmp_path)
    fresh = killed_writer(tmp_path)  # might be a writer still at work: left alone
    age(stale)
    cdi.write_spec(cdi.parse_spec(OTHER), tmp_path, "other.yaml")
    assert sorted(os.listdir(tmp_path)) == sorted(["other.yaml", fresh.name])
    age(fresh)
    with cdi.Registry([tmp_path], auto_refresh=True) as registry:
        registry.write_spec(cdi.parse_spec(SPEC), "vendor.yaml")
        assert sorted(os.listdir(tmp_path)) == ["other.yaml", "vendor.yaml"]
        assert registry.list_devices() == ["other.com/device=d", "vendor.com/device=d"]


def test_only_our_stale_regular_files_are_removed(tmp_path: Path) -> None:
    spec_dir = tmp_path / "specs"
    spec_dir.mkdir()
    ours = spec_dir / ".cdi-spec.123.0123456789abcdef.tmp"
    outside = tmp_path / "outside"
    not_ours = [
        "spec.123456.tmp",  # the reference's temporary files
        ".cdi-spec.123.0123456789ABCDEF.tmp",
        ".cdi-spec.123.0123456789abcde.tmp",
        ".cdi-spec.x.0123456789abcdef.tmp",
        "x.cdi-spec.123.0123456789abcdef.tmp",
        ".cdi-spec.123.0123456789abcdef.tmp~",
        "notes.txt",
    ]
    for name in [ours.name, *not_ours]:
        (spec_dir / name).write_text("x")
        age(spec_dir / name)
    directory = spec_dir / ".cdi-spec.1.aaaaaaaaaaaaaaaa.tmp"
    directory.mkdir()
    age(directory)
    outside.write_text("x")
    age(outside)
    link = spec_dir / ".cdi-spec.2.bbbbbbbbbbbbbbbb.tmp"
    link.symlink_to(outside)
    age(link)

    cdi.write_spec(cdi.parse_spec(SPEC), spec_dir)
    assert sorted(os.listdir(spec_dir)) == sorted(
        [*not_ours, directory.name, link.name, "vendor.com-device.yaml"]
    )
    assert outside.read_text() == "x"


def test_cleanup_problems_never_fail_the_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = tmp_path / ".cdi-spec.9.0123456789abcdef.tmp"
    stale.write_text("x")
    age(stale)
    real_unlink = os.unlink

    def refusing(path: str | os.PathLike[str], *args: object, **kwargs: object) -> None:
        if os.fspath(path) == str(stale):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        real_unlink(path)

    monkeypatch.setattr(os, "unlink", refusing)
    path = cdi.write_spec(cdi.parse_spec(SPEC), tmp_path)
    assert Path(path).exists()
    assert stale.exists()
    assert producer.remove_stale_temporaries(tmp_path / "missing") == []


def test_a_write_leaves_no_temporary_behind(tmp_path: Path) -> None:
    cdi.write_spec(cdi.parse_spec(SPEC), tmp_path, "a.yaml")
    with pytest.raises(cdi.CDIError):
        producer.write_spec(cdi.parse_spec(SPEC), tmp_path, "a.yaml", overwrite=False)
    assert os.listdir(tmp_path) == ["a.yaml"]


def test_a_writer_stalled_past_the_threshold_fails_instead_of_installing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync

    def stalled_then_cleaned_up(fd: int) -> None:
        # While this writer hangs, its file ages and another write cleans it up.
        for name in os.listdir(tmp_path):
            if producer.is_temporary_name(name):
                age(tmp_path / name)
        monkeypatch.setattr(os, "fsync", real_fsync)
        cdi.write_spec(cdi.parse_spec(OTHER), tmp_path, "other.yaml")

    monkeypatch.setattr(os, "fsync", stalled_then_cleaned_up)
    with pytest.raises(cdi.SpecWriteError, match=r"^rename failed: rename .*/vendor\.yaml: "):
        cdi.write_spec(cdi.parse_spec(SPEC), tmp_path, "vendor.yaml")
    assert os.listdir(tmp_path) == ["other.yaml"]
