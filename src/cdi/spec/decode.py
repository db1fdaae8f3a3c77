"""Plain values (from the YAML or JSON parser) to the model, with the reference's strictness.

What the reference's YAML-to-JSON-to-struct pipeline accepts is accepted here and nothing
else: unknown keys are errors (with a close-match hint), keys match case-insensitively with an
exact match preferred, a YAML bool/number in a string field becomes its Go string form, integer
fields take integral numbers in range only, and ``null`` leaves a field at its zero value.
Stricter on purpose: two keys naming the same field (``kind`` and ``Kind``) are an error rather
than last-one-wins, and a ``null`` entry in a list of objects is refused.

Errors carry the path of the offending value; paths are only built while an error unwinds,
so the common case pays nothing for them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from cdi.errors import FieldPath
from cdi.gotext import format_float32, quote
from cdi.spec.model import EMPTY_EDITS, Spec
from cdi.spec.schema import FIELDS, Field, Kind
from cdi.spec.yaml11 import Pairs

_Decoder = Callable[[Any], Any]


def render_path(path: FieldPath) -> str:
    """``("devices", 0, "name")`` as ``devices[0].name``."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            text += f".{step}" if text else step
    return text


class DecodeError(ValueError):
    """A value does not fit the spec structure; ``path`` is filled in while unwinding."""

    def __init__(self, template: str, hint: str | None = None) -> None:
        super().__init__(template)
        self.template = template
        self.hint = hint
        self._reversed_path: list[str | int] = []

    def at(self, step: str | int) -> DecodeError:
        self._reversed_path.append(step)
        return self

    @property
    def field_path(self) -> FieldPath:
        return tuple(reversed(self._reversed_path))

    @property
    def message(self) -> str:
        path = self.field_path
        where = f"field {quote(render_path(path))}" if path else "the document"
        return self.template.format(field=where, path=quote(render_path(path)))


def _describe(value: Any) -> str:
    """How Go's JSON decoder names a value in a type error."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return f"number {value}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return f"number {int(value)}"
        return f"number {value}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Pairs):
        return "object"
    return "array"


def _mismatch(value: Any, type_name: str) -> DecodeError:
    return DecodeError(f"cannot unmarshal {_describe(value)} into {{field}} of type {type_name}")


def _string(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return format_float32(value)
    raise _mismatch(value, "string")


def _integer(low: int, high: int, type_name: str) -> _Decoder:
    def decode(value: Any) -> int:
        kind = type(value)
        if kind is int and low <= value <= high:
            return value  # type: ignore[no-any-return]
        if kind is float and value.is_integer() and low <= value <= high:
            return int(value)
        raise _mismatch(value, type_name)

    return decode


_int64 = _integer(-(2**63), 2**63 - 1, "int64")
_int = _integer(-(2**63), 2**63 - 1, "int")
_uint32 = _integer(0, 2**32 - 1, "uint32")


def _optional(decode: _Decoder) -> _Decoder:
    def decode_optional(value: Any) -> Any:
        return None if value is None else decode(value)

    return decode_optional


def _zero_if_null(decode: _Decoder, zero: Any) -> _Decoder:
    def decode_or_zero(value: Any) -> Any:
        return zero if value is None else decode(value)

    return decode_or_zero


def _bool(value: Any) -> bool:
    if type(value) is bool:
        return value
    if value is None:
        return False
    raise _mismatch(value, "bool")


def _list(item: _Decoder, type_name: str, null: Any = ()) -> _Decoder:
    """A JSON array decoded item by item into a tuple; ``null`` gives *null*."""

    def decode(value: Any) -> Any:
        if type(value) is not list:
            if value is None:
                return null
            raise _mismatch(value, type_name)
        try:
            return tuple(map(item, value))
        except DecodeError:
            pass
        for index, entry in enumerate(value):  # again, to learn which entry failed
            try:
                item(entry)
            except DecodeError as err:
                raise err.at(index) from None
        raise AssertionError("unreachable")  # pragma: no cover

    return decode


def _strings(null: Any) -> _Decoder:
    def decode(value: Any) -> Any:
        if type(value) is list and all(type(entry) is str for entry in value):
            return tuple(value)
        return slow(value)

    slow = _list(_string, "[]string", null)
    return decode


def _string_map(value: Any) -> Any:
    if type(value) is not Pairs:
        if value is None:
            return MappingProxyType({})
        raise _mismatch(value, "map[string]string")
    result = {}
    for key, entry in value:
        if key in result:
            raise DecodeError("key {path} already set in map").at(key)
        try:
            result[key] = _string(entry)
        except DecodeError as err:
            raise err.at(key) from None
    return MappingProxyType(result)


class _Plan:
    """How to decode one model type from a JSON object."""

    def __init__(self, model: type) -> None:
        self.model = model
        self.name = model.__name__
        self.fields = FIELDS[model]
        self.exact: dict[str, tuple[str, _Decoder]] = {}
        self.folded: dict[str, tuple[str, _Decoder]] = {}
        self.required = [f.attr for f in self.fields if f.always and f.kind is Kind.STRING]

    def link(self, plans: dict[type, _Plan]) -> None:
        for field in self.fields:
            entry = (field.attr, _decoder(field, plans))
            self.exact[field.key] = entry
            self.folded[field.key.lower()] = entry

    def decode(self, value: Any) -> Any:
        if type(value) is not Pairs:
            raise _mismatch(value, self.name)
        values: dict[str, Any] = {}
        exact, folded = self.exact, self.folded
        for key, entry in value:
            found = exact.get(key) or folded.get(key.lower())
            if found is None:
                raise self._unknown(key)
            attr, decode = found
            if attr in values:
                raise DecodeError("key {path} already set in map").at(key)
            try:
                values[attr] = decode(entry)
            except DecodeError as err:
                raise err.at(key) from None
        for attr in self.required:
            if attr not in values:
                values[attr] = ""
        return self.model(**values)

    def _unknown(self, key: str) -> DecodeError:
        keys = [field.key for field in self.fields]
        close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
        hint = f"did you mean {quote(close[0])}?" if close else None
        return DecodeError("unknown field {path}", hint).at(key)


def _decoder(field: Field, plans: dict[type, _Plan]) -> _Decoder:
    kind = field.kind
    simple: dict[Kind, _Decoder] = {
        Kind.STRING: _string,
        Kind.INT64: _zero_if_null(_int64, 0),
        Kind.INT_PTR: _optional(_int),
        Kind.UINT32_PTR: _optional(_uint32),
        Kind.BOOL: _bool,
        Kind.STRINGS: _strings(()),
        Kind.STRINGS_OR_NULL: _strings(None),
        Kind.UINT32S: _list(_uint32, "[]uint32"),
        Kind.STRING_MAP: _string_map,
    }
    if kind in simple:
        return simple[kind]
    assert field.model is not None
    plan = plans[field.model]
    if kind is Kind.STRUCT:
        return _zero_if_null(plan.decode, EMPTY_EDITS)
    if kind is Kind.STRUCT_PTR:
        return _optional(plan.decode)
    return _list(plan.decode, f"[]{plan.name}")


def _build_plans() -> dict[type, _Plan]:
    plans = {model: _Plan(model) for model in FIELDS}
    for plan in plans.values():
        plan.link(plans)
    return plans


_SPEC_PLAN = _build_plans()[Spec]


def decode_spec(value: Any) -> Spec:
    """Decode the plain value of a whole spec document; raises :class:`DecodeError`."""
    spec: Spec = _SPEC_PLAN.decode(value)
    return spec
