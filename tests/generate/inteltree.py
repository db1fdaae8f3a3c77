"""Fake sysfs and ``/dev`` trees of Intel hosts, laid out as the kernel lays them out.

A tree has ``sys/`` (the sysfs root) and ``dev/`` (the dev root) under one base directory.
:meth:`IntelTree.pci` adds one PCI function the way the kernel shows it, and the nodes udev
would make for it:

* ``sys/devices/pci0000:00/<address>/`` with ``vendor``, ``device`` and ``class``, linked from
  ``sys/bus/pci/devices/<address>`` (relatively, or with an absolute ``/sys/...`` target);
* a ``driver`` link to ``sys/bus/pci/drivers/<driver>``;
* ``drm/cardN``, ``drm/renderDN`` (and ``dev/dri/...`` nodes, major 226), with udev's
  ``dev/dri/by-path/pci-<address>-{card,render}`` links when asked;
* MEI below an auxiliary device (``i915.mei-gsc.768/mei/meiN``, listed in ``sys/class/mei``;
  ``dev/meiN``, major 234);
* an ``iommu_group`` link (``dev/vfio/<group>``, major 243, and ``dev/vfio/vfio``, 10:196)
  and ``vfio-dev/vfioN`` (``dev/vfio/devices/vfioN``, major 237);
* ``accel/accelN`` (``dev/accel/accelN``, major 261; control nodes ``accel_controlDN`` at
  minor 64+N when asked) and ``infiniband_verbs/uverbsN`` (listed in
  ``sys/class/infiniband_verbs``; ``dev/infiniband/uverbsN``, 231:192+N).

Device nodes are real (``os.mknod``): tests need root. Vector tables describe trees as data
(:func:`build_tree`).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from generate.fixtures import make_char_device, symlink, write_file

DRM_MAJOR = 226
MEI_MAJOR = 234
VFIO_GROUP_MAJOR = 243
VFIO_CONTAINER = (10, 196)
VFIO_DEVICE_MAJOR = 237
ACCEL_MAJOR = 261
ACCEL_CONTROL_OFFSET = 64
UVERBS = (231, 192)

#: PCI bridge directory the fake functions hang below.
BRIDGE = "devices/pci0000:00"


def node_number(name: str) -> tuple[int, int]:
    """``(major, minor)`` of the fake node ``dev/<name>``, from its name."""
    digits = re.search(r"(\d+)$", name)
    number = int(digits.group(1)) if digits else 0
    if name == "vfio/vfio":
        return VFIO_CONTAINER
    if name.startswith("dri/"):
        return DRM_MAJOR, number
    if name.startswith("accel/accel_controlD"):
        return ACCEL_MAJOR, ACCEL_CONTROL_OFFSET + number
    if name.startswith("accel/"):
        return ACCEL_MAJOR, number
    if name.startswith("infiniband/uverbs"):
        return UVERBS[0], UVERBS[1] + number
    if name.startswith("vfio/devices/"):
        return VFIO_DEVICE_MAJOR, number
    if name.startswith("vfio/"):
        return VFIO_GROUP_MAJOR, number
    if name.startswith("mei"):
        return MEI_MAJOR, number
    raise ValueError(f"no fake numbers for {name}")


class IntelTree:
    """A fake Intel host under *base*: ``sys`` and ``dev``."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.sys = base / "sys"
        self.dev = base / "dev"
        (self.sys / "bus/pci/devices").mkdir(parents=True, exist_ok=True)
        self.dev.mkdir(parents=True, exist_ok=True)

    def node(self, name: str, mode: int = 0o666, gid: int = 0) -> Path:
        """The real character device ``dev/<name>`` with its fake numbers."""
        path = self.dev / name
        if path.exists():
            return path
        major, minor = node_number(name)
        return make_char_device(path, major, minor, mode=mode, gid=gid)

    def pci(
        self,
        address: str,
        *,
        vendor: str | None = "0x8086",
        device: str | None = "0x56a0",
        class_code: str | None = "0x030000",
        driver: str | None = "i915",
        drm: Sequence[str] = (),
        by_path: bool = False,
        mei: Sequence[str] = (),
        iommu_group: int | None = None,
        vfio_dev: Sequence[str] = (),
        accel: Sequence[str] = (),
        accel_control: bool = False,
        uverbs: Sequence[str] = (),
        link: str = "relative",
    ) -> Path:
        """Add the PCI function *address* (see the module docstring); its sysfs directory.
        *link* is how ``bus/pci/devices`` leads to it: ``relative`` or ``absolute``."""
        directory = self.sys / BRIDGE / address
        directory.mkdir(parents=True)
        for attribute, value in (("vendor", vendor), ("device", device), ("class", class_code)):
            if value is not None:
                write_file(directory / attribute, f"{value}\n")
        entry = self.sys / "bus/pci/devices" / address
        entry.symlink_to(
            f"../../../{BRIDGE}/{address}" if link == "relative" else f"/sys/{BRIDGE}/{address}"
        )
        if driver is not None:
            (self.sys / "bus/pci/drivers" / driver).mkdir(parents=True, exist_ok=True)
            symlink(directory / "driver", f"../../../bus/pci/drivers/{driver}")
        for name in drm:
            major, minor = node_number(f"dri/{name}")
            write_file(directory / "drm" / name / "dev", f"{major}:{minor}\n")
            self.node(f"dri/{name}")
        if by_path:
            for name in drm:
                suffix = "card" if name.startswith("card") else "render"
                symlink(self.dev / f"dri/by-path/pci-{address}-{suffix}", f"../{name}")
        for name in mei:
            self._class_member(directory, f"i915.mei-gsc.768/mei/{name}", "mei", name)
            self.node(name)
        if iommu_group is not None:
            (self.sys / "kernel/iommu_groups" / str(iommu_group)).mkdir(parents=True)
            symlink(directory / "iommu_group", f"../../../kernel/iommu_groups/{iommu_group}")
            self.node(f"vfio/{iommu_group}")
            self.node("vfio/vfio")
        for name in vfio_dev:
            (directory / "vfio-dev" / name).mkdir(parents=True)
            self.node(f"vfio/devices/{name}")
        for name in accel:
            (directory / "accel" / name).mkdir(parents=True)
            self.node(f"accel/{name}")
            if accel_control:
                self.node(f"accel/accel_controlD{name.removeprefix('accel')}")
        for name in uverbs:
            self._class_member(directory, f"infiniband_verbs/{name}", "infiniband_verbs", name)
            self.node(f"infiniband/{name}")
        return directory

    def _class_member(self, directory: Path, below: str, device_class: str, name: str) -> None:
        (directory / below).mkdir(parents=True)
        relative = (directory / below).relative_to(self.sys)
        symlink(self.sys / "class" / device_class / name, f"../../{relative}")


def build_tree(base: Path, description: dict[str, Any]) -> IntelTree:
    """The tree a vector describes (``tests/vectors/generate/intel_gpu.yaml`` explains the
    keys)."""
    tree = IntelTree(base)
    for device in description.get("pci", ()):
        options = dict(device)
        address = options.pop("address")
        if "class" in options:
            options["class_code"] = options.pop("class")
        tree.pci(address, **options)
    for name, attributes in description.get("chmod", {}).items():
        path = base / name
        os.chown(path, 0, attributes.get("gid", 0))
        os.chmod(path, int(attributes["mode"], 8))
    for name, target in description.get("links", {}).items():
        path = base / name
        if path.is_symlink() or path.exists():
            path.unlink()
        symlink(path, target)
    for name, content in description.get("files", {}).items():
        path = base / name
        if path.is_symlink() or path.exists():
            path.unlink()
        write_file(path, content)
    for name, numbers in description.get("nodes", {}).items():
        make_char_device(base / name, *numbers)
    for name in description.get("remove", ()):
        path = base / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    return tree
