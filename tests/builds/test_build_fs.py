"""Paths inside a root never lead outside it: resolution, copying, layers, .dockerignore."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from cdi.build.errors import SourceError
from cdi.build.fs import CopyOptions, Owner, PathEscapeError, Root, clean_relative, copy_entry
from cdi.build.ignore import IgnoreMatcher
from cdi.build.layers import apply_layer

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="copies set owners (needs root)")


@pytest.fixture
def root(tmp_path: Path) -> Root:
    (tmp_path / "root" / "etc").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    return Root(tmp_path / "root")


def test_dotdot_stays_at_root(root: Root) -> None:
    assert root.resolve("../../../etc/passwd") == root.path / "etc" / "passwd"
    assert root.resolve("/a/../../b") == root.path / "b"


def test_absolute_link_is_rooted(root: Root, tmp_path: Path) -> None:
    (root.path / "host").symlink_to(tmp_path / "outside")
    resolved = root.resolve("/host/file")
    assert resolved == root.path.joinpath(*(tmp_path / "outside").parts[1:], "file")
    assert str(resolved).startswith(str(root.path))


def test_relative_link_cannot_climb_out(root: Root) -> None:
    (root.path / "up").symlink_to("../../../../..")
    assert root.resolve("/up/etc") == root.path / "etc"


def test_final_link_kept_on_request(root: Root) -> None:
    (root.path / "link").symlink_to("/etc")
    assert root.resolve("/link") == root.path / "etc"
    assert root.resolve("/link", follow_final=False) == root.path / "link"


def test_link_loop_is_an_error(root: Root) -> None:
    (root.path / "a").symlink_to("b")
    (root.path / "b").symlink_to("a")
    with pytest.raises(PathEscapeError, match="too many levels"):
        root.resolve("/a/x")


def test_clean_relative() -> None:
    assert clean_relative("/a/../b/") == "b"
    assert clean_relative("../../x") == "x"
    assert clean_relative("") == "."


@needs_root
def test_copy_through_planted_link_stays_inside(root: Root, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (root.path / "dst").symlink_to(outside)  # an absolute link planted in the image
    source = tmp_path / "src.txt"
    source.write_text("data")
    copy_entry(source, root, "/dst/file.txt", CopyOptions(owner=Owner(0, 0)))
    assert not (outside / "file.txt").exists()
    inside = root.path.joinpath(*outside.parts[1:], "file.txt")
    assert inside.read_text() == "data"


@needs_root
def test_copy_replaces_final_link_instead_of_writing_through(root: Root, tmp_path: Path) -> None:
    victim = tmp_path / "outside" / "victim"
    victim.write_text("keep")
    (root.path / "etc" / "conf").symlink_to(victim)
    source = tmp_path / "new"
    source.write_text("new")
    copy_entry(source, root, "/etc/conf", CopyOptions(owner=Owner(0, 0)))
    assert victim.read_text() == "keep"
    assert not (root.path / "etc" / "conf").is_symlink()
    assert (root.path / "etc" / "conf").read_text() == "new"


@needs_root
def test_copy_keeps_links_as_links_and_hardlinks(root: Root, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "f").write_text("x")
    os.link(tree / "sub" / "f", tree / "hard")
    (tree / "escape").symlink_to("/etc/shadow")
    os.chmod(tree / "sub" / "f", 0o640)
    count = copy_entry(tree, root, "/t", CopyOptions(), contents_only=True)
    assert count == 4
    assert os.readlink(root.path / "t" / "escape") == "/etc/shadow"
    assert os.stat(root.path / "t" / "hard").st_ino == os.stat(root.path / "t" / "sub" / "f").st_ino
    assert (os.stat(root.path / "t" / "sub" / "f").st_mode & 0o777) == 0o640


@needs_root
def test_copy_mode_and_owner_override(root: Root, tmp_path: Path) -> None:
    source = tmp_path / "s"
    source.write_text("x")
    copy_entry(source, root, "/a/b/s", CopyOptions(owner=Owner(12, 34), mode=0o600))
    info = os.stat(root.path / "a" / "b" / "s")
    assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (12, 34, 0o600)
    # Missing parents get the same owner, as BuildKit creates them.
    assert os.stat(root.path / "a").st_uid == 12


def _layer(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> io.BytesIO:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as archive:
        for info, content in entries:
            if content is not None:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
            else:
                archive.addfile(info)
    data.seek(0)
    return data


def _file(name: str, content: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    return info, content


def _symlink(name: str, target: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info, None


@needs_root
def test_layer_names_cannot_escape(root: Root, tmp_path: Path) -> None:
    apply_layer(_layer([_file("../../escape"), _file("/abs")]), root)
    assert not (tmp_path / "escape").exists()
    assert (root.path / "escape").exists() and (root.path / "abs").exists()


@needs_root
def test_layer_link_then_write_through_it_stays_inside(root: Root, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    apply_layer(_layer([_symlink("evil", str(outside)), _file("evil/pwned")]), root)
    assert not (outside / "pwned").exists()
    assert root.path.joinpath(*outside.parts[1:], "pwned").exists()


@needs_root
def test_layer_hardlink_outside_is_refused(root: Root) -> None:
    info = tarfile.TarInfo("h")
    info.type = tarfile.LNKTYPE
    info.linkname = "../../../etc/hostname-not-in-root"
    with pytest.raises(SourceError, match="hard link target"):
        apply_layer(_layer([(info, None)]), root)


@needs_root
def test_layer_whiteouts(root: Root) -> None:
    apply_layer(_layer([_file("d/a"), _file("d/b"), _file("e/keep"), _file("gone")]), root)
    apply_layer(_layer([_file(".wh.gone", b""), _file("d/.wh..wh..opq", b""), _file("d/c")]), root)
    assert not (root.path / "gone").exists()
    assert sorted(os.listdir(root.path / "d")) == ["c"]
    assert (root.path / "e" / "keep").exists()


def test_dockerignore_rules() -> None:
    matcher = IgnoreMatcher(
        ["# comment", "*.log", "build/", "!build/keep.txt", "**/secret", "/tmp/*", ""]
    )
    assert matcher.matches("a.log")
    assert not matcher.matches("dir/a.log")  # * stays within one component
    assert matcher.matches("build/x/y")  # a matched directory excludes what is below
    assert not matcher.matches("build/keep.txt")  # re-included
    assert matcher.matches("a/b/secret") and matcher.matches("secret")
    assert matcher.matches("tmp/x") and not matcher.matches("x/tmp/y")
    assert not matcher.excludes("build", is_dir=True)  # entered: something below comes back
    assert matcher.excludes("a.log", is_dir=False)
