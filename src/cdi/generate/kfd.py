"""The KFD topology: which PCI device each AMD render node belongs to.

The amdkfd driver describes every compute node (CPUs and GPUs, GPU partitions included) in
``/sys/class/kfd/kfd/topology/nodes/<N>/properties``: one ``name value`` pair a line, values
decimal. A GPU node names its DRM render minor (``drm_render_minor 128``) and its PCI place
(``location_id``: bus, device and function packed as ``bus << 8 | device << 3 | function``;
``domain``). A CPU node has no render minor, or 0.

Partitions of one GPU (``amdgpu_xcp_*``) have render nodes of their own but share the GPU's
``location_id``, which is how amd-ctk groups them with it. The group key is amd-ctk's
``%04x:%02x:%02x:0``: domain, bus, device and a literal 0 (the function is dropped).
"""

from __future__ import annotations

import logging

from cdi.generate.subtree import Subtree

__all__ = ["TOPOLOGY_NODES", "parent_pci_id", "parse_properties", "render_minor_parents"]

logger = logging.getLogger(__name__)

#: The topology's node directories, relative to the sysfs root.
TOPOLOGY_NODES = "class/kfd/kfd/topology/nodes"


def parse_properties(text: str) -> dict[str, int]:
    """The ``name value`` pairs of a ``properties`` file whose value is a decimal number.

    Other lines are skipped, as amd-ctk skips what its patterns do not match; a name given
    twice keeps its first value.
    """
    properties: dict[str, int] = {}
    for line in text.splitlines():
        name, _, value = line.strip().partition(" ")
        value = value.strip()
        if name and value.isascii() and value.isdigit():
            properties.setdefault(name, int(value))
    return properties


def parent_pci_id(location_id: int, domain: int) -> str:
    """amd-ctk's key for the PCI device at *location_id* in *domain*: ``0000:03:00:0``."""
    bus = (location_id >> 8) & 0xFF
    device = (location_id >> 3) & 0x1F
    return f"{domain:04x}:{bus:02x}:{device:02x}:0"


def _node_order(name: str) -> tuple[int, int, str]:
    """Nodes by number (``2`` before ``10``), anything else after them by name."""
    return (0, int(name), name) if name.isascii() and name.isdigit() else (1, 0, name)


def render_minor_parents(sysfs: Subtree) -> dict[int, str]:
    """The parent key (:func:`parent_pci_id`) of every render minor the topology names.

    Nodes without a render minor above 0 (CPUs) are left out, and so are nodes whose
    ``properties`` cannot be read. A missing ``location_id`` or ``domain`` counts as 0, as in
    amd-ctk (kernels before 5.x have no ``domain``). Where two nodes claim one render minor,
    the lower-numbered node wins (amd-ctk's answer depends on its glob's order).
    """
    parents: dict[int, str] = {}
    for name in sorted(sysfs.listdir(TOPOLOGY_NODES), key=_node_order):
        path = f"{TOPOLOGY_NODES}/{name}/properties"
        try:
            properties = parse_properties(sysfs.read_text(path))
        except OSError as error:
            logger.debug("skipping KFD node %s: %s", sysfs.spelt(path), error)
            continue
        minor = properties.get("drm_render_minor", 0)
        if minor <= 0:
            continue
        parent = parent_pci_id(properties.get("location_id", 0), properties.get("domain", 0))
        known = parents.setdefault(minor, parent)
        if known != parent:
            logger.warning(
                "KFD node %s claims render minor %d for %s, already taken by %s: ignored",
                name,
                minor,
                parent,
                known,
            )
    return parents
