"""Which container a hook is for: the OCI state on stdin, and the root filesystem it names.

runc and crun pass the container's state JSON on the hook's stdin (OCI runtime spec,
"State"). The root filesystem is the state's ``root`` when the runtime adds it (crun does),
else ``root.path`` of the bundle's ``config.json``, relative to the bundle when not absolute.
Both files come from the runtime, not the container, but are still read with size limits.
"""

from __future__ import annotations

import json
import os
import posixpath

from cdi.hooks.errors import HookError

TYPE_CHECKING = False  # a hook starts on every container start: no typing import
if TYPE_CHECKING:
    from typing import IO, Any

#: The state is a few hundred bytes; a config.json a few tens of kilobytes.
MAX_STATE = 1 << 20
MAX_CONFIG = 16 << 20


def _parse(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError) as err:
        raise HookError(f"failed to decode {what}: {err}") from None
    if not isinstance(value, dict):
        raise HookError(f"failed to decode {what}: not a JSON object")
    return value


def _read(stream: IO[bytes], limit: int, what: str) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise HookError(f"failed to read {what}: larger than {limit} bytes")
    return data


def read_state(source: str, stdin: IO[bytes]) -> dict[str, Any]:
    """The OCI state from *source*: ``-`` or empty for *stdin*, else a file path
    (``--container-spec``)."""
    if source in ("", "-"):
        return _parse(_read(stdin, MAX_STATE, "OCI state"), "OCI state")
    try:
        with open(source, "rb") as handle:
            return _parse(_read(handle, MAX_STATE, source), source)
    except OSError as err:
        raise HookError(f"failed to read container state {source}: {err.strerror}") from None


def root_path(state: dict[str, Any]) -> str:
    """The host path of the container's root filesystem."""
    root = state.get("root")
    if isinstance(root, str) and root:
        return root
    bundle = state.get("bundle")
    if not isinstance(bundle, str) or not bundle:
        raise HookError("failed to determine container root: the OCI state has no bundle")
    config_path = posixpath.join(bundle, "config.json")
    try:
        with open(config_path, "rb") as handle:
            config = _parse(_read(handle, MAX_CONFIG, config_path), config_path)
    except OSError as err:
        raise HookError(f"failed to load OCI spec {config_path}: {err.strerror}") from None
    spec_root = config.get("root")
    path = spec_root.get("path") if isinstance(spec_root, dict) else None
    if not isinstance(path, str) or not path:
        raise HookError(f"failed to determine container root: no root.path in {config_path}")
    return path if posixpath.isabs(path) else posixpath.join(bundle, path)


def container_root(source: str, stdin: IO[bytes]) -> str:
    """The root filesystem of the container the state from *source* describes; it must be a
    directory."""
    path = root_path(read_state(source, stdin))
    if not os.path.isdir(path):
        raise HookError(f"container root {path} is not a directory")
    return path
