"""CDI device requests carried in container annotations (``cdi.k8s.io/<plugin>_<id>``).

Runtimes such as containerd and CRI-O read these; device plugins write them. The functions
never change the mapping they are given.
"""

from __future__ import annotations

from cdi.errors import AnnotationError, InvalidNameError
from cdi.gotext import go_bytes, quote
from cdi.names import is_qualified_name, parse_qualified_name

TYPE_CHECKING = False  # typing is not imported at run time (start path of cdi-runtime)
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

ANNOTATION_PREFIX = "cdi.k8s.io/"
_MAX_NAME_LENGTH = 63


def _alphanumeric(char: str) -> bool:
    return char.isascii() and char.isalnum()


def annotation_key(plugin_name: str, device_id: str) -> str:
    """The annotation key for *device_id* of *plugin_name* (``vendor.device-type``)."""
    if not plugin_name:
        raise AnnotationError("invalid plugin name, empty")
    if not device_id:
        raise AnnotationError("invalid deviceID, empty")
    name = plugin_name + "_" + device_id.replace("/", "_")
    encoded = go_bytes(name)
    if len(encoded) > _MAX_NAME_LENGTH:
        raise AnnotationError(f"invalid plugin+deviceID {quote(name)}, too long")
    # Checks are per byte at the ends, as in the reference.
    first, last = chr(encoded[0]), chr(encoded[-1])
    if not _alphanumeric(first):
        raise AnnotationError(f"invalid name {quote(name)}, first '{first}' should be alphanumeric")
    for char in encoded[1:-1].decode(errors="replace"):
        if not (_alphanumeric(char) or char in "_-."):
            raise AnnotationError(f"invalid name {quote(name)}, invalid character '{char}'")
    if not _alphanumeric(last):
        raise AnnotationError(f"invalid name {quote(name)}, last '{last}' should be alphanumeric")
    return ANNOTATION_PREFIX + name


def annotation_value(devices: Iterable[str]) -> str:
    """The qualified device names joined with ``,``; each must be valid."""
    names = list(devices)
    for device in names:
        try:
            parse_qualified_name(device)
        except InvalidNameError as err:
            raise AnnotationError(str(err)) from None
    return ",".join(names)


def update_annotations(
    annotations: Mapping[str, str] | None,
    plugin_name: str,
    device_id: str,
    devices: Iterable[str],
) -> dict[str, str]:
    """A copy of *annotations* with the request for *devices* added under a new key."""
    try:
        key = annotation_key(plugin_name, device_id)
    except AnnotationError as err:
        raise AnnotationError(f"CDI annotation failed: {err}") from None
    current = dict(annotations or {})
    if key in current:
        raise AnnotationError(f"CDI annotation failed, key {quote(key)} used")
    try:
        value = annotation_value(devices)
    except AnnotationError as err:
        raise AnnotationError(f"CDI annotation failed: {err}") from None
    current[key] = value
    return current


def parse_annotations(
    annotations: Mapping[str, str] | None, prefixes: Sequence[str] = (ANNOTATION_PREFIX,)
) -> tuple[list[str], list[str]]:
    """The CDI keys and the devices they request, in mapping order (no de-duplication).

    Values are split on ``,`` without trimming; every piece must be a qualified name, so an
    empty value or a device path such as ``/dev/null`` is an error. *prefixes* are the key
    prefixes that make an annotation a request (the reference knows only ``cdi.k8s.io/``).
    """
    keys: list[str] = []
    devices: list[str] = []
    wanted = tuple(prefixes)
    for key, value in (annotations or {}).items():
        if not wanted or not key.startswith(wanted):
            continue
        for device in value.split(","):
            if not is_qualified_name(device):
                raise AnnotationError(f"invalid CDI device name {quote(device)}")
            devices.append(device)
        keys.append(key)
    return keys, devices


def devices_from_annotations(annotations: Mapping[str, str] | None) -> list[str]:
    """The qualified device names requested by the CDI annotations, ready for injection."""
    return parse_annotations(annotations)[1]
