"""``cdi generate amd``: a CDI spec for the AMD GPUs of a host, as ``amd-ctk cdi generate``
writes it.

The GPUs (and their compute partitions) come from sysfs (:mod:`cdi.generate.amdgpus`); each
becomes a device named by its position, ``"0"`` ... ``"N-1"``, holding its DRM nodes and then
``/dev/kfd``, the compute interface every GPU shares. Device ``all`` holds every DRM node and
``/dev/kfd`` once. Kind ``amd.com/gpu``; no spec-wide edits.

Every node is described from the host node (``lstat``): ``type: c``, major, minor,
``fileMode``, ``permissions: rwm``, ``uid: 0``, ``gid``, as amd-ctk writes them. Where amd-ctk
goes wrong, on purpose differently (docs/compatibility.md):

* a node that cannot be stat-ed (or is no character device) is an error naming it; amd-ctk
  writes it as 0:0 with mode 0;
* no GPU is :class:`~cdi.generate.errors.NoDevicesError`; amd-ctk writes a spec whose only
  device, ``all``, is ``/dev/kfd``;
* ``cdiVersion`` is the lowest version that can express the spec (0.5.0: the device names
  start with a digit, and a ``--dev-root`` adds hostPaths, also 0.5.0); amd-ctk writes
  0.6.0 whatever the content. Both versions read the same; the lower one loads in more
  runtimes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

from cdi.generate.amdgpus import AmdGpu, find_amd_gpus
from cdi.generate.compare import compare_specs
from cdi.generate.devicenode import device_node
from cdi.generate.errors import DeviceNodeError
from cdi.generate.subtree import Subtree
from cdi.spec.model import ContainerEdits, Device, DeviceNode, Spec
from cdi.spec.record import replace
from cdi.spec.version import minimum_version

__all__ = ["KIND", "DeviceNodeError", "compare_specs", "generate_amd"]

KIND = "amd.com/gpu"
#: The compute (KFD) node, relative to the dev root.
KFD = "kfd"


class _Nodes:
    """The spec entries of nodes under the dev subtree, each node stat-ed once."""

    def __init__(self, dev: Subtree) -> None:
        self.dev = dev
        self._known: dict[str, DeviceNode] = {}

    def get(self, relative: str) -> DeviceNode:
        node = self._known.get(relative)
        if node is None:
            node = self._known[relative] = self._describe(relative)
        return node

    def _describe(self, relative: str) -> DeviceNode:
        spelt = self.dev.spelt(relative)
        host = self.dev.resolve(relative)
        shown = spelt if host == spelt else f"{spelt} (resolved to {host})"
        try:
            info = os.lstat(host)
        except OSError as error:
            raise DeviceNodeError(f"cannot stat device node {shown}: {error.strerror}") from error
        if not stat.S_ISCHR(info.st_mode):
            raise DeviceNodeError(f"device node {shown} is not a character device")
        node = device_node(f"/dev/{relative}", host, stat=lambda _path: info)
        # amd-ctk always writes uid 0 and the group, root's included.
        return replace(node, type="c", uid=0, gid=info.st_gid)


def _device(name: str, nodes: list[DeviceNode]) -> Device:
    return Device(name=name, container_edits=ContainerEdits(device_nodes=tuple(nodes)))


def build_spec(gpus: list[AmdGpu], dev: Subtree) -> Spec:
    """The spec for *gpus* (in spec order), nodes described from the dev subtree."""
    nodes = _Nodes(dev)
    kfd = nodes.get(KFD)
    devices = []
    every: list[DeviceNode] = []
    for index, gpu in enumerate(gpus):
        drm = [nodes.get(f"dri/{name}") for name in gpu.drm_names]
        devices.append(_device(str(index), [*drm, kfd]))
        every.extend(drm)
    devices.append(_device("all", [*every, kfd]))
    spec = Spec(cdi_version="0.3.0", kind=KIND, devices=tuple(devices))
    return replace(spec, cdi_version=minimum_version(spec))


def generate_amd(
    *,
    sysfs_root: str = "/sys",
    dev_root: str = "/dev",
    progress: Callable[[str], None] | None = None,
) -> Spec:
    """The spec for the AMD GPUs that sysfs at *sysfs_root* describes, their nodes found
    under *dev_root* (standing for ``/dev``; when it is another directory, each node's
    ``hostPath`` is its path there). *progress* gets a line for each GPU found or skipped.

    Raises :class:`~cdi.generate.errors.NoDevicesError` when there is no usable GPU and
    another :class:`~cdi.generate.errors.GenerateError` (:class:`DeviceNodeError`,
    :class:`~cdi.generate.subtree.OutsideTreeError`, ...) for anything else in the way.
    """
    sysfs = Subtree(sysfs_root, "/sys")
    dev = Subtree(dev_root, "/dev")
    return build_spec(find_amd_gpus(sysfs, progress), dev)
