"""The CDI spec data model (spec versions 0.3.0 to 1.1.0), immutable.

Immutable records (:func:`cdi.spec.record.record`, the methods of ``@dataclass(frozen=True)``
without importing :mod:`dataclasses`, which alone would double the start-path cost of a new
process) without ``__slots__``: the decoder creates instances by filling their ``__dict__``
(as ``copy`` and ``pickle`` do), several times faster than calling a frozen ``__init__``, and
spec files are parsed on container start paths. Use :func:`cdi.spec.record.replace` to derive
a changed copy.

Attribute names are the snake_case of the JSON keys; the exact keys live in the codec
(:mod:`cdi.spec.schema`). Fields follow Go's struct order, which is also the order in which
specs are written. Go zero values stand for "absent" (``""``, ``0``, empty tuples), except where
the pointer-ness of a Go field makes absence observable: ``file_mode``, ``uid``, ``gid``, hook
``timeout`` and ``intel_rdt`` are ``None`` when absent, and ``IntelRdt.schemata`` keeps ``None``
(absent) apart from ``()`` (present but empty), because only the latter needs spec v1.1.0.
"""

from __future__ import annotations

from types import MappingProxyType

from cdi.names import parse_qualifier
from cdi.spec.record import build, record

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Mapping

_NO_ANNOTATIONS: Mapping[str, str] = MappingProxyType({})


@record
class DeviceNode:
    """A device node to create in the container (``deviceNodes[]``)."""

    path: str
    host_path: str = ""
    type: str = ""
    major: int = 0
    minor: int = 0
    file_mode: int | None = None
    permissions: str = ""
    uid: int | None = None
    gid: int | None = None


@record
class Mount:
    """A mount to add to the container (``mounts[]``)."""

    host_path: str
    container_path: str
    options: tuple[str, ...] = ()
    type: str = ""


@record
class Hook:
    """An OCI hook to add to the container (``hooks[]``)."""

    hook_name: str
    path: str
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    timeout: int | None = None


@record
class IntelRdt:
    """Intel RDT settings (``intelRdt``), the 1.1.0 field set."""

    clos_id: str = ""
    l3_cache_schema: str = ""
    mem_bw_schema: str = ""
    schemata: tuple[str, ...] | None = None
    enable_monitoring: bool = False


@record
class LinuxNetDevice:
    """A host network interface to move into the container (``netDevices[]``)."""

    host_interface_name: str
    name: str


@record
class ContainerEdits:
    """The changes a device (or a whole spec) makes to a container."""

    env: tuple[str, ...] = ()
    device_nodes: tuple[DeviceNode, ...] = ()
    net_devices: tuple[LinuxNetDevice, ...] = ()
    hooks: tuple[Hook, ...] = ()
    mounts: tuple[Mount, ...] = ()
    intel_rdt: IntelRdt | None = None
    additional_gids: tuple[int, ...] = ()

    def is_empty(self) -> bool:
        """True when the edits change nothing (``additional_gids=(0,)`` is not empty)."""
        return not (
            self.env
            or self.device_nodes
            or self.net_devices
            or self.hooks
            or self.mounts
            or self.additional_gids
            or self.intel_rdt is not None
        )


EMPTY_EDITS = build(ContainerEdits)  # not ContainerEdits(): that would compile __init__ now


@record
class Device:
    """One named device of a spec."""

    name: str
    annotations: Mapping[str, str] = _NO_ANNOTATIONS  # immutable, so one is shared
    container_edits: ContainerEdits = EMPTY_EDITS


@record
class Spec:
    """A CDI spec file: a kind (``vendor/class``) and its devices."""

    cdi_version: str
    kind: str
    annotations: Mapping[str, str] = _NO_ANNOTATIONS  # immutable, so one is shared
    devices: tuple[Device, ...] = ()
    container_edits: ContainerEdits = EMPTY_EDITS

    @property
    def vendor(self) -> str:
        """The part of ``kind`` before the first ``/`` (empty if ``kind`` has none)."""
        return parse_qualifier(self.kind)[0]

    @property
    def device_class(self) -> str:
        """The part of ``kind`` after the first ``/``."""
        return parse_qualifier(self.kind)[1]

    def get_device(self, name: str) -> Device | None:
        """The device called *name* (unqualified), or ``None``."""
        for device in self.devices:
            if device.name == name:
                return device
        return None

    def qualified_names(self) -> list[str]:
        """The qualified names of all devices, in file order."""
        return [f"{self.kind}={device.name}" for device in self.devices]
