"""What the Intel scans find: one record per PCI device, named by either naming scheme.

Intel's generator knows two naming schemes (``--naming``):

* ``machine``: the device's UID, ``<domain>-<bus>-<slot>-<function>-0x<device id>``
  (``0000-03-00-0-0x56a0``), unique per PCI function and stable across reboots;
* ``classic``: the name of the device's first node (``card1`` for a GPU, ``accel0`` for
  Gaudi and NPU), as users know it from ``/dev``. A device without such a node (a GPU bound to
  ``vfio-pci`` has no DRM card) is named by its UID instead, so that it can neither vanish nor
  take another device's name. Under Intel's classic naming such GPUs (which have no card
  name) collide, and all but one of them are lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cdi.generate.edits import merge
from cdi.generate.errors import GenerateError
from cdi.generate.pci import PciDevice
from cdi.gotext import quote
from cdi.spec.model import EMPTY_EDITS, ContainerEdits

__all__ = [
    "NAMINGS",
    "DuplicateNameError",
    "IntelDevice",
    "check_unique",
    "device_edits",
    "device_name",
    "pci_uid",
]

#: The naming schemes, the default first.
NAMINGS = ("classic", "machine")


class DuplicateNameError(GenerateError):
    """Two devices would get the same name: nothing is written rather than one lost."""


@dataclass(frozen=True)
class IntelDevice:
    """One device found: its PCI function, its names, and what a container gets."""

    #: ``0000:03:00.0``.
    address: str
    #: The UID (machine name).
    uid: str
    #: The classic name, empty when the device has no node to name it after.
    classic_name: str
    #: The device's nodes and mounts.
    edits: ContainerEdits
    #: The nodes of the GPU's management engine (``intel.com/gpu-mei``), if any.
    mei_edits: ContainerEdits = EMPTY_EDITS


def pci_uid(device: PciDevice, owner: str) -> str:
    """The UID of *device*: ``<domain>-<bus>-<slot>-<function>-0x<device id>``."""
    if device.device is None:
        raise GenerateError(f"{owner}: cannot read its PCI device id")
    return f"{device.domain}-{device.bus}-{device.slot}-{device.function}-0x{device.device:04x}"


def device_name(device: IntelDevice, naming: str) -> str:
    """The spec device name of *device* under *naming*."""
    if naming == "classic" and device.classic_name:
        return device.classic_name
    return device.uid


def check_unique(devices: Iterable[IntelDevice], naming: str, what: str) -> None:
    """Raise :class:`DuplicateNameError` when two *devices* get one name."""
    seen: dict[str, str] = {}
    for device in devices:
        name = device_name(device, naming)
        if name in seen:
            raise DuplicateNameError(
                f"two {what} devices would be named {quote(name)}:"
                f" {seen[name]} and {device.address}"
            )
        seen[name] = device.address


def device_edits(parts: Iterable[ContainerEdits]) -> ContainerEdits:
    """*parts* merged, each additional group once (two nodes of one group need it once)."""
    merged = merge(parts)
    gids = tuple(dict.fromkeys(merged.additional_gids))
    if gids == merged.additional_gids:
        return merged
    return ContainerEdits(
        env=merged.env,
        device_nodes=merged.device_nodes,
        hooks=merged.hooks,
        mounts=merged.mounts,
        additional_gids=gids,
    )
