"""Model objects as plain data in wire form: Go's key order, ``omitempty`` fields left out.

Shared by the encoders (JSON, YAML) and the registry index; imports no encoder.
"""

from __future__ import annotations

from cdi.spec.schema import FIELDS, Kind

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import Any


def _is_empty(value: Any, kind: Kind) -> bool:
    if kind is Kind.STRINGS_OR_NULL or kind is Kind.INT_PTR or kind is Kind.UINT32_PTR:
        return value is None
    if kind is Kind.STRUCT:
        return bool(value.is_empty())
    if kind is Kind.STRUCT_PTR:
        return value is None
    return not value


def to_plain(obj: Any, *, json_style: bool = False) -> dict[str, Any]:
    """A model object as a plain ``dict`` in wire form (key order and omitted empties)."""
    result: dict[str, Any] = {}
    for field in FIELDS[type(obj)]:
        value = getattr(obj, field.attr)
        keep_struct = json_style and field.kind is Kind.STRUCT
        if not field.always and not keep_struct and _is_empty(value, field.kind):
            continue
        result[field.key] = _plain_value(value, field.kind, json_style)
    return result


def _plain_value(value: Any, kind: Kind, json_style: bool) -> Any:
    if kind is Kind.STRUCT or kind is Kind.STRUCT_PTR:
        return to_plain(value, json_style=json_style)
    if kind is Kind.STRUCTS:
        return [to_plain(item, json_style=json_style) for item in value]
    if kind is Kind.STRING_MAP:
        return dict(value)
    if isinstance(value, tuple):
        return list(value)
    return value
