"""cdi-hook update-application-profile: the mask of the container's GPUs (needs mknod)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from cdi.hooks import application_profile as subcommand
from cdi.hooks.rootfs import ContainerRoot
from tables import cases

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="creating device nodes needs root")
PROFILE = "etc/nvidia/nvidia-application-profiles-rc.d/10-container.conf"
NVIDIA_MAJOR = 195


def make_dev(directory: Path, entries: list[dict[str, Any]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for entry in entries:
        path, kind = directory / entry["name"], entry.get("kind", "char")
        if kind == "file":
            path.write_text("")
        elif kind == "link":
            os.symlink("/host/dev/nvidia0", path)
        else:
            node = stat.S_IFCHR if kind == "char" else stat.S_IFBLK
            os.mknod(path, node | 0o666, os.makedev(NVIDIA_MAJOR, entry["minor"]))


@cases("hooks/application_profile.yaml")
def test_update_application_profile(case: dict[str, Any], root: ContainerRoot) -> None:
    rootdir = Path(root.host_path)
    make_dev(rootdir / "dev", case["dev"])
    written = subcommand.update_application_profile(root)
    assert written is (case["mask"] is not None)
    if case["mask"] is None:
        assert not (rootdir / "etc").exists()
        return
    assert (rootdir / PROFILE).read_text() == (
        '{"rules": [{"pattern": [], "profile": "_container_"}], "profiles": [{"name": '
        f'"_container_", "settings": ["EGLVisibleDGPUDevices", {case["mask"]}]}}]}}\n'
    )


def test_modes_and_an_existing_directory(root: ContainerRoot) -> None:
    rootdir = Path(root.host_path)
    make_dev(rootdir / "dev", [{"name": "nvidia1", "minor": 1}])
    subcommand.run(root, {})
    profile = rootdir / PROFILE
    assert stat.S_IMODE(profile.stat().st_mode) == 0o444
    for directory in (profile.parent, profile.parent.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o555
    (rootdir / "dev/nvidia1").unlink()
    make_dev(rootdir / "dev", [{"name": "nvidia0", "minor": 0}])
    subcommand.run(root, {})  # replaced, directories as they were
    assert '"EGLVisibleDGPUDevices", 0x1]' in profile.read_text()
    assert os.listdir(profile.parent) == ["10-container.conf"]
    assert subcommand.FLAGS == {}


def test_no_dev_directory(root: ContainerRoot) -> None:
    assert subcommand.update_application_profile(root) is False


def test_dev_linked_to_the_host_is_rooted(root: ContainerRoot, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    make_dev(outside, [{"name": "nvidia0", "minor": 0}])
    rootdir = Path(root.host_path)
    os.symlink(str(outside), rootdir / "dev")
    assert subcommand.update_application_profile(root) is False
    make_dev(rootdir / outside.relative_to("/"), [{"name": "nvidia2", "minor": 2}])
    assert subcommand.update_application_profile(root) is True
    assert "0x4]" in (rootdir / PROFILE).read_text()


def test_etc_linked_to_the_host_writes_nothing_there(root: ContainerRoot, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    rootdir = Path(root.host_path)
    make_dev(rootdir / "dev", [{"name": "nvidia0", "minor": 0}])
    os.symlink(str(outside), rootdir / "etc")
    assert subcommand.update_application_profile(root) is True
    assert os.listdir(outside) == []
    assert (rootdir / outside.relative_to("/") / PROFILE.removeprefix("etc/")).is_file()
