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


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_int64 = _integer(_INT64_MIN, _INT64_MAX, "int64")
_int = _integer(_INT64_MIN, _INT64_MAX, "int")
_uint32 = _integer(0, 2**32 - 1, "uint32")


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
    slow = _list(_string, "[]string", null)

    def decode(value: Any) -> Any:
        if type(value) is list:
            for entry in value:
                if type(entry) is not str:
                    return slow(value)
            return tuple(value)
        return slow(value)

    return decode


def _string_map(value: Any) -> Any:
    if type(value) is not Pairs:
        if value is None:
            return MappingProxyType({})
        raise _mismatch(value, "map[string]string")
    result = {}
    for key, entry in value:
        if key in result:
            raise _duplicate().at(key)
        try:
            result[key] = _string(entry)
        except DecodeError as err:
            raise err.at(key) from None
    return MappingProxyType(result)


class _Plan:
    """How to decode one model type from a JSON object.

    The decoding function is generated per model type (as ``dataclasses`` generates
    ``__init__``): spec files are parsed on container start paths, and a loop specialised to
    the type's keys is several times faster than a generic one. The generated code only
    dispatches; every conversion is one of the functions above.
    """

    def __init__(self, model: type) -> None:
        self.model = model
        self.name = model.__name__
        self.fields = FIELDS[model]
        self.folded = {field.key.lower(): field.key for field in self.fields}
        self._decode: _Decoder | None = None

    def decoder(self, plans: dict[type, _Plan]) -> _Decoder:
        """The decoding function, generated on first use (after those of nested types)."""
        if self._decode is None:
            self._decode = self._generate(plans)
        return self._decode

    def _generate(self, plans: dict[type, _Plan]) -> _Decoder:
        namespace: dict[str, Any] = {
            "Pairs": Pairs,
            "DecodeError": DecodeError,
            "Model": self.model,
            "mismatch": _mismatch,
            "string": _string,
            "duplicate": _duplicate,
            "canonical": self._canonical_key,
            "new": object.__new__,
        }
        lines = [
            "def decode(value):",
            "    if type(value) is not Pairs:",
            f"        raise mismatch(value, {self.name!r})",
        ]
        for index, field in enumerate(self.fields):
            zero = _zero(field)
            namespace[f"zero{index}"] = zero
            namespace[f"decode{index}"] = _decoder(field, plans)
            literal = type(zero) in (str, int, bool, tuple, type(None))
            lines.append(f"    v{index} = {zero!r}" if literal else f"    v{index} = zero{index}")
        lines += [
            "    seen = 0",
            "    for key, entry in value:",
            "        try:",
            *self._dispatch("key", "            "),
            "            else:  # not an exact match: retry ignoring case",
            "                name = canonical(key)",
            *self._dispatch("name", "                "),
            "        except DecodeError as err:",
            "            raise err.at(key) from None",
            "    made = new(Model)",
            "    made.__dict__.update({"
            + ", ".join(f"{field.attr!r}: v{i}" for i, field in enumerate(self.fields))
            + "})",
            "    return made",
        ]
        exec("\n".join(lines), namespace)  # generated from FIELDS only
        decode: _Decoder = namespace["decode"]
        return decode

    def _dispatch(self, variable: str, indent: str) -> list[str]:
        """An if/elif chain storing ``entry`` into the field named by *variable*."""
        lines = []
        for index, field in enumerate(self.fields):
            keyword = "if" if index == 0 else "elif"
            lines += [
                f"{keyword} {variable} == {field.key!r}:",
                f"    if seen & {1 << index}:",
                "        raise duplicate()",
                f"    seen |= {1 << index}",
                "    if entry is not None:  # null leaves the zero value",
                f"        v{index} = {_conversion(field, index)}",
            ]
        return [indent + line for line in lines]

    def _canonical_key(self, key: str) -> str:
        """The field key *key* matches ignoring case, or an unknown-field error."""
        canonical = self.folded.get(key.lower())
        if canonical is not None:
            return canonical
        keys = [field.key for field in self.fields]
        close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
        hint = f"did you mean {quote(close[0])}?" if close else None
        raise DecodeError("unknown field {path}", hint)


def _conversion(field: Field, index: int) -> str:
    """The expression converting ``entry`` for *field*, with the common case inline."""
    if field.kind is Kind.STRING:
        return "entry if type(entry) is str else string(entry)"
    if field.kind is Kind.INT64:
        in_range = f"type(entry) is int and {_INT64_MIN} <= entry <= {_INT64_MAX}"
        return f"entry if {in_range} else decode{index}(entry)"
    return f"decode{index}(entry)"


def _duplicate() -> DecodeError:
    return DecodeError("key {path} already set in map")


def _zero(field: Field) -> Any:
    """The value a field has when the document leaves it out."""
    return {
        Kind.STRING: "",
        Kind.INT64: 0,
        Kind.BOOL: False,
        Kind.STRINGS: (),
        Kind.UINT32S: (),
        Kind.STRUCTS: (),
        Kind.STRING_MAP: MappingProxyType({}),
        Kind.STRUCT: EMPTY_EDITS,
    }.get(field.kind)


def _decoder(field: Field, plans: dict[type, _Plan]) -> _Decoder:
    kind = field.kind
    # The generated code handles null, so these only see values.
    simple: dict[Kind, _Decoder] = {
        Kind.STRING: _string,
        Kind.INT64: _int64,
        Kind.INT_PTR: _int,
        Kind.UINT32_PTR: _uint32,
        Kind.BOOL: _bool,
        Kind.STRINGS: _strings(()),
        Kind.STRINGS_OR_NULL: _strings(None),
        Kind.UINT32S: _list(_uint32, "[]uint32"),
        Kind.STRING_MAP: _string_map,
    }
    if kind in simple:
        return simple[kind]
    assert field.model is not None
    decode = plans[field.model].decoder(plans)
    if kind is Kind.STRUCTS:
        return _list(decode, f"[]{field.model.__name__}")
    return decode


_PLANS = {model: _Plan(model) for model in FIELDS}
_decode_spec = _PLANS[Spec].decoder(_PLANS)


def decode_spec(value: Any) -> Spec:
    """Decode the plain value of a whole spec document; raises :class:`DecodeError`."""
    spec: Spec = _decode_spec(value)
    return spec
