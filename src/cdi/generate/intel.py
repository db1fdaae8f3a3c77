"""Specs for Intel GPUs, Gaudi and NPU accelerators: ``intel-cdi-specs-generator`` semantics.

One call scans sysfs for one device family and returns its specs:

========  ===================================  ============================================
family    kinds                                found by
========  ===================================  ============================================
gpu       ``intel.com/gpu``, and               vendor 0x8086, display class; i915, xe or
          ``intel.com/gpu-mei`` when a GPU     VFIO-bound (:mod:`cdi.generate.intel_gpu`)
          has MEI nodes
gaudi     ``intel.com/gaudi``                  bound to habanalabs (:mod:`.intel_accel`)
npu       ``intel.com/npu``                    bound to intel_vpu (:mod:`.intel_accel`)
========  ===================================  ============================================

Devices are named by *naming* (:mod:`cdi.generate.intel_device`). Unlike Intel's tool, the
output is sorted by PCI address (Intel's follows Go's randomised map order), a GPU without a
DRM card is never lost under classic naming, only nodes that exist are written, and nothing
is read outside *sysfs_root* and *dev_root* (Intel's tool reads the host's ``/sys`` and
``/dev`` when a path under its roots is missing). ``cdiVersion`` is the minimum the spec
needs, as Intel's tool sets it.
"""

from __future__ import annotations

from collections.abc import Callable

from cdi.generate.errors import GenerateError, NoDevicesError
from cdi.generate.intel_accel import ACCELERATORS, find_accelerators
from cdi.generate.intel_device import (
    NAMINGS,
    IntelDevice,
    check_unique,
    device_name,
)
from cdi.generate.intel_gpu import find_gpus
from cdi.generate.pci import PCI_DEVICES_DIR
from cdi.generate.subtree import Subtree
from cdi.gotext import quote
from cdi.spec.model import Device, Spec
from cdi.spec.record import replace
from cdi.spec.version import minimum_version

__all__ = ["FAMILIES", "NAMINGS", "IntelOptionError", "generate_intel"]

#: The device families, as the subcommands of Intel's tool name them.
FAMILIES = ("gpu", "gaudi", "npu")

_KINDS = {"gpu": "intel.com/gpu", "gaudi": "intel.com/gaudi", "npu": "intel.com/npu"}
MEI_KIND = "intel.com/gpu-mei"

#: What each family is looked for by, for the message when none is found.
_SEARCHED = {
    "gpu": (
        "Intel GPU",
        "vendor 0x8086, class 0x030000 or 0x038000, driver i915, xe, vfio-pci or xe-vfio-pci",
    ),
    "gaudi": ("Intel Gaudi", "driver habanalabs, an accel node"),
    "npu": ("Intel NPU", "driver intel_vpu, an accel node"),
}


class IntelOptionError(GenerateError, ValueError):
    """An unknown device family or naming scheme."""


def generate_intel(
    family: str,
    *,
    sysfs_root: str = "/sys",
    dev_root: str = "/dev",
    naming: str = "classic",
    progress: Callable[[str], None] | None = None,
) -> list[Spec]:
    """The specs for the Intel devices of *family* (``gpu``, ``gaudi``, ``npu``) found under
    *sysfs_root* and *dev_root*: for ``gpu`` the ``intel.com/gpu`` spec, then the
    ``intel.com/gpu-mei`` spec when any GPU has MEI nodes; one spec otherwise.

    *progress* gets one line per device found or skipped. Raises :class:`NoDevicesError`
    when there is no such device, another :class:`GenerateError` for anything else (a node
    sysfs names that the dev root lacks, a link out of a root, two devices with one name).
    """
    if family not in FAMILIES:
        raise IntelOptionError(
            f"unknown Intel device family {quote(family)} (expected gpu, gaudi or npu)"
        )
    if naming not in NAMINGS:
        raise IntelOptionError(f"unknown naming {quote(naming)} (expected classic or machine)")
    report = progress if progress is not None else _ignore
    sysfs = Subtree(sysfs_root, "/sys")
    dev = Subtree(dev_root, "/dev")
    if family == "gpu":
        found = find_gpus(sysfs, dev, report)
    else:
        found = find_accelerators(ACCELERATORS[family], sysfs, dev, report)
    title, criteria = _SEARCHED[family]
    if not found:
        directory = sysfs.spelt(PCI_DEVICES_DIR)
        if not sysfs.is_dir(PCI_DEVICES_DIR):
            raise NoDevicesError(f"no {title} found: {directory} does not exist")
        raise NoDevicesError(f"no {title} found in {directory} ({criteria})")
    check_unique(found, naming, title)
    specs = [_spec(_KINDS[family], found, naming, mei=False)]
    if any(not device.mei_edits.is_empty() for device in found):
        specs.append(_spec(MEI_KIND, found, naming, mei=True))
    return specs


def _spec(kind: str, found: list[IntelDevice], naming: str, *, mei: bool) -> Spec:
    devices = tuple(
        Device(
            name=device_name(device, naming),
            container_edits=device.mei_edits if mei else device.edits,
        )
        for device in found
        if not (mei and device.mei_edits.is_empty())
    )
    spec = Spec(cdi_version="", kind=kind, devices=devices)
    return replace(spec, cdi_version=minimum_version(spec))


def _ignore(_line: str) -> None:
    pass
