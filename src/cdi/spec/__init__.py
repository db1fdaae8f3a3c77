"""The pure spec layer: model, versions, validation and the JSON/YAML codec.

The names below are imported on first use (PEP 562), so that ``import cdi.spec.model`` (the
start path: injection, the device index) does not load the parser and validator. The encoder
(``cdi.spec.encode``) is not exported here at all: reading specs does not need it.
"""

from __future__ import annotations

from cdi.lazy import lazy_exports

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
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

#: public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("MAX_SPEC_SIZE", "load_spec", "parse_spec", "validate_spec"), "cdi.spec.load"),
    **dict.fromkeys(
        (
            "ContainerEdits",
            "Device",
            "DeviceNode",
            "Hook",
            "IntelRdt",
            "LinuxNetDevice",
            "Mount",
            "Spec",
        ),
        "cdi.spec.model",
    ),
    **dict.fromkeys(
        (
            "CURRENT_VERSION",
            "EARLIEST_VERSION",
            "SUPPORTED_VERSIONS",
            "minimum_version",
            "reference_minimum_version",
        ),
        "cdi.spec.version",
    ),
}

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


if not TYPE_CHECKING:  # hidden from type checkers, which would then accept any name
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
