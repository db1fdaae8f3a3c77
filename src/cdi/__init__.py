"""cdi: the Container Device Interface in Python.

Load and validate CDI spec files, find devices in spec directories, and inject their edits
into OCI runtime specs::

    import cdi
    spec = cdi.load_spec("/etc/cdi/vendor.yaml")
    print(cdi.minimum_version(spec), spec.qualified_names())

The names below are imported on first use (PEP 562), so ``import cdi`` costs next to nothing:
the ``cdi`` command line and the start-path entry points load only the modules they need.
"""

from __future__ import annotations

from cdi.lazy import lazy_exports

# typing is not imported at run time: it alone would double the cost of "import cdi".
TYPE_CHECKING = False

if TYPE_CHECKING:
    from cdi.annotations import devices_from_annotations
    from cdi.errors import (
        AnnotationError,
        CDIError,
        InvalidNameError,
        SpecError,
        SpecWriteError,
        TrustError,
        TrustModeError,
        UnresolvableDevicesError,
    )
    from cdi.injection import InjectionError, inject, merge_edits
    from cdi.names import is_qualified_name, parse_device, parse_qualified_name, parse_qualifier
    from cdi.producer import (
        name_for_spec,
        name_for_transient_spec,
        remove_spec,
        spec_name,
        transient_spec_name,
        write_spec,
    )
    from cdi.registry import (
        ConflictError,
        DeviceDefinition,
        RegisteredDevice,
        Registry,
        SpecDirError,
        SpecFile,
    )
    from cdi.spec import (
        CURRENT_VERSION,
        ContainerEdits,
        Device,
        DeviceNode,
        Hook,
        IntelRdt,
        LinuxNetDevice,
        Mount,
        Spec,
        load_spec,
        minimum_version,
        parse_spec,
        validate_spec,
    )

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "devices_from_annotations": "cdi.annotations",
    **dict.fromkeys(
        (
            "AnnotationError",
            "CDIError",
            "InvalidNameError",
            "SpecError",
            "SpecWriteError",
            "TrustError",
            "TrustModeError",
            "UnresolvableDevicesError",
        ),
        "cdi.errors",
    ),
    **dict.fromkeys(("InjectionError", "inject", "merge_edits"), "cdi.injection"),
    **dict.fromkeys(
        ("is_qualified_name", "parse_device", "parse_qualified_name", "parse_qualifier"),
        "cdi.names",
    ),
    **dict.fromkeys(
        (
            "name_for_spec",
            "name_for_transient_spec",
            "remove_spec",
            "spec_name",
            "transient_spec_name",
            "write_spec",
        ),
        "cdi.producer",
    ),
    **dict.fromkeys(
        (
            "ConflictError",
            "DeviceDefinition",
            "RegisteredDevice",
            "Registry",
            "SpecDirError",
            "SpecFile",
        ),
        "cdi.registry",
    ),
    **dict.fromkeys(
        (
            "CURRENT_VERSION",
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
            "validate_spec",
        ),
        "cdi.spec",
    ),
}

__all__ = [
    "CURRENT_VERSION",
    "AnnotationError",
    "CDIError",
    "ConflictError",
    "ContainerEdits",
    "Device",
    "DeviceDefinition",
    "DeviceNode",
    "Hook",
    "InjectionError",
    "IntelRdt",
    "InvalidNameError",
    "LinuxNetDevice",
    "Mount",
    "RegisteredDevice",
    "Registry",
    "Spec",
    "SpecDirError",
    "SpecError",
    "SpecFile",
    "SpecWriteError",
    "TrustError",
    "TrustModeError",
    "UnresolvableDevicesError",
    "devices_from_annotations",
    "inject",
    "is_qualified_name",
    "load_spec",
    "merge_edits",
    "minimum_version",
    "name_for_spec",
    "name_for_transient_spec",
    "parse_device",
    "parse_qualified_name",
    "parse_qualifier",
    "parse_spec",
    "remove_spec",
    "spec_name",
    "transient_spec_name",
    "validate_spec",
    "write_spec",
]


if not TYPE_CHECKING:  # hidden from type checkers, which would then accept any name
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
