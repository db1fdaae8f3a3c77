"""Spec validation: the reference's rules, order and messages (fail-fast).

A :class:`ValidationError` carries the reference's message and the field path of the value
that broke the rule (``("devices", 2, "containerEdits", "env", 0)``), from which loaders
work out a line and column.
"""

from __future__ import annotations

from cdi.errors import InvalidNameError
from cdi.gotext import quote
from cdi.names import (
    parse_qualifier,
    validate_class_name,
    validate_device_name,
    validate_vendor_name,
)
from cdi.spec.version import VersionError, validate_version

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import TypeVar

    from cdi.errors import FieldPath
    from cdi.spec.model import ContainerEdits, Device, DeviceNode, Hook, IntelRdt, Mount, Spec

    _T = TypeVar("_T")

HOOK_NAMES = frozenset(
    {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}
)
DEVICE_TYPES = frozenset({"", "b", "c", "u", "p"})
NO_PERMISSIONS = "none"


class ValidationError(ValueError):
    """A rule of the spec is broken; ``field_path`` points at the offending value."""

    def __init__(self, message: str, field_path: FieldPath = ()) -> None:
        super().__init__(message)
        self.message = message
        self.field_path = field_path

    def wrap(self, prefix: str, field_path: FieldPath = ()) -> ValidationError:
        """The same error with *prefix* in front and *field_path* in front of its path."""
        return ValidationError(prefix + self.message, field_path + self.field_path)


def _env_problem(env: Sequence[str]) -> tuple[int, str] | None:
    for index, entry in enumerate(env):
        if entry.find("=") <= 0:
            return index, f"invalid environment variable {quote(entry)}"
    return None


def validate_env(env: Sequence[str]) -> None:
    """Every entry must be ``NAME=value`` with a non-empty name."""
    problem = _env_problem(env)
    if problem is not None:
        raise ValidationError(problem[1], (problem[0],))


def _check_device_node(node: DeviceNode) -> None:
    if not node.path:
        raise ValidationError("invalid (empty) device path", ("path",))
    if node.type not in DEVICE_TYPES:
        raise ValidationError(
            f"device {quote(node.path)}: invalid type {quote(node.type)}", ("type",)
        )
    permissions = node.permissions
    if permissions != NO_PERMISSIONS and permissions.strip("rwm"):
        raise ValidationError(
            f"device {quote(node.path)}: invalid permissions {quote(permissions)}",
            ("permissions",),
        )


def _check_hook(hook: Hook) -> None:
    if hook.hook_name not in HOOK_NAMES:
        raise ValidationError(f"invalid hook name {quote(hook.hook_name)}", ("hookName",))
    if not hook.path:
        raise ValidationError(f"invalid hook {quote(hook.hook_name)} with empty path", ("path",))
    problem = _env_problem(hook.env)
    if problem is not None:
        raise ValidationError(
            f"invalid hook {quote(hook.hook_name)}: {problem[1]}", ("env", problem[0])
        )


def _check_mount(mount: Mount) -> None:
    if not mount.host_path:
        raise ValidationError("invalid mount, empty host path", ("hostPath",))
    if not mount.container_path:
        raise ValidationError("invalid mount, empty container path", ("containerPath",))


def _check_intel_rdt(rdt: IntelRdt) -> None:
    # closID names a directory under resctrl; "/" is the root class of service.
    clos_id = rdt.clos_id
    if clos_id == "/":
        return
    if len(clos_id.encode()) >= 4096 or clos_id in (".", "..") or "/" in clos_id or "\n" in clos_id:
        raise ValidationError("invalid ClosID", ("closID",))


