"""The pure spec layer: model, versions, validation and the JSON/YAML codec."""

from cdi.spec.encode import encode, encode_json, encode_yaml, to_plain
from cdi.spec.load import MAX_SPEC_SIZE, load_spec, parse_spec, validate_spec
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
from cdi.spec.version import (
    CURRENT_VERSION,
    EARLIEST_VERSION,
    SUPPORTED_VERSIONS,
    minimum_version,
)

__all__ = [
    "CURRENT_VERSION",
    "EARLIEST_VERSION",
    "MAX_SPEC_SIZE",
    "SUPPORTED_VERSIONS",
    "ContainerEdits",
    "Device",
    "DeviceNode",
    "Hook",
    "IntelRdt",
    "LinuxNetDevice",
    "Mount",
    "Spec",
    "encode",
    "encode_json",
    "encode_yaml",
    "load_spec",
    "minimum_version",
    "parse_spec",
    "to_plain",
    "validate_spec",
]
