"""Spec versions: which ``cdiVersion`` strings exist and which one a spec needs at least."""

from __future__ import annotations

from collections.abc import Callable, Iterable

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


def _all_edits(spec: Spec) -> Iterable[ContainerEdits]:
    yield spec.container_edits
    for device in spec.devices:
        yield device.container_edits


def _requires_v110(spec: Spec) -> bool:
    for edits in _all_edits(spec):
        rdt = edits.intel_rdt
        if rdt is not None and (rdt.schemata is not None or rdt.enable_monitoring):
            return True
        if edits.net_devices:
            return True
    return False


def _requires_v070(spec: Spec) -> bool:
    return any(edits.intel_rdt is not None or edits.additional_gids for edits in _all_edits(spec))


def _requires_v060(spec: Spec) -> bool:
    if spec.annotations or any(device.annotations for device in spec.devices):
        return True
    # Only a dot in the class part counts; the vendor part is everything before the first "/".
    _, _, cls = spec.kind.partition("/")
    return "." in cls


def _requires_v050(spec: Spec) -> bool:
    if any(device.name[:1].isdigit() and device.name[:1].isascii() for device in spec.devices):
        return True
    return any(node.host_path for edits in _all_edits(spec) for node in edits.device_nodes)


def _requires_v040(spec: Spec) -> bool:
    return any(mount.type for edits in _all_edits(spec) for mount in edits.mounts)


_PREDICATES: tuple[tuple[str, Callable[[Spec], bool]], ...] = (
    ("1.1.0", _requires_v110),
    ("0.7.0", _requires_v070),
    ("0.6.0", _requires_v060),
    ("0.5.0", _requires_v050),
    ("0.4.0", _requires_v040),
)


def minimum_version(spec: Spec) -> str:
    """The oldest spec version that can express everything *spec* uses (never below 0.3.0,
    which is also why declaring the pre-release 0.1.0 or 0.2.0 fails as "too old")."""
    for version, requires in _PREDICATES:
        if requires(spec):
            return version
    return EARLIEST_VERSION


def validate_version(spec: Spec) -> None:
    """Raise :class:`VersionError` unless ``spec.cdi_version`` is valid for its content."""
    version = normalize(spec.cdi_version)
    if version not in _ORDER:
        raise VersionError(f"invalid version {quote(spec.cdi_version)}")
    required = minimum_version(spec)
    if is_newer(required, version):
        raise VersionError(f"the spec version must be at least v{required}")
