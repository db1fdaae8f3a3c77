"""The wire format of each model type: JSON key, attribute, value kind, Go ``omitempty``.

One table drives both the decoder and the encoder, so a key cannot be spelt two ways. The
order is Go's struct order, which is the order the reference writes keys in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

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


class Kind(enum.Enum):
    """What a field holds on the wire, named by its Go type."""

    STRING = "string"
    INT64 = "int64"
    INT_PTR = "*int"
    UINT32_PTR = "*uint32"
    BOOL = "bool"
    STRINGS = "[]string"
    STRINGS_OR_NULL = "[]string (nullable)"
    UINT32S = "[]uint32"
    STRING_MAP = "map[string]string"
    STRUCT = "struct"
    STRUCT_PTR = "*struct"
    STRUCTS = "[]struct"


@dataclass(frozen=True, slots=True)
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
    return Field(key, attr, kind, model, always, go_type)


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
