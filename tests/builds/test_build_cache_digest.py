"""Content digests of trees (``tree_digest``): what changes them and what does not.

The table ``tests/vectors/build/tree_digest.yaml`` builds a tree, changes a copy of it, and
says whether the two digests differ.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from cdi.build.cache.digest import tree_digest
from tables import cases

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="sets file owners (needs root)")


def apply(root: Path, entries: list[dict[str, Any]]) -> None:
    """Make *entries* (the table's entry mappings) under *root*, in order."""
    for entry in entries:
        path = root / entry["path"]
        if "touch" in entry:
            info = os.lstat(path)
            moved = info.st_mtime_ns + int(entry["touch"]) * 10**9
            os.utime(path, ns=(moved, moved), follow_symlinks=False)
            continue
        if path.is_symlink() or (path.exists() and not ("dir" in entry and path.is_dir())):
            if path.is_dir() and not path.is_symlink():
                raise AssertionError(f"{entry}: only a dir entry may replace a directory")
            path.unlink()
        if entry.get("remove"):
            continue
        if "file" in entry:
            path.write_text(entry["file"], encoding="utf-8")
        elif "dir" in entry:
            path.mkdir(exist_ok=True)
        elif "link" in entry:
            path.symlink_to(entry["link"])
        elif "hardlink" in entry:
            os.link(root / entry["hardlink"], path)
        elif "fifo" in entry:
            os.mkfifo(path)
        else:
            raise AssertionError(f"{entry}: what is it?")
        if "mode" in entry:
            os.chmod(path, int(entry["mode"], 8))
        if "owner" in entry:
            uid, _, gid = entry["owner"].partition(":")
            os.chown(path, int(uid), int(gid))
        for name, value in entry.get("xattrs", {}).items():
            os.setxattr(path, name, value.encode())


def case_needs_root(case: dict[str, Any]) -> bool:
    return any("owner" in entry for entry in case["tree"] + case["change"])


@cases("build/tree_digest.yaml")
def test_tree_digest(case: dict[str, Any], tmp_path: Path) -> None:
    if case_needs_root(case) and os.geteuid() != 0:
        pytest.skip("sets file owners (needs root)")
    before, after = tmp_path / "before", tmp_path / "after"
    for root in (before, after):
        root.mkdir()
        os.chmod(root, 0o755)
        apply(root, case["tree"])
    apply(after, case["change"])
    excluded = set(case.get("exclude", []))
    asked: list[tuple[str, bool]] = []

    def exclude(relative: str, is_dir: bool) -> bool:
        asked.append((relative, is_dir))
        return relative in excluded

    owners = case.get("owners", True)
    digests = [tree_digest(root, "", exclude=exclude, owners=owners) for root in (before, after)]
    assert case["digest"] in ("same", "differs")
    assert (digests[0] == digests[1]) == (case["digest"] == "same")
    # The walk asked about every excluded path it met, and about nothing below one.
    for path in excluded:
        assert not any(relative.startswith(path + "/") for relative, _ in asked), path


def test_digest_is_a_sha256_hex_digest(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("text")
    digest = tree_digest(tmp_path, "")
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert tree_digest(tmp_path, "") == digest  # stable


def test_exclude_is_told_whether_an_entry_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "file").write_text("text")
    (tmp_path / "link").symlink_to("sub")
    asked: list[tuple[str, bool]] = []

    def exclude(path: str, is_dir: bool) -> bool:
        asked.append((path, is_dir))
        return False

    tree_digest(tmp_path, "", exclude=exclude)
    # Paths relative to the source root; a link to a directory is not one.
    assert sorted(asked) == [("link", False), ("sub", True), ("sub/file", False)]


def test_relative_is_where_exclude_paths_start(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("text")
    asked: list[str] = []

    def exclude(path: str, _is_dir: bool) -> bool:
        asked.append(path)
        return False

    tree_digest(tmp_path, "src/dir", exclude=exclude)
    assert asked == ["src/dir/file"]


@needs_root
def test_device_numbers_are_in_the_digest(tmp_path: Path) -> None:
    import stat

    digests = []
    for minor in (3, 5):
        root = tmp_path / str(minor)
        root.mkdir()
        os.mknod(root / "node", 0o666 | stat.S_IFCHR, os.makedev(1, minor))
        os.chmod(root, 0o755)
        digests.append(tree_digest(root, ""))
    assert digests[0] != digests[1]
