"""Spec versions: which ``cdiVersion`` strings exist and which one a spec needs at least."""

from __future__ import annotations

from cdi.gotext import quote
from cdi.spec.model import ContainerEdits, Spec

CURRENT_VERSION = "1.1.0"
EARLIEST_VERSION = "0.3.0"

#: Every version the specification ever named, newest first. 0.1.0 and 0.2.0 are known but
#: pre-release: a spec declaring them is rejected as too old.
KNOWN_VERSIONS = (
    "1.1.0",
    "1.0.0",
    "0.8.0",
    "0.7.0",
    "0.6.0",
    "0.5.0",
    "0.4.0",
    "0.3.0",
    "0.2.0",
    "0.1.0",
)

#: The versions a spec may declare, oldest first.
SUPPORTED_VERSIONS = tuple(reversed(KNOWN_VERSIONS[: KNOWN_VERSIONS.index(EARLIEST_VERSION) + 1]))

_ORDER = {version: index for index, version in enumerate(reversed(KNOWN_VERSIONS))}


class VersionError(ValueError):
    """``cdiVersion`` is unknown or too old for what the spec uses."""


def normalize(version: str) -> str:
    """Strip one leading ``v`` (``v1.1.0`` is accepted as ``1.1.0``)."""
    return version[1:] if version.startswith("v") else version


def is_newer(a: str, b: str) -> bool:
    """Whether known version *a* is newer than known version *b*."""
    return _ORDER[normalize(a)] > _ORDER[normalize(b)]


def _edits_minimum(edits: ContainerEdits) -> str:
    rdt = edits.intel_rdt
    if edits.net_devices or (
        rdt is not None and (rdt.schemata is not None or rdt.enable_monitoring)
    ):
        return "1.1.0"
    if rdt is not None or edits.additional_gids:
        return "0.7.0"
    for node in edits.device_nodes:
        if node.host_path:
            return "0.5.0"
    for mount in edits.mounts:
        if mount.type:
            return "0.4.0"
    return EARLIEST_VERSION


def minimum_version(spec: Spec) -> str:
    """The oldest spec version that can express everything *spec* uses.

    What needs which version: 1.1.0 net devices, intelRdt schemata (even empty) or
    monitoring; 0.7.0 intelRdt or additional GIDs; 0.6.0 annotations or a dot in the class;
    0.5.0 a device name starting with a digit or a device node hostPath; 0.4.0 a mount type.
    Never below 0.3.0, which is why declaring the pre-release 0.1.0 or 0.2.0 fails as too old.
    """
    # One pass over the edits, keeping the newest requirement seen.
    order = _ORDER
    best = _edits_minimum(spec.container_edits)
    for device in spec.devices:
        needed = _edits_minimum(device.container_edits)
        if order[needed] > order[best]:
            best = needed
    if order[best] >= order["0.7.0"]:
        return best
    if spec.annotations or any(device.annotations for device in spec.devices):
        return "0.6.0"
    if "." in spec.kind.partition("/")[2]:  # the class part; a dotted vendor needs nothing
        return "0.6.0"
    if order[best] < order["0.5.0"] and any(
        device.name[:1] in "0123456789" and device.name[:1] for device in spec.devices
    ):
        return "0.5.0"
    return best


def validate_version(spec: Spec) -> None:
    """Raise :class:`VersionError` unless ``spec.cdi_version`` is valid for its content."""
    version = normalize(spec.cdi_version)
    if version not in _ORDER:
        raise VersionError(f"invalid version {quote(spec.cdi_version)}")
    required = minimum_version(spec)
    if is_newer(required, version):
        raise VersionError(f"the spec version must be at least v{required}")
