"""Spec versions: which ``cdiVersion`` strings exist and which one a spec needs at least."""

from __future__ import annotations

from cdi.gotext import quote
from cdi.spec.model import ContainerEdits, Spec
from cdi.spec.record import record

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


def _has_host_path(edits: ContainerEdits) -> bool:
    return any(node.host_path for node in edits.device_nodes)


def _has_mount_type(edits: ContainerEdits) -> bool:
    return any(mount.type for mount in edits.mounts)


def _minimum(spec: Spec, as_reference: bool) -> str:
    """The minimum version, in one pass over the edits.

    *as_reference* limits the hostPath (0.5.0) and mount type (0.4.0) rules to the spec's own
    edits and the last device's, as the reference applies them: specs-go collects
    ``&d.ContainerEdits`` inside ``for _, d := range spec.Devices``, and under its go.mod's
    ``go 1.19`` loop semantics the range variable is one variable for all iterations, so
    every pointer ends up at the last device. Its other rules read ``d`` inside the loop and
    see every device.
    """
    devices = spec.devices
    skipped = len(devices) - 1 if as_reference else 0  # devices[:skipped] go unseen
    v070 = v050 = v040 = False
    for index in range(-1, len(devices)):
        edits = spec.container_edits if index < 0 else devices[index].container_edits
        rdt = edits.intel_rdt
        if edits.net_devices or (
            rdt is not None and (rdt.schemata is not None or rdt.enable_monitoring)
        ):
            return "1.1.0"
        if rdt is not None or edits.additional_gids:
            v070 = True
        if v070 or 0 <= index < skipped:  # index -1 (the spec's own edits) is always seen
            continue
        if not v050 and edits.device_nodes and _has_host_path(edits):
            v050 = True
        if not v040 and edits.mounts and _has_mount_type(edits):
            v040 = True
    if v070:
        return "0.7.0"
    if spec.annotations or any(device.annotations for device in devices):
        return "0.6.0"
    if "." in spec.kind.partition("/")[2]:  # the class part; a dotted vendor needs nothing
        return "0.6.0"
    # "0" <= "" is false, so an empty name does not count.
    if v050 or any("0" <= device.name[:1] <= "9" for device in devices):
        return "0.5.0"
    return "0.4.0" if v040 else EARLIEST_VERSION


def minimum_version(spec: Spec) -> str:
    """The oldest spec version that can express everything *spec* uses.

    What needs which version: 1.1.0 net devices, intelRdt schemata (even empty) or
    monitoring; 0.7.0 intelRdt or additional GIDs; 0.6.0 annotations or a dot in the class;
    0.5.0 a device name starting with a digit or a device node hostPath; 0.4.0 a mount type.
    Never below 0.3.0, which is why declaring the pre-release 0.1.0 or 0.2.0 fails as too old.

    This is the true minimum, every device counted. Loading enforces
    :func:`reference_minimum_version`, which can be lower.
    """
    return _minimum(spec, False)


def reference_minimum_version(spec: Spec) -> str:
    """The minimum version the reference enforces when it loads *spec*.

    The same as :func:`minimum_version`, except that a device node ``hostPath`` or a mount
    ``type`` counts only in the spec's own edits and in the **last** device's: a defect of
    the reference (see :func:`_minimum`) that every Go runtime has, so that a file they all
    accept loads here too.
    """
    return _minimum(spec, True)


@record
class MaskedRequirement:
    """A requirement the reference's version check misses: *feature* of device *device*
    needs *version*, but the reference's rule *rule* does not look at that device."""

    version: str
    rule: str
    feature: str
    device: str


def masked_requirements(spec: Spec) -> list[MaskedRequirement]:
    """What only the reference's defect lets through, for each device it skips."""
    found: list[MaskedRequirement] = []
    for device in spec.devices[:-1]:
        edits = device.container_edits
        if _has_host_path(edits):
            found.append(
                MaskedRequirement("0.5.0", "requiresV050", "a device node hostPath", device.name)
            )
        if _has_mount_type(edits):
            found.append(MaskedRequirement("0.4.0", "requiresV040", "a mount type", device.name))
    return found


def validate_version(spec: Spec) -> None:
    """Raise :class:`VersionError` unless ``spec.cdi_version`` is valid for its content, as
    the reference judges it (:func:`reference_minimum_version`)."""
    # As the reference applies the rules, so that what every Go runtime loads, loads here.
    check_declared_version(spec.cdi_version, reference_minimum_version(spec))


def accepted_versions(required: str) -> frozenset[str]:
    """Every ``cdiVersion`` string :func:`check_declared_version` accepts for *required*."""
    return frozenset(
        declared
        for version in _ORDER
        if not is_newer(required, version)
        for declared in (version, "v" + version)
    )


def check_declared_version(declared: str, required: str) -> None:
    """Raise :class:`VersionError` unless *declared* (a ``cdiVersion``) is a known version
    no older than *required*. Whether the version is known is checked first."""
    version = normalize(declared)
    if version not in _ORDER:
        raise VersionError(f"invalid version {quote(declared)}")
    if is_newer(required, version):
        raise VersionError(f"the spec version must be at least v{required}")
