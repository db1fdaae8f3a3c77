"""What each generator reads, as the paths ``--watch`` polls (:mod:`cdi.generate.fingerprint`).

For every generator: the driver module's sysfs directory (it appears, disappears and gets
new inodes when the module is loaded, unloaded or reloaded) and its ``version`` attribute
(out-of-tree modules such as amdgpu-dkms or habanalabs have one), the sysfs directories the
generator scans, and the ``/dev`` directories its nodes live in. Patterns are relative to
the sysfs root and the dev root given to the generator, which stand for ``/sys`` and
``/dev`` (read as the generators read them, :class:`~cdi.generate.subtree.Subtree`).

A list errs on the side of watching more: a change that does not change the spec costs
one generation, whose output is then found equal to the file and not written.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from cdi.generate.fingerprint import Watched

__all__ = [
    "INTEL_DRIVERS",
    "amd_inputs",
    "devices_inputs",
    "in_dev",
    "in_sys",
    "intel_inputs",
    "module_inputs",
]

#: The kernel modules behind each Intel family (sysfs spells ``-`` as ``_``). A GPU's MEI
#: nodes come from mei_gsc and mei_gsc_proxy (mei_me is the host's own engine, never a GPU's).
INTEL_DRIVERS: dict[str, tuple[str, ...]] = {
    "gpu": ("i915", "xe", "vfio_pci", "xe_vfio_pci", "mei_gsc", "mei_gsc_proxy"),
    "gaudi": ("habanalabs",),
    "npu": ("intel_vpu",),
}


def in_sys(sysfs_root: str, pattern: str) -> Watched:
    """*pattern* under the directory standing for ``/sys``."""
    return Watched(sysfs_root, "/sys", pattern)


def in_dev(dev_root: str, pattern: str) -> Watched:
    """*pattern* under the directory standing for ``/dev``."""
    return Watched(dev_root, "/dev", pattern)


def module_inputs(sysfs_root: str, *modules: str) -> list[Watched]:
    """The sysfs directory and ``version`` attribute of each kernel module."""
    found: list[Watched] = []
    for module in modules:
        found += [
            in_sys(sysfs_root, f"module/{module}"),
            in_sys(sysfs_root, f"module/{module}/version"),
        ]
    return found


def amd_inputs(sysfs_root: str = "/sys", dev_root: str = "/dev") -> list[Watched]:
    """What :func:`cdi.generate.amd.generate_amd` reads: the GPUs bound to amdgpu, the
    compute partitions, their DRM entries, the KFD topology, ``/dev/dri`` and ``/dev/kfd``."""
    return [
        *module_inputs(sysfs_root, "amdgpu"),
        in_sys(sysfs_root, "module/amdgpu/drivers/pci:amdgpu"),
        in_sys(sysfs_root, "module/amdgpu/drivers/pci:amdgpu/*/drm"),
        in_sys(sysfs_root, "devices/platform"),
        in_sys(sysfs_root, "devices/platform/amdgpu_xcp_*/drm"),
        in_sys(sysfs_root, "class/kfd/kfd/topology/nodes"),
        in_sys(sysfs_root, "class/kfd/kfd/topology/nodes/*/properties"),
        in_dev(dev_root, "dri"),
        in_dev(dev_root, "kfd"),
    ]


def intel_inputs(family: str, sysfs_root: str = "/sys", dev_root: str = "/dev") -> list[Watched]:
    """What :func:`cdi.generate.intel.generate_intel` reads for *family*: the PCI devices
    (and the driver each is bound to), the family's modules and its ``/dev`` directories."""
    found = [
        *module_inputs(sysfs_root, *INTEL_DRIVERS[family]),
        in_sys(sysfs_root, "bus/pci/devices"),
        in_sys(sysfs_root, "bus/pci/devices/*/driver"),
    ]
    if family == "gpu":
        found += [
            in_sys(sysfs_root, "bus/pci/devices/*/drm"),
            in_sys(sysfs_root, "bus/pci/devices/*/vfio-dev"),
            in_sys(sysfs_root, "bus/pci/devices/*/iommu_group"),
            in_sys(sysfs_root, "class/mei"),
            in_dev(dev_root, "dri"),
            in_dev(dev_root, "dri/by-path"),
            in_dev(dev_root, "vfio"),
            in_dev(dev_root, "vfio/devices"),
            in_dev(dev_root, "mei*"),
        ]
    else:
        found += [in_sys(sysfs_root, "bus/pci/devices/*/accel"), in_dev(dev_root, "accel")]
        if family == "gaudi":
            found += [
                in_sys(sysfs_root, "class/infiniband_verbs"),
                in_dev(dev_root, "infiniband"),
            ]
    return found


def devices_inputs(
    device_globs: Sequence[str] = (),
    sysfs_class: str | None = None,
    sysfs_root: str = "/sys",
    dev_root: str = "/dev",
) -> list[Watched]:
    """What :func:`cdi.generate.devices.generate_devices` reads: the nodes each glob matches
    (and the directory each glob searches, so that a new match shows), and the entries of
    the sysfs class with their ``dev`` numbers."""
    found: list[Watched] = []
    for pattern in device_globs:
        under_dev = _under_dev(pattern)
        found += [in_dev(dev_root, posixpath.dirname(under_dev)), in_dev(dev_root, under_dev)]
    if sysfs_class:
        found += [
            in_sys(sysfs_root, f"class/{sysfs_class}"),
            in_sys(sysfs_root, f"class/{sysfs_class}/*/dev"),
            in_sys(sysfs_root, f"class/{sysfs_class}/*/device"),
        ]
    return list(dict.fromkeys(found))  # two globs in one directory watch it once


def _under_dev(pattern: str) -> str:
    """The ``/dev`` path *pattern* (``/dev/fpga*``) relative to ``/dev`` (``fpga*``)."""
    path = posixpath.normpath("/" + pattern.lstrip("/"))
    if path == "/dev" or path.startswith("/dev/"):
        path = path[len("/dev") :]
    return path.lstrip("/")
