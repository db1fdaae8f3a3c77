"""cdi: the Container Device Interface in Python.

Load and validate CDI spec files, find devices in spec directories, and inject their edits
into OCI runtime specs::

    import cdi
    spec = cdi.load_spec("/etc/cdi/vendor.yaml")
    print(cdi.minimum_version(spec), spec.qualified_names())
"""

from cdi.errors import (
    AnnotationError,
    CDIError,
    InvalidNameError,
    SpecError,
    SpecWriteError,
    UnresolvableDevicesError,
)
from cdi.names import is_qualified_name, parse_device, parse_qualified_name, parse_qualifier
from cdi.producer import (
    name_for_spec,
    name_for_transient_spec,
    remove_spec,
    spec_name,
    transient_spec_name,
    write_spec,
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

__all__ = [
    "CURRENT_VERSION",
    "AnnotationError",
    "CDIError",
    "ContainerEdits",
    "Device",
    "DeviceNode",
    "Hook",
    "IntelRdt",
    "InvalidNameError",
    "LinuxNetDevice",
    "Mount",
    "Spec",
    "SpecError",
    "SpecWriteError",
    "UnresolvableDevicesError",
    "is_qualified_name",
    "load_spec",
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
