"""Applying CDI container edits to an OCI runtime spec (a plain ``dict``), all or nothing.

The edit rules, their order and their error texts are the reference's (env, device nodes, net
devices, mounts, hooks, Intel RDT, additional GIDs). Two things differ on purpose: the
caller's spec is never touched (the edits go to a deep copy that is returned only when every
edit succeeded), and filling in device details from the host makes new
:class:`~cdi.spec.model.DeviceNode` values instead of changing the ones a registry holds.

The host is consulted in one place only, :func:`lstat_device` (or the ``stat_device``
argument), so tests can describe host devices without creating them.
"""

from __future__ import annotations

import os
import stat

# collections.abc without the collections package (which a start path need not import):
# the abstract classes live in _collections_abc, loaded with the interpreter.
from _collections_abc import Mapping

from cdi.errors import CDIError
from cdi.gopath import depth
from cdi.gotext import quote
from cdi.plaindata import copy_plain
from cdi.spec import record
from cdi.spec.model import (
    EMPTY_EDITS,
    ContainerEdits,
    DeviceNode,
    Hook,
    IntelRdt,
    LinuxNetDevice,
    Mount,
)

# typing is not imported at run time (start path): the protocol below is a plain class there.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any, Protocol, TypeAlias
else:
    Protocol = object

__all__ = [
    "HostDeviceInfo",
    "InjectionError",
    "StatDevice",
    "fill_device_node",
    "inject",
    "inject_devices",
    "lstat_device",
    "merge_edits",
]

OCISpec = dict[str, "Any"]  # a string: Any exists for type checkers only

#: OCI hook lists, one per CDI hook name.
HOOK_LISTS = (
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
)

_HOST_TYPES = {stat.S_IFBLK: "b", stat.S_IFCHR: "c", stat.S_IFIFO: "p"}


class InjectionError(CDIError):
    """Container edits could not be applied to an OCI spec."""


class HostDeviceInfo(Protocol):
    """What injection needs from ``lstat``: the mode and the device number."""

    @property
    def st_mode(self) -> int: ...

    @property
    def st_rdev(self) -> int: ...


StatDevice: TypeAlias = "Callable[[str], HostDeviceInfo]"  # Callable: for type checkers only


def lstat_device(path: str) -> HostDeviceInfo:
    """``lstat`` a host device node (symlinks are not followed, as in the reference)."""
    return os.lstat(path)


def merge_edits(edits: Iterable[ContainerEdits]) -> ContainerEdits:
    """Concatenate edits in order, the reference's ``Append``: lists are joined without
    de-duplication and the last ``intel_rdt`` given wins."""
    env: list[str] = []
    nodes: list[DeviceNode] = []
    net_devices: list[LinuxNetDevice] = []
    hooks: list[Hook] = []
    mounts: list[Mount] = []
    gids: list[int] = []
    rdt: IntelRdt | None = None
    count = 0
    last = EMPTY_EDITS
    for item in edits:
        if item.is_empty():
            continue
        count += 1
        last = item
        env += item.env
        nodes += item.device_nodes
        net_devices += item.net_devices
        hooks += item.hooks
        mounts += item.mounts
        gids += item.additional_gids
        if item.intel_rdt is not None:
            rdt = item.intel_rdt
    if count <= 1:
        return last  # nothing to merge: keep the (immutable) original
    return ContainerEdits(
        env=tuple(env),
        device_nodes=tuple(nodes),
        net_devices=tuple(net_devices),
        hooks=tuple(hooks),
        mounts=tuple(mounts),
        intel_rdt=rdt,
        additional_gids=tuple(gids),
    )


def _stat_failure(host_path: str, err: OSError | str) -> InjectionError:
    if isinstance(err, OSError):
        # The reference reports the bare errno text ("no such file or directory").
        reason = err.strerror or str(err)
        err = reason[:1].lower() + reason[1:]
    return InjectionError(f"failed to stat CDI host device {quote(host_path)}: {err}")


