"""Per-device edits of full GPUs and MIG devices (cdi.generate.gpu) on fake roots.

Each test builds a dev root with real char devices (``mknod``: skipped when not root), a fake
sysfs laid out as the kernel's (``bus/pci/devices/<id>`` a relative link into ``devices/``)
and a procfs with the MIG minors table.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from cdi.generate.gpu import (
    MIG_MINORS_LIMIT,
    MigCapsError,
    compute_instance_cap,
    drm_node_paths,
    full_gpu_edits,
    gpu_instance_cap,
    load_mig_minors,
    mig_device_edits,
    parse_mig_minors,
)
from cdi.generate.hooks import HookMaker, HookSelection
from cdi.generate.nvml import NvmlMigDevice
from cdi.spec.encode import edits_to_plain
from generate.fakenvml import FakeNvml

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")

BUS = "0000:07:00.0"
HOOK = HookMaker(path="/usr/bin/nvidia-cdi-hook")
CHMOD_ON = HookMaker(path="/usr/bin/nvidia-cdi-hook", selection=HookSelection.of(enabled=["chmod"]))
CAPS_MAJOR = 511
MIG_MINORS = """\
config 1
monitor 2
gpu0/gi1/access 12
gpu0/gi1/ci0/access 13
gpu0/gi2/access 21
gpu0/gi2/ci0/access 22
"""


class Root:
    """A fake host: ``dev`` (the dev root), ``sys`` and ``proc`` under one temp dir."""

    def __init__(self, base: Path) -> None:
        self.dev = base / "dev-root"
        self.sys = base / "sys"
        self.proc = base / "proc"
        for folder in (self.dev, self.sys, self.proc):
            folder.mkdir()

    def node(self, path: str, major: int, minor: int, mode: int = 0o666, gid: int = 0) -> None:
        host = self.dev / path.lstrip("/")
        host.parent.mkdir(parents=True, exist_ok=True)
        os.mknod(host, stat.S_IFCHR | 0o600, os.makedev(major, minor))
        os.chown(host, 0, gid)
        os.chmod(host, mode)

    def link(self, path: str, target: str) -> None:
        host = self.dev / path.lstrip("/")
        host.parent.mkdir(parents=True, exist_ok=True)
        host.symlink_to(target)

    def drm(self, bus: str, *names: str) -> None:
        """The kernel's drm folder of PCI function *bus*, reached through bus/pci/devices."""
        function = self.sys / "devices/pci0000:00/0000:00:01.0" / bus
        (function / "drm").mkdir(parents=True)
        for name in names:
            (function / "drm" / name).mkdir()
        devices = self.sys / "bus/pci/devices"
        devices.mkdir(parents=True, exist_ok=True)
        (devices / bus).symlink_to(f"../../../devices/pci0000:00/0000:00:01.0/{bus}")

    def gpu_with_drm(self) -> None:
        """GPU 0 with card1 (root:video 0660) and renderD128 (0666) and their by-path links."""
        self.node("/dev/nvidia0", 195, 0)
        self.node("/dev/dri/card1", 226, 1, 0o660, gid=44)
        self.node("/dev/dri/renderD128", 226, 128, 0o666, gid=105)
        self.drm(BUS, "card1", "renderD128")
        self.link(f"/dev/dri/by-path/pci-{BUS}-card", "../card1")
        self.link(f"/dev/dri/by-path/pci-{BUS}-render", "../renderD128")

    def mig_minors(self, text: str = MIG_MINORS) -> None:
        folder = self.proc / "driver/nvidia-caps"
        folder.mkdir(parents=True)
        (folder / "mig-minors").write_text(text)

    def host(self, path: str) -> str:
        return f"{self.dev}{path}"


@pytest.fixture
def root(tmp_path: Path) -> Root:
    if os.geteuid() != 0:
        pytest.skip("mknod needs root")
    return Root(tmp_path)


