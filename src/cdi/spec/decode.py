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

from types import MappingProxyType

from cdi.gotext import format_float32, format_json_number, quote
from cdi.spec import fastdecode
from cdi.spec.model import EMPTY_EDITS, Spec
from cdi.spec.pairs import Pairs
from cdi.spec.schema import FIELDS, Field, Kind, field_for_key

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from cdi.errors import FieldPath

    _Decoder = Callable[[Any], Any]


class DecodeError(ValueError):
    """A value does not fit the spec structure; the path is filled in while unwinding.

    :attr:`message` is Go's ``encoding/json`` text for it (``json: unknown field "envv"``,
    ``json: cannot unmarshal string into Go struct field DeviceNode.devices.containerEdits.
    deviceNodes.major of type int64``), which names fields but not list entries; the exact
    entry is in :attr:`field_path`.
    """

    def __init__(
        self, text: str, hint: str | None = None, mismatch: tuple[str, str] | None = None
    ) -> None:
        super().__init__(text)
        self.text = text
        self.hint = hint
        self.mismatch = mismatch
        self._reversed_path: list[str | int] = []

    def at(self, step: str | int) -> DecodeError:
        self._reversed_path.append(step)
        return self

    @property
    def field_path(self) -> FieldPath:
        return tuple(reversed(self._reversed_path))

    @property
    def message(self) -> str:
        if self.mismatch is None:
            return self.text
        value, go_type = self.mismatch
        return f"json: cannot unmarshal {value} into {go_target(self.field_path)} of type {go_type}"


def go_target(path: FieldPath) -> str:
    """How Go's decoder names the place at *path*: ``Go struct field Struct.a.b`` or ``Go value``.

    Go names the innermost struct and the JSON names of the fields leading there; list
    indices and map keys are left out.
    """
    model: type | None = Spec
    struct = None
    names: list[str] = []
    for step in path:
        if isinstance(step, int):
            continue
        field = field_for_key(model, step) if model is not None else None
        if field is None:
            break
        struct = model.__name__ if model is not None else None
        names.append(field.key)
        model = field.model
    if struct is None:
        return "Go value"
    return f"Go struct field {struct}.{'.'.join(names)}"


def describe_value(value: Any, numeric: bool = False) -> str:
    """How Go's JSON decoder names a value in a type error (numbers spelt out for numbers)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        if not numeric:
            return "number"
        return f"number {value if isinstance(value, int) else format_json_number(value)}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Pairs):
        return "object"
    return "array"


def _mismatch(value: Any, go_type: str, numeric: bool = False) -> DecodeError:
    return DecodeError("", mismatch=(describe_value(value, numeric), go_type))


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


def _integer(low: int, high: int, go_type: str) -> _Decoder:
    def decode(value: Any) -> int:
        kind = type(value)
        if kind is int and low <= value <= high:
            return value  # type: ignore[no-any-return]
        if kind is float and value.is_integer() and low <= value <= high:
            return int(value)
        raise _mismatch(value, go_type, numeric=kind is int or kind is float)

    return decode


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UINT32_MAX = 2**32 - 1


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
            raise DecodeError(f"json: duplicate key {quote(key)}").at(key)
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
            "go_name": f"specs.{self.name}",
            "string": _string,
            "duplicate": _duplicate,
            "canonical": self._canonical_key,
            "new": object.__new__,
        }
        lines = [
            "def decode(value):",
            "    if type(value) is not Pairs:",
            "        raise mismatch(value, go_name)",
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
                "        raise duplicate(key)",
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
        import difflib  # only for the error: kept off the start path

        keys = [field.key for field in self.fields]
        close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
        hint = f"did you mean {quote(close[0])}?" if close else None
        raise DecodeError(f"json: unknown field {quote(key)}", hint)


def _conversion(field: Field, index: int) -> str:
    """The expression converting ``entry`` for *field*, with the common case inline."""
    if field.kind is Kind.STRING:
        return "entry if type(entry) is str else string(entry)"
    if field.kind is Kind.INT64:
        in_range = f"type(entry) is int and {_INT64_MIN} <= entry <= {_INT64_MAX}"
        return f"entry if {in_range} else decode{index}(entry)"
    return f"decode{index}(entry)"


def _duplicate(key: str) -> DecodeError:
    # Keys repeated exactly are refused before decoding; this is two spellings of one field
    # (``kind`` and ``Kind``), which Go lets the last one win and this refuses.
    return DecodeError(f"json: duplicate field {quote(key)}")


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
    """The conversion for *field*'s values (the generated code handles ``null`` itself)."""
    kind = field.kind
    go_type = field.go_type_name()
    if kind is Kind.STRING:
        return _string
    if kind is Kind.INT64 or kind is Kind.INT_PTR:  # Go's int is 64 bits wide
        return _integer(_INT64_MIN, _INT64_MAX, go_type)
    if kind is Kind.UINT32_PTR:
        return _integer(0, _UINT32_MAX, go_type)
    if kind is Kind.BOOL:
        return _bool
    if kind is Kind.STRINGS or kind is Kind.STRINGS_OR_NULL:
        return _strings(() if kind is Kind.STRINGS else None)
    if kind is Kind.UINT32S:
        return _list(_integer(0, _UINT32_MAX, "uint32"), go_type)
    if kind is Kind.STRING_MAP:
        return _string_map
    assert field.model is not None
    decode = plans[field.model].decoder(plans)
    if kind is Kind.STRUCTS:
        return _list(decode, go_type)
    return decode


# The decoding functions are generated on first use (most documents never need them).
_PLANS = {model: _Plan(model) for model in FIELDS}


def decode_spec(value: Any) -> Spec:
    """Decode the plain value of a whole spec document; raises :class:`DecodeError`.

    Mappings are :class:`~cdi.spec.pairs.Pairs` (from the YAML path or the JSON path), or
    ``dict`` (a value from ``json.loads``, the registry index): the common case of those
    takes :mod:`cdi.spec.fastdecode`, the rest this decoder.
    """
    if type(value) is dict:
        try:
            return fastdecode.decode_plain(value)
        except fastdecode.Unusual:
            value = as_pairs(value)
    spec: Spec = _PLANS[Spec].decoder(_PLANS)(value)
    return spec


def as_pairs(value: Any) -> Any:
    """*value* with every ``dict`` in it turned into :class:`~cdi.spec.pairs.Pairs`."""
    kind = type(value)
    if kind is dict:
        return Pairs([(key, as_pairs(item)) for key, item in value.items()])
    if kind is list:
        return [as_pairs(item) for item in value]
    if kind is Pairs:
        return Pairs([(key, as_pairs(item)) for key, item in value])
    return value
