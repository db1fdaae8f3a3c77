"""A fake AMD host for the generator tests: sysfs laid out as the kernel lays it out, and a
``/dev`` of real character device nodes (``mknod``: root only).

Sysfs as on a real host, links relative (or absolute ``/sys/...`` ones, to prove they are read
inside the fake tree)::

    sys/module/amdgpu/drivers/pci:amdgpu -> ../../../bus/pci/drivers/amdgpu
    sys/bus/pci/drivers/amdgpu/0000:03:00.0 -> ../../../../devices/pci0000:00/0000:03:00.0
    sys/devices/pci0000:00/0000:03:00.0/drm/{card1,renderD128}/dev
    sys/devices/platform/amdgpu_xcp_0/drm/renderD129/dev
    sys/class/kfd/kfd -> ../../devices/virtual/kfd/kfd
    sys/devices/virtual/kfd/kfd/topology/nodes/<N>/properties

Device numbers as they commonly come out: DRM nodes 226:N (cards in group video, render
nodes in group render), ``/dev/kfd`` on a dynamic major.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from generate.fixtures import make_char_device

DRI_MAJOR = 226
KFD_MAJOR = 510
VIDEO_GID = 44
RENDER_GID = 109
NODE_MODE = 0o660

DRIVER = "bus/pci/drivers/amdgpu"
KFD_DEVICE = "devices/virtual/kfd/kfd"

#: What a real GPU node's properties hold besides the three the generator reads (MI300X).
_GPU_PROPERTIES = (
    ("cpu_cores_count", 0),
    ("simd_count", 304),
    ("mem_banks_count", 1),
    ("gfx_target_version", 90402),
    ("vendor_id", 4098),
    ("device_id", 29856),
)
#: A CPU node: no render minor.
CPU_PROPERTIES = "cpu_cores_count 96\nsimd_count 0\nmem_banks_count 1\nvendor_id 0\n"


def location_id(pci: str) -> int:
    """The KFD ``location_id`` of PCI address ``DDDD:BB:DD.F``: bus, device, function."""
    _domain, bus, rest = pci.split(":")
    device, function = rest.split(".")
    return int(bus, 16) << 8 | int(device, 16) << 3 | int(function, 16)


def pci_domain(pci: str) -> int:
    return int(pci.split(":", maxsplit=1)[0], 16)


def gpu_properties(render_minor: int, pci: str) -> str:
    """A GPU node's ``properties`` text for the render minor of the GPU at *pci*."""
    lines = [f"{name} {value}" for name, value in _GPU_PROPERTIES]
    lines += [
        f"location_id {location_id(pci)}",
        f"domain {pci_domain(pci)}",
        f"drm_render_minor {render_minor}",
        "hive_id 0",
        "unique_id 11540396142232213795",
    ]
    return "\n".join(lines) + "\n"


_DRM_NODE = re.compile(r"(card|renderD)([0-9]+)")


def drm_minor(name: str) -> int:
    """The minor in a DRM node name (``card1`` 1, ``renderD128`` 128); 0 for other names."""
    match = _DRM_NODE.fullmatch(name)
    return int(match.group(2)) if match else 0


def is_render_node(name: str) -> bool:
    match = _DRM_NODE.fullmatch(name)
    return match is not None and match.group(1) == "renderD"


