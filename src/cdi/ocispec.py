"""OCI runtime spec documents for the command line: reading, writing, and CDI device entries.

An OCI spec stays a plain ``dict`` (see :mod:`cdi.injection`). It is read leniently, as the
reference tool does: JSON, or YAML with the same YAML 1.1 rules as spec files, and no check
of its fields. :func:`take_cdi_devices` implements ``cdi resolve``'s step of pulling
``linux.devices`` entries whose ``path`` is a qualified CDI device name out of a spec.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from cdi.errors import CDIError
from cdi.gotext import path_error, quote
from cdi.jsonout import dumps_indent
from cdi.plaindata import MAX_DEPTH, copy_plain, nesting_depth

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import IO, Any

__all__ = [
    "OCISpecError",
    "choose_format",
    "dump_document",
    "parse_oci_spec",
    "read_oci_spec",
    "take_cdi_devices",
]

#: Reading an OCI spec from standard input.
STDIN = "-"


class OCISpecError(CDIError):
    """An OCI spec document could not be read or parsed."""


def choose_format(explicit: str | None, path: str) -> str:
    """``json`` or ``yaml``: *explicit* if given, else from *path*'s extension, else YAML.

    The reference tool's rule for what it prints (``.json`` -> JSON, anything else YAML).
    """
    if explicit in ("json", "yaml"):
        return explicit
    return "json" if path.endswith(".json") else "yaml"


def _plain(value: Any) -> Any:
    """YAML 1.1 values (mappings as ordered pairs) as JSON-style ``dict``/``list`` values."""
    from cdi.spec.pairs import Pairs

    if type(value) is Pairs:
        return {key: _plain(item) for key, item in value}  # a repeated key: the last wins
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def parse_oci_spec(data: str | bytes, label: str) -> dict[str, Any]:
    """Parse an OCI spec document (JSON or YAML) into a ``dict``; *label* names it in errors.

    An empty document is an empty spec, as in the reference. Raises :class:`OCISpecError`
    (``failed to parse OCI Spec ("<label>"): <why>``).
    """
    # Only the JSON reader is imported up front. The YAML reader, and the spec reader's
    # failure module (where the errors' phase prefixes live), would cost a new process more
    # than its whole start path.
    from cdi.spec.gojson import read_json

    failed = f"failed to parse OCI Spec ({quote(label)}): "
    value: Any
    read = read_json(data, pairs=False)
    if read is not None:
        value = read[1]
    else:
        from cdi.spec import yaml11

        try:
            value = _plain(yaml11.load(data))
        except yaml11.YAMLValueError as err:  # go-yaml's words: "yaml: line 2: did not find ..."
            from cdi.spec.failure import YAML_PHASE

            raise OCISpecError(failed + YAML_PHASE + err.message) from None
    if value is None:
        return {}
    if nesting_depth(value) > MAX_DEPTH:
        from cdi.spec.failure import YAML_PHASE

        raise OCISpecError(f"{failed}{YAML_PHASE}yaml: exceeded max depth of {MAX_DEPTH}")
    if not isinstance(value, dict):
        from cdi.spec.decode import describe_value
        from cdi.spec.failure import JSON_PHASE

        raise OCISpecError(
            f"{failed}{JSON_PHASE}json: cannot unmarshal {describe_value(value)} "
            "into Go value of type specs.Spec"
        )
    return value


def read_oci_spec(path: str, stdin: IO[bytes] | None = None) -> dict[str, Any]:
    """Read and parse the OCI spec file *path* (``-``: *stdin*, default standard input)."""
    try:
        if path == STDIN:
            data = (stdin if stdin is not None else sys.stdin.buffer).read()
        else:
            with open(path, "rb") as handle:
                data = handle.read()
    except OSError as err:
        reason = path_error(err, "read" if path == STDIN else "open", path)
        raise OCISpecError(f"failed to read OCI Spec ({quote(path)}): {reason}") from None
    return parse_oci_spec(data, path)


def dump_document(value: Any, fmt: str) -> str:
    """*value* (plain data) as 2-space indented JSON or as YAML, without a final newline.

    YAML quotes every string the reference's YAML reader would take for something else
    (``"0660"``, ``"y"``), so the output reads back the same there.
    """
    if fmt == "json":
        return dumps_indent(value)  # json.dumps(value, indent=2, ensure_ascii=False)
    from cdi.spec.encode import dump_yaml

    return dump_yaml(value).rstrip("\n")


def take_cdi_devices(oci_spec: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """The CDI device names requested in ``linux.devices``, and a copy of the spec without them.

    An entry whose ``path`` is a qualified CDI name (``vendor.com/class=dev``) is a request
    for that device; the names come back in order. The other entries are kept the way the
    reference re-adds them, replacing by path: a later entry with the path of an earlier one
    takes its place, so duplicates collapse. When every entry was a CDI name the list is left
    empty (``[]``), not removed. A spec without ``linux.devices`` comes back unchanged.
    """
    from cdi.names import is_qualified_name

    result: dict[str, Any] = copy_plain(oci_spec)
    linux = result.get("linux")
    if not isinstance(linux, dict) or not isinstance(linux.get("devices"), list):
        return [], result
    names: list[str] = []
    kept: list[Any] = []
    positions: dict[str, int] = {}
    for entry in linux["devices"]:
        path = entry.get("path") if isinstance(entry, dict) else None
        if isinstance(path, str) and is_qualified_name(path):
            names.append(path)
            continue
        if isinstance(path, str) and path in positions:
            kept[positions[path]] = entry
            continue
        if isinstance(path, str):
            positions[path] = len(kept)
        kept.append(entry)
    linux["devices"] = kept
    return names, result
