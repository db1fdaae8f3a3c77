"""cdi.atomicfile: whole files or none, and nothing left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cdi.atomicfile import replacing


def test_replaces_the_target_with_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.tar"
    target.write_bytes(b"old")
    with replacing(target, 0o644) as handle:
        handle.write(b"new")
        assert target.read_bytes() == b"old"  # readers see the old file until the end
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o644
    assert os.listdir(tmp_path) == ["out.tar"]


def test_a_failure_leaves_the_target_and_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "out.tar"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), replacing(target) as handle:
        handle.write(b"half")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.tar"]


def test_two_writers_of_one_target_use_their_own_files(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with replacing(target) as first, replacing(target) as second:
        first.write(b"first")
        second.write(b"second")
        assert len(os.listdir(tmp_path)) == 2
    assert target.read_bytes() == b"first"  # the outer block ends last
    assert os.listdir(tmp_path) == ["out"]
