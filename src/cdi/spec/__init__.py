"""The pure spec layer: model, versions, validation and the JSON/YAML codec.

The encoder (``cdi.spec.encode``) is not imported here: reading specs, the common case on
container start paths, does not need it.
"""

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
    reference_minimum_version,
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
    "load_spec",
    "minimum_version",
    "parse_spec",
    "reference_minimum_version",
    "validate_spec",
]