def full(root: Root, hooks: HookMaker = HOOK, gpus: int = 1, **kwargs: Any) -> dict[str, Any]:
    nvml = FakeNvml.with_gpus(gpus)
    nvml.init()
    edits = full_gpu_edits(
        nvml.device_by_index(gpus - 1),
        dev_root=str(root.dev),
        sysfs_root=str(root.sys),
        hooks=hooks,
        additional_gids=kwargs.pop("additional_gids", True),
        **kwargs,
    )
    return edits_to_plain(edits)


def nvidia0(root: Root) -> dict[str, Any]:
    return {
        "path": "/dev/nvidia0",
        "hostPath": root.host("/dev/nvidia0"),
        "major": 195,
        "fileMode": 0o666,
        "permissions": "rwm",
    }


def card1(root: Root) -> dict[str, Any]:
    return {
        "path": "/dev/dri/card1",
        "hostPath": root.host("/dev/dri/card1"),
        "major": 226,
        "minor": 1,
        "fileMode": 0o660,
        "permissions": "rwm",
        "gid": 44,
    }


def render128(root: Root) -> dict[str, Any]:
    return {
        "path": "/dev/dri/renderD128",
        "hostPath": root.host("/dev/dri/renderD128"),
        "major": 226,
        "minor": 128,
        "fileMode": 0o666,
        "permissions": "rwm",
        "gid": 105,
    }


def hook(*args: str) -> dict[str, Any]:
    return {
        "hookName": "createContainer",
        "path": "/usr/bin/nvidia-cdi-hook",
        "args": ["nvidia-cdi-hook", *args],
        "env": ["NVIDIA_CTK_DEBUG=false"],
    }


BY_PATH = hook(
    "create-symlinks",
    "--link",
    f"../card1::/dev/dri/by-path/pci-{BUS}-card",
    "--link",
    f"../renderD128::/dev/dri/by-path/pci-{BUS}-render",
)


# -- full GPUs -------------------------------------------------------------------------------


def test_gpu_without_drm_is_its_node(root: Root) -> None:
    root.node("/dev/nvidia0", 195, 0)
    assert full(root) == {"deviceNodes": [nvidia0(root)]}


def test_gpu_with_drm_nodes_and_by_path_links(root: Root) -> None:
    root.gpu_with_drm()
    assert full(root) == {
        "deviceNodes": [nvidia0(root), card1(root), render128(root)],
        "hooks": [BY_PATH],
        "additionalGids": [44],
    }


def test_chmod_of_dev_dri_when_enabled(root: Root) -> None:
    root.gpu_with_drm()
    assert full(root, CHMOD_ON)["hooks"] == [
        BY_PATH,
        hook("chmod", "--mode", "755", "--path", "/dev/dri"),
    ]


def test_no_chmod_without_drm_nodes(root: Root) -> None:
    root.node("/dev/nvidia0", 195, 0)
    assert "hooks" not in full(root, CHMOD_ON)


def test_all_hooks_disabled(root: Root) -> None:
    root.gpu_with_drm()
    off = HookMaker(path="/usr/bin/nvidia-cdi-hook", selection=HookSelection.of(disabled=["all"]))
    assert "hooks" not in full(root, off)


def test_additional_gids_off(root: Root) -> None:
    root.gpu_with_drm()
    assert "additionalGids" not in full(root, additional_gids=False)


def test_minor_number_names_the_node(root: Root) -> None:
    root.node("/dev/nvidia2", 195, 2)
    root.node("/dev/nvidia0", 195, 0)
    plain = full(root, gpus=3)
    assert [node["path"] for node in plain["deviceNodes"]] == ["/dev/nvidia2"]
    assert plain["deviceNodes"][0]["minor"] == 2


