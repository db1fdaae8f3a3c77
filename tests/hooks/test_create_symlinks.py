"""cdi-hook create-symlinks: vectors, with both resolvers, and a link out of the root."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from cdi.hooks import create_symlinks as subcommand
from cdi.hooks.errors import HookError
from cdi.hooks.rootfs import ContainerRoot
from tables import cases


def populate(rootdir: Path, entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        path = rootdir / entry["path"].lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if "link" in entry:
            os.symlink(entry["link"], path)
        elif "file" in entry:
            path.write_text(entry["file"])
        else:
            path.mkdir()


def tree(rootdir: Path) -> dict[str, str]:
    """Every entry of the root: a link's target, a file's text, or "/" for a directory."""
    found = {}
    for path in sorted(rootdir.rglob("*")):
        name = "/" + str(path.relative_to(rootdir))
        if path.is_symlink():
            found[name] = "-> " + os.readlink(path)
        else:
            found[name] = "/" if path.is_dir() else path.read_text()
    return found


@cases("hooks/create_symlinks.yaml")
def test_create_symlinks(case: dict[str, Any], root: ContainerRoot) -> None:
    rootdir = Path(root.host_path)
    populate(rootdir, case.get("before", []))
    if "error" in case:
        before = tree(rootdir)
        with pytest.raises(HookError) as caught:
            subcommand.create_symlinks(root, case["links"])
        assert str(caught.value) == case["error"]
        assert tree(rootdir) == before
        return
    assert subcommand.create_symlinks(root, case["links"]) == case["made"]
    for link, target in case["after"].items():
        assert os.readlink(rootdir / link.lstrip("/")) == target
    assert not [name for name in tree(rootdir) if "/." in name]  # no temporaries left


def test_run_takes_the_link_option(root: ContainerRoot) -> None:
    subcommand.run(root, {"link": ["libcuda.so.1::/usr/lib/libcuda.so"]})
    subcommand.run(root, {})
    assert os.readlink(Path(root.host_path) / "usr/lib/libcuda.so") == "libcuda.so.1"
    assert subcommand.FLAGS == {"link": "list"}


def test_a_parent_linked_to_the_host_gets_the_link_inside(
    root: ContainerRoot, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    rootdir = Path(root.host_path)
    (rootdir / "usr/lib").mkdir(parents=True)
    os.symlink(str(outside), rootdir / "usr/lib/x86_64-linux-gnu")
    made = subcommand.create_symlinks(
        root, ["libcuda.so.1::/usr/lib/x86_64-linux-gnu/libcuda.so", f"x::{outside}/../y"]
    )
    assert len(made) == 2
    assert os.listdir(outside) == []
    inside = rootdir / outside.relative_to("/")
    assert os.readlink(inside / "libcuda.so") == "libcuda.so.1"
    assert os.readlink(inside.parent / "y") == "x"
