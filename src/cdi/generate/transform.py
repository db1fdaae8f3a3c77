"""Post-processing of generated specs, as ``nvidia-ctk`` does it before writing.

Discovery produces devices and common edits with repetitions and in discovery order. The
spec is then made concise and stable: entities are de-duplicated, device edits lose what the
common edits already give every container, devices and the nodes and mounts of each edit
are sorted, and a device ``all`` merging every device is added. Running the generator twice
on the same host therefore gives the same bytes.

The order of the steps is the reference's (hardware-generators.md section 2.1): dedupe,
simplify, sort, and then the merged ``all`` device, built from the devices as they are
after those steps (so in sorted name order) and put through the three steps again.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import TypeVar

from cdi.generate.edits import merge
from cdi.gopath import depth
from cdi.spec import record
from cdi.spec.model import EMPTY_EDITS, ContainerEdits, Device, DeviceNode, Mount, Spec
from cdi.spec.version import minimum_version

__all__ = [
    "ALL_DEVICE",
    "assemble",
    "dedupe",
    "merged_all_device",
    "simplify",
    "sort_devices",
    "sort_edits",
]

#: The name of the merged device.
ALL_DEVICE = "all"

_T = TypeVar("_T", bound=Hashable)


def _unique(items: Iterable[_T]) -> tuple[_T, ...]:
    """*items* without repetitions, first occurrences kept in order."""
    return tuple(dict.fromkeys(items))


def dedupe(edits: ContainerEdits) -> ContainerEdits:
    """*edits* with each device node, mount, hook and env entry once (the first occurrence,
    order kept) and the additional GIDs unique and ascending.

    Entities compare as whole objects, as the reference compares their JSON: two mounts of
    one path with different options both stay.
    """
    return record.replace(
        edits,
        env=_unique(edits.env),
        device_nodes=_unique(edits.device_nodes),
        hooks=_unique(edits.hooks),
        mounts=_unique(edits.mounts),
        additional_gids=tuple(sorted(set(edits.additional_gids))),
    )


def _without_common(edits: ContainerEdits, common: ContainerEdits) -> ContainerEdits:
    env, nodes = set(common.env), set(common.device_nodes)
    hooks, mounts, gids = set(common.hooks), set(common.mounts), set(common.additional_gids)
    return record.replace(
        edits,
        env=tuple(item for item in edits.env if item not in env),
        device_nodes=tuple(item for item in edits.device_nodes if item not in nodes),
        hooks=tuple(item for item in edits.hooks if item not in hooks),
        mounts=tuple(item for item in edits.mounts if item not in mounts),
        additional_gids=tuple(item for item in edits.additional_gids if item not in gids),
    )


def simplify(devices: Sequence[Device], common: ContainerEdits) -> tuple[Device, ...]:
    """*devices* without the entities (nodes, mounts, hooks, env, GIDs) that *common* has.

    A device that would be left with no edits at all keeps its own: a device must change
    something to be valid, and what it gives is then merely given twice.
    """
    result = []
    for device in devices:
        edits = _without_common(device.container_edits, common)
        if edits.is_empty():
            edits = device.container_edits
        result.append(record.replace(device, container_edits=edits))
    return tuple(result)


def _node_key(node: DeviceNode) -> tuple[int, str]:
    return depth(node.path), node.path


def _mount_key(mount: Mount) -> tuple[int, str]:
    return depth(mount.container_path), mount.container_path


def sort_edits(edits: ContainerEdits) -> ContainerEdits:
    """*edits* with device nodes and mounts ordered by container path: first by the number
    of ``/`` in the cleaned path (parents before what is below them), then by the path.

    The sort is stable; hooks and env keep their order, which can matter (a hook that
    creates links runs before the one that updates the linker cache).
    """
    return record.replace(
        edits,
        device_nodes=tuple(sorted(edits.device_nodes, key=_node_key)),
        mounts=tuple(sorted(edits.mounts, key=_mount_key)),
    )


def sort_devices(devices: Sequence[Device]) -> tuple[Device, ...]:
    """*devices* by name in byte order (``0 < 1 < 10 < 2 < GPU-... < MIG-... < all``), the
    edits of each sorted by :func:`sort_edits`."""
    ordered = sorted(devices, key=lambda device: device.name)
    return tuple(
        record.replace(device, container_edits=sort_edits(device.container_edits))
        for device in ordered
    )


def _concise(
    devices: Sequence[Device], common: ContainerEdits
) -> tuple[tuple[Device, ...], ContainerEdits]:
    """Dedupe, simplify and sort *devices* and *common*."""
    common = dedupe(common)
    deduped = [
        record.replace(device, container_edits=dedupe(device.container_edits)) for device in devices
    ]
    return sort_devices(simplify(deduped, common)), sort_edits(common)


def merged_all_device(
    devices: Sequence[Device], common: ContainerEdits = EMPTY_EDITS, *, name: str = ALL_DEVICE
) -> Device:
    """One device named *name* with the edits of every device in *devices* one after the
    other, de-duplicated, simplified against *common* and sorted."""
    merged = Device(name, container_edits=merge(d.container_edits for d in devices))
    return _concise([merged], common)[0][0]


def assemble(
    kind: str, devices: Sequence[Device], common: ContainerEdits, *, add_all: bool
) -> Spec:
    """The spec of *kind* (``vendor/class``) for discovered *devices* and *common* edits.

    Dedupe, simplify and sort; then, with *add_all* and unless a device is already named
    ``all``, the merged ``all`` device. ``cdiVersion`` is the oldest version that can hold
    the result, as the reference writer sets it.
    """
    ordered, common = _concise(devices, common)
    if add_all and not any(device.name == ALL_DEVICE for device in ordered):
        ordered = sort_devices([*ordered, merged_all_device(ordered, common)])
    spec = Spec(cdi_version="", kind=kind, devices=ordered, container_edits=common)
    return record.replace(spec, cdi_version=minimum_version(spec))