class AmdTree:
    """The fake host under *base*: :attr:`sysfs` and :attr:`dev`."""

    def __init__(self, base: Path, *, absolute_links: bool = False) -> None:
        self.base = base
        self.sysfs = base / "sys"
        self.dev = base / "dev"
        self.absolute_links = absolute_links
        self._nodes = 0

    # ----------------------------------------------------------------------- sysfs

    def link(self, path: str, target: str) -> Path:
        """A link at sysfs *path* to sysfs path *target* (both relative to the sysfs top),
        relative or ``/sys/...`` as the tree is built; an existing one is replaced."""
        where = self.sysfs / path
        where.parent.mkdir(parents=True, exist_ok=True)
        if self.absolute_links:
            spelt = f"/sys/{target}"
        else:
            spelt = os.path.relpath(self.sysfs / target, where.parent)
        self.raw_link(path, spelt)
        return where

    def raw_link(self, path: str, target: str) -> Path:
        """A link at sysfs *path* whose target is *target* exactly."""
        where = self.sysfs / path
        where.parent.mkdir(parents=True, exist_ok=True)
        if where.is_symlink() or where.is_file():
            where.unlink()
        where.symlink_to(target)
        return where

    def write(self, path: str, text: str) -> Path:
        where = self.sysfs / path
        where.parent.mkdir(parents=True, exist_ok=True)
        where.write_text(text)
        return where

    def driver(self) -> None:
        """The loaded amdgpu driver: its module and PCI driver directories."""
        (self.sysfs / DRIVER).mkdir(parents=True, exist_ok=True)
        for name in ("bind", "unbind", "new_id", "uevent"):
            self.write(f"{DRIVER}/{name}", "")
        if not (self.sysfs / "module/amdgpu/drivers/pci:amdgpu").is_symlink():
            self.link("module/amdgpu/drivers/pci:amdgpu", DRIVER)
            self.link(f"{DRIVER}/module", "module/amdgpu")

    def drm(self, device: str, names: Sequence[str]) -> None:
        for name in names:
            self.write(f"{device}/drm/{name}/dev", f"{DRI_MAJOR}:{drm_minor(name)}\n")

    def gpu(self, pci: str, drm: Sequence[str]) -> str:
        """A PCI GPU bound to amdgpu with DRM entries *drm*; its sysfs path."""
        self.driver()
        device = f"devices/pci{pci[:4]}:00/{pci}"
        self.write(f"{device}/vendor", "0x1002\n")
        self.drm(device, drm)
        self.link(f"{DRIVER}/{pci}", device)
        self.link(f"{device}/driver", DRIVER)
        return device

    def partition(self, index: int, drm: Sequence[str]) -> str:
        """Compute partition ``amdgpu_xcp_<index>`` with DRM entries *drm*."""
        device = f"devices/platform/amdgpu_xcp_{index}"
        self.drm(device, drm)
        return device

    def topology_node(self, properties: str | None) -> str:
        """The next KFD topology node (``properties`` text; ``None``: no such file)."""
        if not (self.sysfs / "class/kfd/kfd").is_symlink():
            self.link("class/kfd/kfd", KFD_DEVICE)
        node = f"{KFD_DEVICE}/topology/nodes/{self._nodes}"
        self._nodes += 1
        (self.sysfs / node).mkdir(parents=True, exist_ok=True)
        if properties is not None:
            self.write(f"{node}/properties", properties)
        return node

    # ----------------------------------------------------------------------- /dev

    def char_node(
        self, relative: str, major: int, minor: int, mode: int = NODE_MODE, gid: int = 0
    ) -> Path:
        return make_char_device(self.dev / relative, major, minor, mode, gid)

    def drm_node(self, name: str, **override: Any) -> Path:
        """``/dev/dri/<name>`` with the usual numbers, group and mode unless overridden."""
        gid = RENDER_GID if name.startswith("renderD") else VIDEO_GID
        values = {"major": DRI_MAJOR, "minor": drm_minor(name), "mode": NODE_MODE, "gid": gid}
        values.update(override)
        return self.char_node(f"dri/{name}", **values)

    def kfd(self, **override: Any) -> Path:
        values = {"major": KFD_MAJOR, "minor": 0, "mode": NODE_MODE, "gid": RENDER_GID}
        values.update(override)
        return self.char_node("kfd", **values)


# --------------------------------------------------------------------------- from a table


def _node_values(value: Mapping[str, Any]) -> dict[str, Any]:
    values = {key: value[key] for key in ("major", "minor", "gid") if key in value}
    if "mode" in value:
        values["mode"] = int(str(value["mode"]), 8)
    return values


def _make_dev_entry(tree: AmdTree, relative: str, value: Any, common: dict[str, Any]) -> None:
    """One ``/dev`` entry of a table case (see tests/vectors/generate/amd_generate.yaml)."""
    where = tree.dev / relative
    if value == "missing":
        return
    where.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(value, Mapping) and "link" in value:
        where.symlink_to(value["link"])
        return
    if value == "file":
        where.write_text("")
        return
    override = {**common, **_node_values(value or {})}
    if relative == "kfd":
        tree.kfd(**override)
    elif relative.startswith("dri/"):
        tree.drm_node(relative[4:], **override)
    else:
        tree.char_node(relative, **{"major": 1, "minor": 3, **override})


def build_case(base: Path, case: Mapping[str, Any]) -> AmdTree:
    """The fake host an ``amd_generate.yaml`` case describes."""
    tree = AmdTree(base, absolute_links=case.get("absolute_links", False))
    tree.sysfs.mkdir(parents=True)
    tree.dev.mkdir(parents=True)
    if case.get("driver", True):
        tree.driver()
    renders: list[tuple[int, str]] = []  # (render minor, PCI address) for the topology
    for gpu in case.get("gpus", ()):
        tree.gpu(gpu["pci"], gpu["drm"])
        if gpu.get("in_topology", True):
            renders += [(drm_minor(n), gpu["pci"]) for n in gpu["drm"] if is_render_node(n)]
    for part in case.get("partitions", ()):
        tree.partition(part["index"], part["drm"])
        if part.get("in_topology", True):
            renders += [(drm_minor(n), part["parent"]) for n in part["drm"] if is_render_node(n)]
    topology = case.get("topology", "auto")
    if topology == "auto":
        tree.topology_node(CPU_PROPERTIES)
        for minor, pci in renders:
            tree.topology_node(gpu_properties(minor, pci))
    elif topology != "none":
        for text in topology:
            tree.topology_node(text)
    for path, target in case.get("sysfs_links", {}).items():
        tree.raw_link(path, target)
    # /dev: every DRM node sysfs names and /dev/kfd, unless the case says otherwise.
    common = _node_values(case.get("every_node", {}))
    entries: dict[str, Any] = {"kfd": None}
    for device in [*case.get("gpus", ()), *case.get("partitions", ())]:
        entries.update({f"dri/{n}": None for n in device["drm"] if _DRM_NODE.fullmatch(n)})
    entries.update(case.get("dev", {}))
    for relative, value in entries.items():
        _make_dev_entry(tree, relative, value, common)
    return tree
