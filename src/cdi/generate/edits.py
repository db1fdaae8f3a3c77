"""Small builders for the edits generators produce."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cdi.spec.model import EMPTY_EDITS, ContainerEdits, Device, DeviceNode, Hook, Mount

#: Options of bind mounts of driver files (libraries, binaries, firmware, configs).
READ_ONLY_BIND = ("ro", "nosuid", "nodev", "rbind", "rprivate")
#: Options of bind mounts of the driver daemons' sockets, which must stay writable.
SOCKET_BIND = ("nosuid", "nodev", "rbind", "rprivate", "noexec")


def merge(parts: Iterable[ContainerEdits]) -> ContainerEdits:
    """The edits of *parts* one after the other (no de-duplication)."""
    env: list[str] = []
    nodes: list[DeviceNode] = []
    hooks: list[Hook] = []
    mounts: list[Mount] = []
    gids: list[int] = []
    for part in parts:
        env += part.env
        nodes += part.device_nodes
        hooks += part.hooks
        mounts += part.mounts
        gids += part.additional_gids
    return ContainerEdits(
        env=tuple(env),
        device_nodes=tuple(nodes),
        hooks=tuple(hooks),
        mounts=tuple(mounts),
        additional_gids=tuple(gids),
    )


def hooks_only(hooks: Iterable[Hook | None]) -> ContainerEdits:
    """Edits holding the hooks that are not ``None`` (turned off or empty ones drop out)."""
    return ContainerEdits(hooks=tuple(hook for hook in hooks if hook is not None))


def mount(host_path: str, container_path: str, options: tuple[str, ...] = READ_ONLY_BIND) -> Mount:
    return Mount(host_path=host_path, container_path=container_path, options=options)


@dataclass(frozen=True)
class Discovered:
    """What a discovery mode found: the named devices, and the edits all of them share.

    The transforms (de-duplication, simplification, sorting, the merged ``all`` device) and
    the version come later, once for every mode.
    """

    devices: tuple[Device, ...] = ()
    common: ContainerEdits = EMPTY_EDITS
