"""The AMD GPUs of a host as amd-ctk finds them in sysfs.

A GPU is a PCI device bound to amdgpu (an entry ``DDDD:BB:DD.F`` of
``/sys/module/amdgpu/drivers/pci:amdgpu``) or a partition of one
(``/sys/devices/platform/amdgpu_xcp_<N>``). Its ``drm/`` directory names its DRM nodes
(``card<N>``, ``renderD<N>``). A GPU counts only when its render minor is in the KFD
topology (:mod:`cdi.generate.kfd`): that is what ROCm can use, and it gives the PCI device the
GPU belongs to. GPUs are grouped by that parent, groups in PCI order, and a group's GPUs in
render-minor order, so a GPU's partitions follow it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from cdi.generate.errors import NoDevicesError
from cdi.generate.kfd import TOPOLOGY_NODES, render_minor_parents
from cdi.generate.subtree import Subtree

__all__ = ["DRIVER_DIR", "PARTITIONS", "PCI_GPUS", "AmdGpu", "find_amd_gpus"]

logger = logging.getLogger(__name__)

#: amd-ctk requires this directory: without it the amdgpu driver is not loaded.
DRIVER_DIR = "module/amdgpu/drivers"
#: PCI devices bound to amdgpu, by address (the driver directory also holds ``bind``,
#: ``new_id``, ``module``, ...).
PCI_GPUS = f"{DRIVER_DIR}/pci:amdgpu/[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]:*"
#: Compute partitions (amdgpu's XCP), one platform device each.
PARTITIONS = "devices/platform/amdgpu_xcp_*"

# amd-ctk takes any name starting "card" or "renderD"; only these are DRM nodes in /dev/dri.
_DRM_NAME = re.compile(r"(card|renderD)([0-9]+)")


@dataclass(frozen=True)
class AmdGpu:
    """One GPU or partition: its sysfs name, its DRM node names, what groups it."""

    #: The sysfs entry: a PCI address (``0000:03:00.0``) or ``amdgpu_xcp_<N>``.
    name: str
    partition: bool
    #: ``card<N>``, ``renderD<N>``: in minor order (cards first, as a glob lists them).
    drm_names: tuple[str, ...]
    render_minor: int
    #: The PCI device it belongs to, as the KFD topology gives it (``0000:03:00:0``).
    parent: str


def drm_names(sysfs: Subtree, device: str) -> tuple[str, ...]:
    """The DRM node names under *device*'s ``drm/``, by minor (then name)."""
    found = []
    for name in sysfs.listdir(f"{device}/drm"):
        match = _DRM_NAME.fullmatch(name)
        if match is not None:
            found.append((int(match.group(2)), name))
    return tuple(name for _, name in sorted(found))


def render_minor(names: tuple[str, ...]) -> int:
    """The minor of the first render node among *names*; 0 when there is none."""
    for name in names:
        match = _DRM_NAME.fullmatch(name)
        if match is not None and match.group(1) == "renderD":
            return int(match.group(2))
    return 0


def _describe(device: str, partition: bool) -> str:
    return f"AMD GPU partition {device}" if partition else f"AMD GPU {device}"


def find_amd_gpus(sysfs: Subtree, progress: Callable[[str], None] | None = None) -> list[AmdGpu]:
    """The GPUs under the sysfs subtree, in spec order; raises
    :class:`~cdi.generate.errors.NoDevicesError` when there is none."""
    report = progress or (lambda _line: None)
    if not sysfs.is_dir(DRIVER_DIR):
        raise NoDevicesError(
            f"no AMD GPU found: {sysfs.spelt(DRIVER_DIR)} does not exist"
            " (is the amdgpu driver loaded?)"
        )
    candidates = [(path, False) for path in sysfs.glob(PCI_GPUS)]
    candidates += [(path, True) for path in sysfs.glob(PARTITIONS)]
    if not candidates:
        raise NoDevicesError(
            f"no AMD GPU found in {sysfs.spelt(PCI_GPUS.rpartition('/')[0])}"
            f" or {sysfs.spelt(PARTITIONS)}"
        )
    parents = render_minor_parents(sysfs)
    gpus = []
    for path, partition in candidates:
        name = path.rpartition("/")[2]
        what = _describe(name, partition)
        names = drm_names(sysfs, path)
        minor = render_minor(names)
        if minor <= 0:
            report(f"skipping {what}: no render node in {sysfs.spelt(path + '/drm')}")
            continue
        parent = parents.get(minor)
        if parent is None:
            report(f"skipping {what}: renderD{minor} is not in the KFD topology")
            continue
        # The render node first: it is the one that names the GPU to ROCm.
        shown = [f"renderD{minor}", *(n for n in names if n != f"renderD{minor}")]
        report(f"found {what}: {', '.join(shown)}")
        gpus.append(AmdGpu(name, partition, names, minor, parent))
    if not gpus:
        raise NoDevicesError(
            f"no AMD GPU found: none of the {len(candidates)} amdgpu device(s) in"
            f" {sysfs.root} has a render node in the KFD topology"
            f" ({sysfs.spelt(TOPOLOGY_NODES)})"
        )
    # amd-ctk keeps groups in the order it first meets their parent; by PCI address instead,
    # the order is the same on real hosts and never depends on which GPU happened to map.
    return sorted(gpus, key=lambda gpu: (gpu.parent, gpu.render_minor, gpu.name))
