"""``transform root``: a spec moved from one root directory to another.

A spec generated for a driver installed under one directory (``/run/nvidia/driver``, a
driver container's root) is made to work where the same files are seen under another
(``/``), as ``nvidia-ctk cdi transform root`` does. Paths move only at a component
boundary: with ``--from /opt``, ``/opt`` and ``/opt/lib`` move, ``/optional`` does not.

Relative to ``host`` the paths on the host side move: device node host paths (taken from
the node's path when it has none), mount sources, hook programs (not those of
``startContainer`` hooks, which run inside the container), and the arguments of the hooks
that run outside the container's view (``prestart``, ``createRuntime``, ``poststart``,
``poststop``). Relative to ``container`` the paths inside the container move: device node
paths, mount targets, ``startContainer`` hook programs, and the arguments of
``createContainer`` and ``startContainer`` hooks. An argument ``target::link`` (the
``create-symlinks`` form) moves on both sides of the ``::``.

The spec is not simplified, and its ``cdiVersion`` is kept unless the result needs a newer
one (a device node gaining a ``hostPath`` needs 0.5.0): the reference keeps it regardless
and then fails to write a spec it made invalid.
"""

from __future__ import annotations

from collections.abc import Callable

from cdi.generate.errors import GenerateError
from cdi.gopath import clean
from cdi.spec import record
from cdi.spec.model import ContainerEdits, Device, DeviceNode, Hook, Mount, Spec
from cdi.spec.version import is_newer, reference_minimum_version

__all__ = ["RELATIVE_TO", "RerootError", "move_path", "reroot"]

#: What ``--relative-to`` accepts.
RELATIVE_TO = ("host", "container")

_CREATE_CONTAINER = "createContainer"
_START_CONTAINER = "startContainer"
#: Hooks whose arguments name paths in the container's view.
_CONTAINER_VIEW_HOOKS = frozenset({_CREATE_CONTAINER, _START_CONTAINER})


class RerootError(GenerateError, ValueError):
    """The transformation asked for is not one there is."""


def move_path(path: str, source: str, target: str) -> str:
    """*path* with the root *source* replaced by *target*, when *path* is *source* or lies
    below it; otherwise *path* unchanged. Only the prefix changes: the rest of the path is
    kept as written."""
    base = source.rstrip("/")  # "/" itself becomes "", under which every absolute path lies
    if path == source or (base and path == base):
        return target
    if not path.startswith(base + "/"):
        return path
    return target.rstrip("/") + path[len(base) :]


def _move_argument(argument: str, move: Callable[[str], str]) -> str:
    if "::" in argument:
        target, _, link = argument.partition("::")
        return f"{move(target)}::{move(link)}"
    return move(argument)


def _move_hook(hook: Hook, move: Callable[[str], str], container: bool) -> Hook:
    starts_inside = hook.hook_name == _START_CONTAINER
    path = move(hook.path) if starts_inside == container else hook.path
    in_container_view = hook.hook_name in _CONTAINER_VIEW_HOOKS
    args = hook.args
    if in_container_view == container:
        args = tuple(_move_argument(argument, move) for argument in hook.args)
    return record.replace(hook, path=path, args=args)


def _move_node(node: DeviceNode, move: Callable[[str], str], container: bool) -> DeviceNode:
    if container:
        path = move(node.path)
        # An empty hostPath means "the same as path": keep the host side where it was.
        host_path = node.host_path or (node.path if path != node.path else "")
        return record.replace(node, path=path, host_path=host_path)
    host_path = move(node.host_path or node.path)
    if not node.host_path and host_path == node.path:
        host_path = ""  # unchanged: no need to spell it out
    return record.replace(node, host_path=host_path)


def _move_mount(mount: Mount, move: Callable[[str], str], container: bool) -> Mount:
    if container:
        return record.replace(mount, container_path=move(mount.container_path))
    return record.replace(mount, host_path=move(mount.host_path))


def _move_edits(
    edits: ContainerEdits, move: Callable[[str], str], container: bool
) -> ContainerEdits:
    return record.replace(
        edits,
        device_nodes=tuple(_move_node(node, move, container) for node in edits.device_nodes),
        mounts=tuple(_move_mount(mount, move, container) for mount in edits.mounts),
        hooks=tuple(_move_hook(hook, move, container) for hook in edits.hooks),
    )


def reroot(spec: Spec, from_root: str, to_root: str, relative_to: str = "host") -> Spec:
    """*spec* with the paths under *from_root* moved under *to_root*, on the host side
    (``relative_to="host"``) or inside the container (``"container"``)."""
    if relative_to not in RELATIVE_TO:
        raise RerootError(f"invalid relative-to value: {relative_to!r} (want host or container)")
    if not from_root or not to_root:
        raise RerootError("the roots to move between must not be empty")
    source, target = clean(from_root), clean(to_root)
    if source == target:
        return spec
    container = relative_to == "container"

    def move(path: str) -> str:
        return move_path(path, source, target)

    moved = record.replace(
        spec,
        devices=tuple(
            Device(
                device.name,
                device.annotations,
                _move_edits(device.container_edits, move, container),
            )
            for device in spec.devices
        ),
        container_edits=_move_edits(spec.container_edits, move, container),
    )
    needed = reference_minimum_version(moved)  # what readers of the spec enforce
    try:
        too_old = is_newer(needed, spec.cdi_version)
    except KeyError:  # an unknown version: left for validation to report
        too_old = False
    return record.replace(moved, cdi_version=needed) if too_old else moved