def test_drm_entries_without_a_node_are_skipped(
    root: Root, caplog: pytest.LogCaptureFixture
) -> None:
    root.node("/dev/nvidia0", 195, 0)
    root.node("/dev/dri/card1", 226, 1)
    root.drm(BUS, "controlD65", "card1")
    with caplog.at_level(logging.WARNING, logger="cdi.generate.gpu"):
        plain = full(root)
    assert [node["path"] for node in plain["deviceNodes"]] == ["/dev/nvidia0", "/dev/dri/card1"]
    assert "Could not locate /dev/dri/controlD65" in caplog.text
    # No by-path links on this host: nothing to recreate, and each missing link is reported.
    assert "hooks" not in plain
    assert "Failed to evaluate symlink" in caplog.text


def test_missing_gpu_node_is_skipped(root: Root, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="cdi.generate.gpu"):
        assert full(root) == {}
    assert "Could not locate /dev/nvidia0" in caplog.text


def test_by_path_link_to_an_unselected_node_is_left_out(root: Root) -> None:
    root.node("/dev/nvidia0", 195, 0)
    root.node("/dev/dri/card1", 226, 1)
    root.drm(BUS, "card1")
    root.link(f"/dev/dri/by-path/pci-{BUS}-card", "../card9")
    root.link(f"/dev/dri/by-path/pci-{BUS}-render", "/dev/dri/card1")
    assert full(root)["hooks"] == [
        hook("create-symlinks", "--link", f"/dev/dri/card1::/dev/dri/by-path/pci-{BUS}-render")
    ]


def test_other_gpus_links_are_ignored(root: Root) -> None:
    root.gpu_with_drm()
    root.link("/dev/dri/by-path/pci-0000:08:00.0-card", "../card1")
    assert full(root)["hooks"] == [BY_PATH]


def test_a_node_linked_inside_the_root_is_found_there(root: Root) -> None:
    root.node("/real/nvidia0", 195, 0)
    root.link("/dev/nvidia0", "/real/nvidia0")
    assert full(root)["deviceNodes"] == [{**nvidia0(root), "hostPath": root.host("/real/nvidia0")}]


def test_links_never_lead_out_of_the_dev_root(root: Root) -> None:
    # /dev/null exists on the host as a char device; under the dev root it does not.
    root.link("/dev/nvidia0", "/dev/null")
    root.link("/dev/dri", "../../../../../../dev")
    root.drm(BUS, "null")
    assert full(root) == {}