def fill_device_node(node: DeviceNode, stat_device: StatDevice | None = None) -> DeviceNode:
    """*node* with what the spec left out taken from the host device (a new value).

    A "minimal" node (a type, and a major number unless it is a FIFO) needs no host device;
    any other node must match one. The file mode is taken from the host whenever the host
    device exists and the spec gave none.
    """
    lstat = stat_device if stat_device is not None else lstat_device
    host_path = node.host_path or node.path
    minimal = node.type != "" and (node.major != 0 or node.type == "p")
    problem: OSError | str | None = None
    info: HostDeviceInfo | None = None
    try:
        info = lstat(host_path)
    except OSError as err:
        problem = err
    host_type = ""
    if info is not None:
        host_type = _HOST_TYPES.get(stat.S_IFMT(info.st_mode), "")
        if not host_type:
            problem = "not a device node"
    if problem is not None or info is None:
        if minimal:
            return node if node.host_path else record.replace(node, host_path=host_path)
        raise _stat_failure(host_path, problem or "not a device node")
    changes: dict[str, Any] = {}
    if not node.host_path:
        changes["host_path"] = host_path
    if node.file_mode is None:
        changes["file_mode"] = stat.S_IMODE(info.st_mode)
    if not minimal:
        if node.type == "":
            changes["type"] = host_type
        elif node.type != host_type:
            raise InjectionError(
                f"CDI device ({quote(node.path)}, {quote(host_path)}), "
                f"host type mismatch ({node.type}, {host_type})"
            )
        if host_type != "p" and node.major == 0:
            changes["major"] = os.major(info.st_rdev)
            changes["minor"] = os.minor(info.st_rdev)
    return record.replace(node, **changes) if changes else node


def inject(
    oci_spec: Mapping[str, Any] | None,
    edits: ContainerEdits | None,
    *,
    stat_device: StatDevice | None = None,
) -> OCISpec:
    """A copy of *oci_spec* with *edits* applied; *oci_spec* itself is never changed.

    Raises :class:`InjectionError` (the reference's texts, e.g. ``failed to stat CDI host
    device "/dev/x": no such file or directory``) and then nothing has been applied anywhere.
    """
    if oci_spec is None:
        raise InjectionError("can't edit nil OCI Spec")
    if not isinstance(oci_spec, Mapping):
        raise InjectionError("invalid OCI Spec: not an object")
    result: OCISpec = copy_plain(oci_spec)
    if edits is None or edits.is_empty():
        return result
    if edits.env:
        _apply_env(result, edits.env)
    for node in edits.device_nodes:
        _add_device(result, fill_device_node(node, stat_device))
    if edits.net_devices:
        net_devices = _object(_object(result, "linux"), "netDevices")
        for net in edits.net_devices:
            net_devices[net.host_interface_name] = {"name": net.name}
    if edits.mounts:
        _apply_mounts(result, edits.mounts)
    for hook in edits.hooks:
        if hook.hook_name not in HOOK_LISTS:
            raise InjectionError(f"unknown hook name {quote(hook.hook_name)}")
        _list(_object(result, "hooks"), hook.hook_name).append(_oci_hook(hook))
    if edits.intel_rdt is not None:
        _object(result, "linux")["intelRdt"] = _oci_intel_rdt(edits.intel_rdt)
    for gid in edits.additional_gids:
        if gid == 0:  # root's group is never added (and creates nothing)
            continue
        gids = _list(_object(_object(result, "process"), "user"), "additionalGids")
        if gid not in gids:
            gids.append(gid)
    return result


def inject_devices(
    oci_spec: Mapping[str, Any] | None,
    edits: ContainerEdits,
    *,
    stat_device: StatDevice | None = None,
) -> OCISpec:
    """:func:`inject` of devices' merged *edits*, with the errors worded as the reference's
    device injection words them (``failed to inject devices: ...``)."""
    if oci_spec is None:
        raise InjectionError("can't inject devices, nil OCI Spec")
    try:
        return inject(oci_spec, edits, stat_device=stat_device)
    except InjectionError as err:
        raise InjectionError(f"failed to inject devices: {err}") from err