def _check_net_devices(edits: ContainerEdits) -> None:
    by_host: dict[str, str] = {}
    by_name: dict[str, str] = {}
    for index, device in enumerate(edits.net_devices):
        host, name = device.host_interface_name, device.name
        if not host:
            raise ValidationError(
                "invalid linux net device, empty HostInterfaceName", (index, "hostInterfaceName")
            )
        if not name:
            raise ValidationError("invalid linux net device, empty Name", (index, "name"))
        if host in by_host:
            raise ValidationError(
                f"invalid linux net device, duplicate HostInterfaceName {quote(host)} "
                f"with names {quote(name)} and {quote(by_host[host])}",
                (index, "hostInterfaceName"),
            )
        if name in by_name:
            raise ValidationError(
                f"invalid linux net device, duplicate Name {quote(name)} "
                f"with HostInterfaceName {quote(host)} and {quote(by_name[name])}",
                (index, "name"),
            )
        by_host[host] = name
        by_name[name] = host


def _check_each(key: str, items: Sequence[_T], check: Callable[[_T], None]) -> None:
    index = 0
    try:
        for item in items:
            check(item)
            index += 1
    except ValidationError as err:
        raise err.wrap("", (key, index)) from None


def validate_container_edits(edits: ContainerEdits) -> None:
    """Check env, device nodes, hooks, mounts, intelRdt and net devices, in that order."""
    # Empty sections are skipped without a call: this runs for every device of every spec.
    if edits.env:
        problem = _env_problem(edits.env)
        if problem is not None:
            raise ValidationError(f"invalid container edits: {problem[1]}", ("env", problem[0]))
    if edits.device_nodes:
        _check_each("deviceNodes", edits.device_nodes, _check_device_node)
    if edits.hooks:
        _check_each("hooks", edits.hooks, _check_hook)
    if edits.mounts:
        _check_each("mounts", edits.mounts, _check_mount)
    if edits.intel_rdt is not None:
        try:
            _check_intel_rdt(edits.intel_rdt)
        except ValidationError as err:
            raise err.wrap("", ("intelRdt",)) from None
    if edits.net_devices:
        try:
            _check_net_devices(edits)
        except ValidationError as err:
            raise err.wrap("", ("netDevices",)) from None


def _check_annotations(annotations: Mapping[str, str], where: str) -> None:
    from cdi.spec.k8s_annotations import annotation_problems  # strict only: it needs re

    problems = annotation_problems(annotations, where)
    if problems:
        raise ValidationError("; ".join(problems), ("annotations",))


def _check_device(device: Device, kind: str, strict: bool) -> None:
    try:
        validate_device_name(device.name)
    except InvalidNameError as err:
        raise ValidationError(str(err), ("name",)) from None
    if strict:
        _check_annotations(device.annotations, f"{kind}={device.name}.annotations")
    edits = device.container_edits
    if edits.is_empty():
        raise ValidationError("invalid device, empty device edits", ("containerEdits",))
    try:
        validate_container_edits(edits)
    except ValidationError as err:
        raise err.wrap(f"invalid device {quote(device.name)}: ", ("containerEdits",)) from None


def validate_spec_content(spec: Spec, *, strict: bool = False) -> None:
    """All of the reference's spec checks, first failure wins, without the outer wrapping.

    *strict* adds the Kubernetes annotation rules where the reference would run its (no-op)
    annotation check: after the kind for the spec, after the name for each device.
    """
    vendor, cls = parse_qualifier(spec.kind)
    try:
        validate_version(spec)
    except VersionError as err:
        raise ValidationError(str(err), ("cdiVersion",)) from None
    try:
        validate_vendor_name(vendor)
        validate_class_name(cls)
    except InvalidNameError as err:
        raise ValidationError(str(err), ("kind",)) from None
    if strict:
        _check_annotations(spec.annotations, f"{spec.kind}.annotations")
    try:
        validate_container_edits(spec.container_edits)
    except ValidationError as err:
        raise err.wrap("", ("containerEdits",)) from None
    seen: set[str] = set()
    for index, device in enumerate(spec.devices):
        try:
            _check_device(device, spec.kind, strict)
        except ValidationError as err:
            prefix = f"failed add device {quote(device.name)}: "
            raise err.wrap(prefix, ("devices", index)) from None
        if device.name in seen:
            raise ValidationError(
                f"invalid spec, multiple device {quote(device.name)}", ("devices", index, "name")
            )
        seen.add(device.name)
    if not spec.devices:
        raise ValidationError("invalid spec, no devices", ("devices",))
