"""Intel accelerators found in sysfs: Gaudi (``habanalabs``) and NPU (``intel_vpu``).

Both are PCI functions bound to their driver, each with compute nodes in the kernel's accel
subsystem, listed in the device's ``accel/`` directory (``accel0`` -> ``/dev/accel/accel0``).

* Gaudi also gets its control node ``/dev/accel/accel_controlD<N>`` where the driver made one,
  and the ``/dev/infiniband/uverbsN`` nodes of its integrated NICs: the entries of
  ``<sysfs>/class/infiniband_verbs`` that lie below the device.
* The NPU gets its accel nodes only. Intel's generator also names
  ``/dev/accel/accel_controlD<N>`` for it, a node the ``ivpu`` driver never creates, so the
  runtime fails to start the container; we never write it.

A device bound to the driver without an accel node is skipped with a progress line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from cdi.generate.hostnode import char_node, optional_char_node
from cdi.generate.intel_device import IntelDevice, device_edits, pci_uid
from cdi.generate.pci import child_names, class_members, pci_devices
from cdi.generate.subtree import Subtree
from cdi.spec.model import ContainerEdits

__all__ = ["ACCELERATORS", "Accelerator", "find_accelerators"]

_ACCEL = re.compile(r"accel[0-9]+")
_UVERBS = re.compile(r"uverbs[0-9]+")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Accelerator:
    """One accelerator family: what it is called and how its devices are told apart."""

    #: ``Intel Gaudi``: names the devices in messages.
    title: str
    #: The driver its devices are bound to.
    driver: str
    #: Whether the control node and the NIC nodes belong to a device.
    with_control_and_nics: bool


ACCELERATORS = {
    "gaudi": Accelerator("Intel Gaudi", "habanalabs", with_control_and_nics=True),
    "npu": Accelerator("Intel NPU", "intel_vpu", with_control_and_nics=False),
}


def find_accelerators(
    family: Accelerator, sysfs: Subtree, dev: Subtree, progress: Progress
) -> list[IntelDevice]:
    """Every device of *family* with an accel node, in PCI address order."""
    found = []
    for device in pci_devices(sysfs):
        if device.driver != family.driver:
            continue
        owner = f"{family.title} {device.address}"
        accels = child_names(sysfs, device, "accel", _ACCEL)
        if not accels:
            progress(f"skipping {owner}: sysfs lists no accel node")
            continue
        names: list[str] = []
        nodes: list[ContainerEdits] = []
        for accel in accels:
            names.append(f"accel/{accel}")
            nodes.append(char_node(dev, names[-1], owner=owner))
            if family.with_control_and_nics:
                control = f"accel/accel_controlD{accel.removeprefix('accel')}"
                edits = optional_char_node(dev, control, owner=owner)
                if edits is not None:
                    names.append(control)
                    nodes.append(edits)
        if family.with_control_and_nics:
            for uverbs in class_members(sysfs, device, "infiniband_verbs", _UVERBS):
                names.append(f"infiniband/{uverbs}")
                nodes.append(char_node(dev, names[-1], owner=owner))
        progress(f"found {owner}: {', '.join(names)}")
        found.append(
            IntelDevice(
                address=device.address,
                uid=pci_uid(device, owner),
                classic_name=accels[0],
                edits=device_edits(nodes),
            )
        )
    return found
