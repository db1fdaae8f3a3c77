"""PCI devices as sysfs shows them: address, ids, class, bound driver, and what hangs below.

Vendor-neutral: a generator scans ``<sysfs>/bus/pci/devices`` with :func:`pci_devices` and
filters on the fields. Everything is read through a :class:`~cdi.generate.subtree.Subtree`,
so links in a fake sysfs tree are followed inside it and never into the host's ``/sys``.

A device's class devices (DRM ``card1``, ``accel0``, ``mei0``, ``uverbs0``) are found two ways:
:func:`child_names` lists the subsystem directory right below the device (``<dev>/drm``), and
:func:`class_members` takes the entries of ``<sysfs>/class/<class>`` whose path lies anywhere
below the device (a GPU's MEI sits below an auxiliary device of the GPU, not directly in it).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from cdi.generate.subtree import Subtree

__all__ = [
    "PCI_ADDRESS",
    "PCI_DEVICES_DIR",
    "PciDevice",
    "address_key",
    "child_names",
    "class_members",
    "link_name",
    "number_key",
    "pci_devices",
    "read_hex",
]

#: Where sysfs lists every PCI function, relative to the sysfs root.
PCI_DEVICES_DIR = "bus/pci/devices"
#: A PCI function address as the kernel names it (``0000:03:00.0``; wider domains exist).
PCI_ADDRESS = re.compile(r"([0-9a-f]{4,8}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])")

_TRAILING_NUMBER = re.compile(r"(\d*)$")


@dataclass(frozen=True)
class PciDevice:
    """One PCI function found under ``<sysfs>/bus/pci/devices``."""

    #: ``0000:03:00.0``, as the directory entry names it.
    address: str
    #: The entry relative to the sysfs root (``bus/pci/devices/0000:03:00.0``), for reads.
    sysfs_path: str
    #: The host path of the device directory, links resolved inside the sysfs tree.
    real_path: str
    #: The ``vendor``, ``device`` and ``class`` attributes; ``None`` when missing or garbled.
    vendor: int | None
    device: int | None
    class_code: int | None
    #: The name of the bound driver (``i915``, ``vfio-pci``); empty when none is bound.
    driver: str

    @property
    def domain(self) -> str:
        return self.address.split(":")[0]

    @property
    def bus(self) -> str:
        return self.address.split(":")[1]

    @property
    def slot(self) -> str:
        return self.address.split(":")[2].split(".")[0]

    @property
    def function(self) -> str:
        return self.address.split(".")[1]


def address_key(address: str) -> tuple[int, ...]:
    """Numeric sort key of a PCI address (domain, bus, slot, function)."""
    match = PCI_ADDRESS.fullmatch(address.lower())
    if match is None:
        raise ValueError(f"not a PCI address: {address!r}")
    return tuple(int(group, 16) for group in match.groups())


def read_hex(sysfs: Subtree, path: str) -> int | None:
    """The hexadecimal attribute at *path* (``0x8086``), or ``None`` when it is missing or
    is not a number."""
    try:
        return int(sysfs.read_text(path).strip(), 16)
    except (OSError, ValueError):
        return None


def link_name(sysfs: Subtree, path: str) -> str:
    """The name of what the link *path* points to (``driver`` -> ``i915``), resolved inside
    the tree; empty when *path* is not a link (or is missing)."""
    parent, name = posixpath.split(path)
    target = sysfs.resolve(path)
    if target == posixpath.join(sysfs.resolve(parent), name):
        return ""  # nothing to follow: no link there
    return posixpath.basename(target)


def pci_devices(sysfs: Subtree) -> list[PciDevice]:
    """Every PCI function under ``<sysfs>/bus/pci/devices`` whose name is a PCI address, in
    address order (numeric, so the result never depends on directory order)."""
    names = [name for name in sysfs.listdir(PCI_DEVICES_DIR) if PCI_ADDRESS.fullmatch(name)]
    found = []
    for name in sorted(names, key=address_key):
        path = f"{PCI_DEVICES_DIR}/{name}"
        if not sysfs.is_dir(path):
            continue
        found.append(
            PciDevice(
                address=name,
                sysfs_path=path,
                real_path=sysfs.resolve(path),
                vendor=read_hex(sysfs, f"{path}/vendor"),
                device=read_hex(sysfs, f"{path}/device"),
                class_code=read_hex(sysfs, f"{path}/class"),
                driver=link_name(sysfs, f"{path}/driver"),
            )
        )
    return found


def number_key(name: str) -> tuple[str, int]:
    """Sort key putting ``card2`` before ``card10``."""
    digits = _TRAILING_NUMBER.search(name)
    number = digits.group(1) if digits else ""
    return name[: len(name) - len(number)], int(number) if number else -1


def child_names(
    sysfs: Subtree, device: PciDevice, subdirectory: str, pattern: re.Pattern[str]
) -> list[str]:
    """The entries of ``<device>/<subdirectory>`` whose whole name matches *pattern*, in
    numeric order."""
    names = sysfs.listdir(f"{device.sysfs_path}/{subdirectory}")
    return sorted((name for name in names if pattern.fullmatch(name)), key=number_key)


def class_members(
    sysfs: Subtree, device: PciDevice, device_class: str, pattern: re.Pattern[str]
) -> list[str]:
    """The entries of ``<sysfs>/class/<device_class>`` matching *pattern* that belong to
    *device*: their path lies below the device's directory. Numeric order."""
    directory = f"class/{device_class}"
    below = device.real_path.rstrip("/") + "/"
    members = [
        name
        for name in sysfs.listdir(directory)
        if pattern.fullmatch(name) and sysfs.resolve(f"{directory}/{name}").startswith(below)
    ]
    return sorted(members, key=number_key)