def _object(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    elif not isinstance(value, dict):
        raise InjectionError(f"invalid OCI Spec: {key!r} is not an object")
    return value


def _list(parent: dict[str, Any], key: str) -> list[Any]:
    value = parent.get(key)
    if value is None:
        value = parent[key] = []
    elif not isinstance(value, list):
        raise InjectionError(f"invalid OCI Spec: {key!r} is not a list")
    return value


def _env_key(entry: Any) -> Any:
    return entry.partition("=")[0] if isinstance(entry, str) else entry


def _apply_env(spec: OCISpec, env: Iterable[str]) -> None:
    current = _list(_object(spec, "process"), "env")
    # Later duplicates win, both in the spec and in the edits.
    index = {_env_key(entry): position for position, entry in enumerate(current)}
    for entry in env:
        key = _env_key(entry)
        position = index.get(key)
        if position is None:
            index[key] = len(current)
            current.append(entry)
        else:
            current[position] = entry


def _process_id(spec: OCISpec, which: str) -> int:
    process = spec.get("process")
    if not isinstance(process, dict):
        return 0
    user = process.get("user")
    value = user.get(which, 0) if isinstance(user, dict) else 0
    return value if isinstance(value, int) else 0


def _add_device(spec: OCISpec, node: DeviceNode) -> None:
    device: dict[str, Any] = {
        "path": node.path,
        "type": node.type,
        "major": node.major,
        "minor": node.minor,
    }
    if node.file_mode is not None:
        device["fileMode"] = node.file_mode
    for key, own in (("uid", node.uid), ("gid", node.gid)):
        if own is not None:
            device[key] = own
        elif (inherited := _process_id(spec, key)) > 0:
            device[key] = inherited
    linux = _object(spec, "linux")
    devices = _list(linux, "devices")
    # Remove the first same-path entry, then add: a remaining duplicate is replaced in
    # place, otherwise the device goes to the end.
    for position, existing in enumerate(devices):
        if isinstance(existing, dict) and existing.get("path") == node.path:
            del devices[position]
            break
    for position, existing in enumerate(devices):
        if isinstance(existing, dict) and existing.get("path") == node.path:
            devices[position] = device
            break
    else:
        devices.append(device)
    if node.type in ("b", "c"):
        access = node.permissions or "rwm"
        if access == "none":
            access = ""
        rule: dict[str, Any] = {
            "allow": True,
            "type": node.type,
            "major": node.major,
            "minor": node.minor,
        }
        if access:  # OCI's `access` is omitempty: "no access" is an absent key
            rule["access"] = access
        _list(_object(linux, "resources"), "devices").append(rule)


def _has_user_namespace(spec: OCISpec) -> bool:
    linux = spec.get("linux")
    namespaces = linux.get("namespaces") if isinstance(linux, dict) else None
    if not isinstance(namespaces, list):
        return False
    return any(isinstance(ns, dict) and ns.get("type") == "user" for ns in namespaces)


def _idmap_options(mount: Mount) -> tuple[str, ...]:
    """The mount's options plus ``idmap``/``ridmap`` for a bind mount (user namespaces)."""
    if "idmap" in mount.options or "ridmap" in mount.options:
        return mount.options
    option = "idmap" if mount.type == "bind" else ""
    for existing in mount.options:
        if existing == "bind":
            option = "idmap"
        elif existing == "rbind":
            option = "ridmap"
    return (*mount.options, option) if option else mount.options


def _apply_mounts(spec: OCISpec, mounts: Iterable[Mount]) -> None:
    current = _list(spec, "mounts")
    userns = _has_user_namespace(spec)
    for mount in mounts:
        for position, existing in enumerate(current):
            if isinstance(existing, dict) and existing.get("destination") == mount.container_path:
                del current[position]
                break
        oci: dict[str, Any] = {"destination": mount.container_path}
        if mount.type:
            oci["type"] = mount.type
        if mount.host_path:
            oci["source"] = mount.host_path
        options = _idmap_options(mount) if userns else mount.options
        if options:
            oci["options"] = list(options)
        current.append(oci)
    # Parents before children, over the whole list; equal depths keep their order.
    current.sort(key=_mount_depth)


def _mount_depth(mount: Any) -> int:
    destination = mount.get("destination", "") if isinstance(mount, dict) else ""
    return depth(destination if isinstance(destination, str) else "")


def _oci_hook(hook: Hook) -> dict[str, Any]:
    oci: dict[str, Any] = {"path": hook.path}
    if hook.args:
        oci["args"] = list(hook.args)
    if hook.env:
        oci["env"] = list(hook.env)
    if hook.timeout is not None:
        oci["timeout"] = hook.timeout
    return oci


def _oci_intel_rdt(rdt: IntelRdt) -> dict[str, Any]:
    oci: dict[str, Any] = {}
    if rdt.clos_id:
        oci["closID"] = rdt.clos_id
    if rdt.l3_cache_schema:
        oci["l3CacheSchema"] = rdt.l3_cache_schema
    if rdt.mem_bw_schema:
        oci["memBwSchema"] = rdt.mem_bw_schema
    if rdt.schemata:
        oci["schemata"] = list(rdt.schemata)
    if rdt.enable_monitoring:
        oci["enableMonitoring"] = True
    return oci
