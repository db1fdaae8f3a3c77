"""The wire format of each model type: JSON key, attribute, value kind, Go ``omitempty``.

One table drives both the decoder and the encoder, so a key cannot be spelt two ways. The
order is Go's struct order, which is the order the reference writes keys in.
"""

from __future__ import annotations

from cdi.spec.model import (
    ContainerEdits,
    Device,
    DeviceNode,
    Hook,
    IntelRdt,
    LinuxNetDevice,
    Mount,
    Spec,
)
from cdi.spec.record import build, record

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import ClassVar


class Kind:
    """What a field holds on the wire, named by its Go type.

    The members are the instances below, compared by identity (``field.kind is
    Kind.STRING``); a plain class rather than an :mod:`enum`, which a start path would pay
    for in import time.
    """

    __slots__ = ("value",)

    STRING: ClassVar[Kind]
    INT64: ClassVar[Kind]
    INT_PTR: ClassVar[Kind]
    UINT32_PTR: ClassVar[Kind]
    BOOL: ClassVar[Kind]
    STRINGS: ClassVar[Kind]
    STRINGS_OR_NULL: ClassVar[Kind]
    UINT32S: ClassVar[Kind]
    STRING_MAP: ClassVar[Kind]
    STRUCT: ClassVar[Kind]
    STRUCT_PTR: ClassVar[Kind]
    STRUCTS: ClassVar[Kind]

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"<Kind {self.value}>"


Kind.STRING = Kind("string")
Kind.INT64 = Kind("int64")
Kind.INT_PTR = Kind("*int")
Kind.UINT32_PTR = Kind("*uint32")
Kind.BOOL = Kind("bool")
Kind.STRINGS = Kind("[]string")
Kind.STRINGS_OR_NULL = Kind("[]string (nullable)")
Kind.UINT32S = Kind("[]uint32")
Kind.STRING_MAP = Kind("map[string]string")
Kind.STRUCT = Kind("struct")
Kind.STRUCT_PTR = Kind("*struct")
Kind.STRUCTS = Kind("[]struct")


@record
class Field:
    """One key of a JSON object and the model attribute it fills."""

    key: str
    attr: str
    kind: Kind
    model: type | None = None
    #: Written even when empty (the Go field has no ``omitempty``).
    always: bool = False
    #: The Go type where it is not the kind's usual one, as Go's decoding errors name it.
    go_type: str | None = None

    def go_type_name(self) -> str:
        """The field's Go type as ``encoding/json`` names it (``[]*specs.Mount``, ``int64``)."""
        if self.go_type is not None:
            return self.go_type
        if self.model is not None:
            struct = f"specs.{self.model.__name__}"
            return f"[]*{struct}" if self.kind is Kind.STRUCTS else struct
        return _GO_TYPES[self.kind]

    def go_item_type_name(self) -> str:
        """The Go type of one entry of a list or map field (pointers taken away)."""
        if self.model is not None:
            return f"specs.{self.model.__name__}"
        return "uint32" if self.kind is Kind.UINT32S else "string"


_GO_TYPES = {
    Kind.STRING: "string",
    Kind.INT64: "int64",
    Kind.INT_PTR: "int",  # a pointer field reports the type it points to
    Kind.UINT32_PTR: "uint32",
    Kind.BOOL: "bool",
    Kind.STRINGS: "[]string",
    Kind.STRINGS_OR_NULL: "[]string",
    Kind.UINT32S: "[]uint32",
    Kind.STRING_MAP: "map[string]string",
}


def _f(
    key: str,
    attr: str,
    kind: Kind,
    model: type | None = None,
    always: bool = False,
    *,
    go_type: str | None = None,
) -> Field:
    return build(Field, key, attr, kind, model, always, go_type)


S = Kind.STRING

FIELDS: dict[type, tuple[Field, ...]] = {
    Spec: (
        _f("cdiVersion", "cdi_version", S, always=True),
        _f("kind", "kind", S, always=True),
        _f("annotations", "annotations", Kind.STRING_MAP),
        _f("devices", "devices", Kind.STRUCTS, Device, always=True, go_type="[]specs.Device"),
        _f("containerEdits", "container_edits", Kind.STRUCT, ContainerEdits),
    ),
    Device: (
        _f("name", "name", S, always=True),
        _f("annotations", "annotations", Kind.STRING_MAP),
        _f("containerEdits", "container_edits", Kind.STRUCT, ContainerEdits, always=True),
    ),
    ContainerEdits: (
        _f("env", "env", Kind.STRINGS),
        _f("deviceNodes", "device_nodes", Kind.STRUCTS, DeviceNode),
        _f("netDevices", "net_devices", Kind.STRUCTS, LinuxNetDevice),
        _f("hooks", "hooks", Kind.STRUCTS, Hook),
        _f("mounts", "mounts", Kind.STRUCTS, Mount),
        _f("intelRdt", "intel_rdt", Kind.STRUCT_PTR, IntelRdt),
        _f("additionalGids", "additional_gids", Kind.UINT32S),
    ),
    DeviceNode: (
        _f("path", "path", S, always=True),
        _f("hostPath", "host_path", S),
        _f("type", "type", S),
        _f("major", "major", Kind.INT64),
        _f("minor", "minor", Kind.INT64),
        _f("fileMode", "file_mode", Kind.UINT32_PTR, go_type="fs.FileMode"),
        _f("permissions", "permissions", S),
        _f("uid", "uid", Kind.UINT32_PTR),
        _f("gid", "gid", Kind.UINT32_PTR),
    ),
    Mount: (
        _f("hostPath", "host_path", S, always=True),
        _f("containerPath", "container_path", S, always=True),
        _f("options", "options", Kind.STRINGS),
        _f("type", "type", S),
    ),
    Hook: (
        _f("hookName", "hook_name", S, always=True),
        _f("path", "path", S, always=True),
        _f("args", "args", Kind.STRINGS),
        _f("env", "env", Kind.STRINGS),
        _f("timeout", "timeout", Kind.INT_PTR),
    ),
    IntelRdt: (
        _f("closID", "clos_id", S),
        _f("l3CacheSchema", "l3_cache_schema", S),
        _f("memBwSchema", "mem_bw_schema", S),
        _f("schemata", "schemata", Kind.STRINGS_OR_NULL),
        _f("enableMonitoring", "enable_monitoring", Kind.BOOL),
    ),
    LinuxNetDevice: (
        _f("hostInterfaceName", "host_interface_name", S, always=True),
        _f("name", "name", S, always=True),
    ),
}


def field_for_key(model: type, key: str) -> Field | None:
    """The field of *model* that JSON key *key* fills: an exact match, else one ignoring case."""
    fields = FIELDS[model]
    for field in fields:
        if field.key == key:
            return field
    folded = key.lower()
    for field in fields:
        if field.key.lower() == folded:
            return field
    return None


def json_key(model: type, attr: str) -> str:
    """The JSON key of attribute *attr* of *model*."""
    for field in FIELDS[model]:
        if field.attr == attr:
            return field.key
    raise KeyError(attr)