def test_a_dev_link_to_itself_is_a_loop_not_a_crash(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mknod needs root")
    base = Root(tmp_path)
    base.dev.rmdir()
    base.dev.mkdir()
    (base.dev / "dev").symlink_to("/dev")
    assert full(base) == {}


def test_drm_node_paths_sorted_by_name(tmp_path: Path) -> None:
    base = Root(tmp_path)
    base.drm(BUS, "renderD128", "card1", "controlD65")
    assert drm_node_paths(str(base.sys), BUS) == [
        "/dev/dri/card1",
        "/dev/dri/controlD65",
        "/dev/dri/renderD128",
    ]
    assert drm_node_paths(str(base.sys), "0000:99:00.0") == []
    assert drm_node_paths(str(tmp_path / "nowhere"), BUS) == []


# -- MIG devices ----------------------------------------------------------------------------


def mig_device(gfx: bool = False, gi: int = 1, ci: int = 0) -> NvmlMigDevice:
    nvml = FakeNvml.with_gpus(1, mig={0: [(gi, ci, gfx)]})
    nvml.init()
    mig = nvml.device_by_index(0).mig_device(0)
    assert mig is not None
    return mig


def mig_plain(root: Root, mig: NvmlMigDevice, hooks: HookMaker = HOOK, **kwargs: Any) -> Any:
    edits = mig_device_edits(
        mig,
        dev_root=str(root.dev),
        sysfs_root=str(root.sys),
        procfs_root=str(root.proc),
        hooks=hooks,
        additional_gids=True,
        **kwargs,
    )
    return edits_to_plain(edits)


def cap(root: Root, minor: int) -> dict[str, Any]:
    path = f"/dev/nvidia-caps/nvidia-cap{minor}"
    return {
        "path": path,
        "hostPath": root.host(path),
        "major": CAPS_MAJOR,
        "minor": minor,
        "fileMode": 0o444,
        "permissions": "rwm",
    }


def mig_root(root: Root) -> None:
    root.gpu_with_drm()
    for minor in (12, 13, 21, 22):
        root.node(f"/dev/nvidia-caps/nvidia-cap{minor}", CAPS_MAJOR, minor, 0o444)
    root.mig_minors()


def test_mig_device_is_parent_and_caps(root: Root) -> None:
    mig_root(root)
    assert mig_plain(root, mig_device(), CHMOD_ON) == {
        "deviceNodes": [nvidia0(root), cap(root, 12), cap(root, 13)]
    }


def test_mig_device_other_instance(root: Root) -> None:
    mig_root(root)
    nodes = mig_plain(root, mig_device(gi=2))["deviceNodes"]
    assert [node["path"] for node in nodes] == [
        "/dev/nvidia0",
        "/dev/nvidia-caps/nvidia-cap21",
        "/dev/nvidia-caps/nvidia-cap22",
    ]


def test_gfx_mig_device_gets_drm_nodes_and_links(root: Root) -> None:
    mig_root(root)
    assert mig_plain(root, mig_device(gfx=True), CHMOD_ON) == {
        "deviceNodes": [nvidia0(root), cap(root, 12), cap(root, 13), card1(root), render128(root)],
        "hooks": [BY_PATH],
        "additionalGids": [44],
    }


def test_mig_caps_given_are_used_instead_of_procfs(root: Root) -> None:
    mig_root(root)
    caps = {gpu_instance_cap(0, 1): 21, compute_instance_cap(0, 1, 0): 22}
    nodes = mig_plain(root, mig_device(), mig_minors=caps)["deviceNodes"]
    assert [node["minor"] for node in nodes[1:]] == [21, 22]


def test_mig_cap_missing_from_the_table(root: Root) -> None:
    mig_root(root)
    with pytest.raises(MigCapsError) as caught:
        mig_plain(root, mig_device(gi=3))
    assert str(caught.value) == (
        "failed to get GI cap device path: invalid MIG capability path gpu0/gi3/access"
    )
    with pytest.raises(MigCapsError) as caught:
        mig_plain(root, mig_device(gi=1, ci=4))
    assert str(caught.value) == (
        "failed to get CI cap device path: invalid MIG capability path gpu0/gi1/ci4/access"
    )


def test_mig_minors_unreadable(tmp_path: Path) -> None:
    with pytest.raises(MigCapsError) as caught:
        load_mig_minors(str(tmp_path))
    assert str(caught.value) == (
        f"failed to load MIG minors: open {tmp_path}/driver/nvidia-caps/mig-minors: "
        "no such file or directory"
    )


def test_mig_minors_too_large(tmp_path: Path) -> None:
    folder = tmp_path / "driver/nvidia-caps"
    folder.mkdir(parents=True)
    (folder / "mig-minors").write_bytes(b"config 1\n" + b"#" * MIG_MINORS_LIMIT)
    with pytest.raises(MigCapsError, match="larger than"):
        load_mig_minors(str(tmp_path))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            MIG_MINORS,
            {
                "config": 1,
                "monitor": 2,
                "gpu0/gi1/access": 12,
                "gpu0/gi1/ci0/access": 13,
                "gpu0/gi2/access": 21,
                "gpu0/gi2/ci0/access": 22,
            },
        ),
        ("gpu01/gi02/ci03/access   7\r\n", {"gpu1/gi2/ci3/access": 7}),
        ("gpu0/gi1/access\n\ngarbage line here\nfoo 3\ngpu0/gi1/access x\n", {}),
        ("gpu0/gi1/access -1\ngpu0/gi1/access 1 2\ngpux/gi1/access 3\n", {}),
        ("gpu0/gi1/access 5\ngpu0/gi1/access 6\n", {"gpu0/gi1/access": 6}),
        ("", {}),
    ],
)
def test_parse_mig_minors(text: str, expected: dict[str, int]) -> None:
    assert parse_mig_minors(text) == expected
