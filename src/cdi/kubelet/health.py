"""Device health as the device plugin reports it: are a device's host nodes there?

The rule: a device is ``Healthy`` when every device node that its injection would need from
the host exists there as a device node, else ``Unhealthy``. The nodes counted are those of
the device's own edits and of its spec's edits (injected with every device of the spec);
the host path of each is its ``hostPath``, else its ``path``. A device node is what
injection itself accepts: a character or block device or a FIFO, looked up with ``lstat``
(a symlink to a device is not one, as for injection). A device without device nodes (only
environment variables, mounts or hooks) is always ``Healthy``.

So a device is reported unhealthy exactly when a container given it could fail to start
because a node is missing: the kubelet then stops allocating it. A node given with its type
and numbers (which injection could create without a host device) still counts: its absence
on the host means the hardware is gone. Anything else a device may need (a driver, a
mount's source) is not checked.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable
from dataclasses import dataclass

from cdi.injection import StatDevice, lstat_device
from cdi.registry import RegisteredDevice, Registry
from cdi.spec.model import ContainerEdits

HEALTHY = "Healthy"
UNHEALTHY = "Unhealthy"

_NODE_TYPES = (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO)


@dataclass(frozen=True)
class DeviceStatus:
    """One device as ``ListAndWatch`` sends it: its ID (the name within the kind), its
    health, and, when unhealthy, the host paths that are missing."""

    id: str
    health: str
    missing: tuple[str, ...] = ()


def host_node_paths(edits: Iterable[ContainerEdits]) -> list[str]:
    """The host paths of the device nodes of *edits*, each once, in order."""
    paths: list[str] = []
    for item in edits:
        for node in item.device_nodes:
            path = node.host_path or node.path
            if path not in paths:
                paths.append(path)
    return paths


def is_device_node(path: str, stat_device: StatDevice = lstat_device) -> bool:
    """Whether *path* is a device node on the host (any error, such as ``EACCES``: no)."""
    try:
        mode = stat_device(path).st_mode
    except OSError:
        return False
    return stat.S_IFMT(mode) in _NODE_TYPES


def device_status(
    device_id: str, device: RegisteredDevice, stat_device: StatDevice = lstat_device
) -> DeviceStatus:
    """The health of *device* (registered as *device_id* within its kind)."""
    paths = host_node_paths([device.spec.spec.container_edits, device.device.container_edits])
    missing = tuple(path for path in paths if not is_device_node(path, stat_device))
    return DeviceStatus(device_id, UNHEALTHY if missing else HEALTHY, missing)


def kind_device_ids(registry: Registry, kind: str) -> list[str]:
    """The IDs of *kind*'s devices, in the registry's order (sorted by name)."""
    prefix = kind + "="
    return [name[len(prefix) :] for name in registry.list_devices() if name.startswith(prefix)]


def kind_statuses(
    registry: Registry, kind: str, stat_device: StatDevice | None = None
) -> tuple[DeviceStatus, ...]:
    """Every device of *kind* with its health, in the registry's order."""
    check = stat_device if stat_device is not None else lstat_device
    statuses: list[DeviceStatus] = []
    for device_id in kind_device_ids(registry, kind):
        found = registry.get_device(f"{kind}={device_id}")
        if found is not None:  # gone between the listing and now: next round lists it
            statuses.append(device_status(device_id, found, check))
    return tuple(statuses)
