"""Intel GPUs found in sysfs: DRM-driven (``i915``, ``xe``) and VFIO-bound ones.

A GPU is a PCI function of vendor ``0x8086`` and class ``0x030000`` (VGA) or ``0x038000``
(other display controller), as Intel's generator selects them. What a container gets depends
on the bound driver:

* ``i915`` / ``xe``: the DRM nodes the device's ``drm/`` directory names (``card1``,
  ``renderD128``), and bind mounts of the ``/dev/dri/by-path/pci-<address>-{card,render}``
  links where udev made them; plus the device's MEI nodes (for ``intel.com/gpu-mei``);
* ``vfio-pci`` / ``xe-vfio-pci`` (passed through to a VM): the IOMMU group's node
  ``/dev/vfio/<group>``, the VFIO container ``/dev/vfio/vfio`` where it exists, and the
  device's own ``/dev/vfio/devices/vfioN`` where sysfs names one (the iommufd interface).

Nodes that sysfs names must exist under the dev root (else the spec would be wrong: an error
names the missing node); optional ones (by-path links, the VFIO container) are used when
present. GPUs with another driver, or none, are skipped with a progress line.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable

from cdi.generate.errors import GenerateError
from cdi.generate.hostnode import DeviceNodeError, char_node, optional_char_node
from cdi.generate.intel_device import IntelDevice, device_edits, pci_uid
from cdi.generate.pci import PciDevice, child_names, class_members, link_name, pci_devices
from cdi.generate.subtree import Subtree
from cdi.spec.model import EMPTY_EDITS, ContainerEdits, Mount

__all__ = [
    "DRM_DRIVERS",
    "GPU_CLASSES",
    "INTEL_VENDOR",
    "VFIO_DRIVERS",
    "find_gpus",
]

INTEL_VENDOR = 0x8086
#: PCI classes of display controllers: VGA compatible, and "other".
GPU_CLASSES = (0x030000, 0x038000)
DRM_DRIVERS = ("i915", "xe")
VFIO_DRIVERS = ("vfio-pci", "xe-vfio-pci")
#: Options of the by-path bind mounts, as Intel's generator writes them.
BY_PATH_OPTIONS = ("bind", "rw")

_CARD = re.compile(r"card[0-9]{1,3}")
_RENDER = re.compile(r"renderD[0-9]{1,3}")
_MEI = re.compile(r"mei[0-9]+")
_VFIO_DEVICE = re.compile(r"vfio[0-9]+")

Progress = Callable[[str], None]


def is_intel_gpu(device: PciDevice) -> bool:
    return device.vendor == INTEL_VENDOR and device.class_code in GPU_CLASSES


def find_gpus(sysfs: Subtree, dev: Subtree, progress: Progress) -> list[IntelDevice]:
    """Every usable Intel GPU, in PCI address order."""
    found = []
    for device in filter(is_intel_gpu, pci_devices(sysfs)):
        owner = f"Intel GPU {device.address}"
        gpu: IntelDevice | None
        if device.driver in DRM_DRIVERS:
            gpu = _drm_gpu(sysfs, dev, device, owner, progress)
        elif device.driver in VFIO_DRIVERS:
            gpu = _vfio_gpu(sysfs, dev, device, owner, progress)
        else:
            bound = f"bound to {device.driver}" if device.driver else "no driver bound"
            progress(f"skipping {owner}: {bound}")
            gpu = None
        if gpu is not None:
            found.append(gpu)
    return found


def _drm_gpu(
    sysfs: Subtree, dev: Subtree, device: PciDevice, owner: str, progress: Progress
) -> IntelDevice | None:
    cards = child_names(sysfs, device, "drm", _CARD)
    renders = child_names(sysfs, device, "drm", _RENDER)
    if not cards and not renders:
        progress(f"skipping {owner} ({device.driver}): sysfs lists no DRM node")
        return None
    nodes = [char_node(dev, f"dri/{name}", owner=owner) for name in cards + renders]
    mounts = [
        ContainerEdits(mounts=(mount,))
        for suffix, names in (("card", cards), ("render", renders))
        if names and (mount := _by_path_mount(dev, device.address, suffix, names, owner))
    ]
    meis = class_members(sysfs, device, "mei", _MEI)
    mei_nodes = [char_node(dev, name, owner=owner) for name in meis]
    progress(f"found {owner} ({device.driver}): {', '.join(cards + renders + meis)}")
    return IntelDevice(
        address=device.address,
        uid=pci_uid(device, owner),
        classic_name=cards[0] if cards else "",
        edits=device_edits([*nodes, *mounts]),
        mei_edits=device_edits(mei_nodes) if mei_nodes else EMPTY_EDITS,
    )


def _vfio_gpu(
    sysfs: Subtree, dev: Subtree, device: PciDevice, owner: str, progress: Progress
) -> IntelDevice:
    group = link_name(sysfs, f"{device.sysfs_path}/iommu_group")
    if not group:
        raise GenerateError(f"{owner} is bound to {device.driver} but has no iommu_group")
    names = [f"vfio/{group}"]
    nodes = [char_node(dev, names[0], owner=owner)]
    container = optional_char_node(dev, "vfio/vfio", owner=owner)
    if container is not None:
        names.append("vfio/vfio")
        nodes.append(container)
    for name in child_names(sysfs, device, "vfio-dev", _VFIO_DEVICE):
        names.append(f"vfio/devices/{name}")
        nodes.append(char_node(dev, names[-1], owner=owner))
    progress(f"found {owner} ({device.driver}): {', '.join(names)}")
    return IntelDevice(
        address=device.address,
        uid=pci_uid(device, owner),
        classic_name="",
        edits=device_edits(nodes),
    )


def _by_path_mount(
    dev: Subtree, address: str, suffix: str, nodes: list[str], owner: str
) -> Mount | None:
    """The bind mount of udev's ``/dev/dri/by-path/pci-<address>-<suffix>`` link, when it
    exists. The source is the node the link leads to (resolved inside the dev root, so a
    runtime following it cannot leave the root), and it must be one of the GPU's *nodes*:
    a stale link to another GPU's node is an error, not a mount."""
    name = f"dri/by-path/pci-{address}-{suffix}"
    target = dev.resolve(name)
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return None
    if not stat.S_ISCHR(info.st_mode):
        raise DeviceNodeError(f"{owner}: {dev.spelt(name)} does not lead to a character device")
    if target not in {dev.resolve(f"dri/{node}") for node in nodes}:
        raise DeviceNodeError(
            f"{owner}: {dev.spelt(name)} leads to {target}, which is not a node of this GPU"
        )
    return Mount(
        host_path=target,
        container_path=f"{dev.mount_point.rstrip('/')}/{name}",
        options=BY_PATH_OPTIONS,
        type="none",
    )
