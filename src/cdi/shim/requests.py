"""Which CDI devices a container asks for: its annotations and, if enabled, its environment.

Annotations (keys starting with a configured prefix, ``cdi.k8s.io/`` by default) are read by
the library's rules -- every comma-separated piece must be a qualified name -- with the keys
in sorted order, so that the result does not depend on how the engine ordered its map.

The environment is the container's (``process.env`` in ``config.json``), which the image and
whoever starts the container control. It is therefore off unless configured, and honoured
only for privileged containers (``CAP_SYS_ADMIN`` in the bounding set) unless
``env.unprivileged`` says otherwise. ``NVIDIA_VISIBLE_DEVICES`` can be read as
``nvidia.com/gpu`` requests for images that ask for GPUs that way.
"""

from __future__ import annotations

from cdi.errors import AnnotationError
from cdi.gotext import quote
from cdi.names import is_qualified_name

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from cdi.shim.config import ShimConfig

__all__ = ["NVIDIA_VARIABLE", "RequestError", "Requests", "requested_devices"]

NVIDIA_VARIABLE = "NVIDIA_VISIBLE_DEVICES"
NVIDIA_KIND = "nvidia.com/gpu"
#: ``NVIDIA_VISIBLE_DEVICES`` values that ask for no device at all.
_NO_DEVICES = frozenset({"", "void", "none"})


class RequestError(AnnotationError):
    """A request names something that is not a qualified CDI device name."""


class Requests:
    """The devices requested (first occurrence kept), and what was left out and why."""

    __slots__ = ("devices", "ignored")

    def __init__(self) -> None:
        self.devices: list[str] = []
        #: Warnings for the log: requests that were seen but not honoured.
        self.ignored: list[str] = []

    def add(self, names: list[str]) -> None:
        for name in names:
            if name not in self.devices:
                self.devices.append(name)


def _annotations(spec: dict[str, Any], prefixes: list[str]) -> list[str]:
    from cdi.annotations import parse_annotations

    annotations = spec.get("annotations")
    if not isinstance(annotations, dict) or not prefixes:
        return []
    ordered = {key: annotations[key] for key in sorted(annotations)}
    for key, value in ordered.items():
        if not isinstance(value, str):
            raise RequestError(f"annotation {quote(key)}: value is not a string")
    return parse_annotations(ordered, prefixes)[1]


def _environment(spec: dict[str, Any]) -> dict[str, str]:
    """``process.env`` as a mapping; a later entry for a name wins, as in ``execve``."""
    process = spec.get("process")
    entries = process.get("env") if isinstance(process, dict) else None
    found: dict[str, str] = {}
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, str):
            name, _, value = entry.partition("=")
            found[name] = value
    return found


def privileged(spec: dict[str, Any]) -> bool:
    """Whether the container keeps ``CAP_SYS_ADMIN`` in its bounding set."""
    process = spec.get("process")
    capabilities = process.get("capabilities") if isinstance(process, dict) else None
    bounding = capabilities.get("bounding") if isinstance(capabilities, dict) else None
    return isinstance(bounding, list) and "CAP_SYS_ADMIN" in bounding


def _pieces(value: str) -> list[str]:
    return [piece.strip() for piece in value.split(",") if piece.strip()]


def _qualified(variable: str) -> Callable[[str], str]:
    def check(piece: str) -> str:
        if not is_qualified_name(piece):
            raise RequestError(f"invalid CDI device name {quote(piece)} in {variable}")
        return piece

    return check


def _nvidia(piece: str) -> str:
    return piece if is_qualified_name(piece) else f"{NVIDIA_KIND}={piece}"


def _from_environment(spec: dict[str, Any], config: ShimConfig, requests: Requests) -> None:
    variables: list[tuple[str, Callable[[str], str]]] = [
        (name, _qualified(name)) for name in config.env_variables
    ]
    if config.nvidia_visible_devices:
        variables.append((NVIDIA_VARIABLE, _nvidia))
    if not variables:
        return
    env = _environment(spec)
    present = [(name, convert) for name, convert in variables if env.get(name, "").strip()]
    if not present:
        return
    if not config.env_unprivileged and not privileged(spec):
        listed = ", ".join(name for name, _ in present)
        requests.ignored.append(
            "ignoring devices requested by environment variable(s) in an unprivileged "
            f"container: [{listed}]"
        )
        return
    for name, convert in present:
        value = env[name].strip()
        if name == NVIDIA_VARIABLE and value in _NO_DEVICES:
            continue
        requests.add([convert(piece) for piece in _pieces(value)])


def requested_devices(spec: dict[str, Any], config: ShimConfig) -> Requests:
    """The devices *spec* (a ``config.json``) requests: annotations first, then the
    environment, duplicates dropped. Raises :class:`RequestError` for an invalid name."""
    requests = Requests()
    requests.add(_annotations(spec, config.annotation_prefixes))
    _from_environment(spec, config, requests)
    return requests
