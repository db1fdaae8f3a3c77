"""The decoder's common case, for plain ``dict`` trees: exact-case keys and well-typed values.

:mod:`cdi.spec.decode` decodes whatever the reference accepts (case-insensitive keys, YAML
scalars in string fields, ``null``, integral floats) and words every error as Go does. Most
documents need none of that: every key is spelt exactly and every value has its field's own
type. This decoder handles that case only, from the plain values the C JSON parser builds
without a Python call per object, and raises :class:`Unusual` on anything else, so that the
caller hands the document to the full decoder. What it accepts, it decodes to a model equal
to the full decoder's, attribute for attribute.

:func:`decode_checked` also applies the validation rules as it goes (:mod:`cdi.spec.validate`
walks the model again, with a call per object and per rule): a value that breaks one, or
that needs a rule it leaves to the full rules, is :class:`Unusual` too, and the caller's full
path words the error.

As in the full decoder, the code is generated from the schema table (see :class:`_Generator`),
ahead of time, into :mod:`cdi.spec.fastdecode_generated` (see :func:`generated_source`).
"""

from __future__ import annotations

from types import MappingProxyType

# The name rules' own character sets, so that the inline checks cannot drift from them.
from cdi.names import ALPHANUMERICS, DEVICE_CHARACTERS, LETTERS, VENDOR_OR_CLASS_CHARACTERS
from cdi.spec.model import EMPTY_EDITS, ContainerEdits, Device, DeviceNode, Hook, Mount, Spec
from cdi.spec.schema import FIELDS, Field, Kind
from cdi.spec.validate import DEVICE_TYPES, HOOK_NAMES, ValidationError, validate_spec_content
from cdi.spec.version import accepted_versions

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UINT32_MAX = 2**32 - 1


class Unusual(Exception):
    """The value is outside this decoder's common case: decode it with the full decoder."""


def _uint32s(value: Any) -> tuple[int, ...]:
    if type(value) is not list:
        raise Unusual
    for item in value:
        if type(item) is not int or not 0 <= item <= _UINT32_MAX:
            raise Unusual
    return tuple(value)


def _string_map(value: Any) -> Any:
    if type(value) is not dict:
        raise Unusual
    for key, item in value.items():
        if type(key) is not str or type(item) is not str:
            raise Unusual
    return MappingProxyType(dict(value))


def _validate(spec: Spec) -> None:
    """All the rules, for a spec that uses what the inline checks leave out."""
    try:
        validate_spec_content(spec)
    except ValidationError:
        raise Unusual from None


def _made_of(name: str, characters: frozenset[str]) -> str:
    """An expression true only if the string *name* holds nothing but *characters*.

    A set look-up costs a hash per character (device names are often 40-character UUIDs);
    ``isalnum`` runs in C, so the other allowed characters are taken out first, one at a
    time until what is left is alphanumeric (``-`` first: UUIDs have only that).
    """
    if not characters >= ALPHANUMERICS:  # pragma: no cover - the names rules changed
        return f"frozenset({sorted(characters)!r}).issuperset({name})"
    others = sorted(characters - ALPHANUMERICS, key=lambda char: (char != "-", char))
    tries = [f"{name}.isalnum()"]
    previous = name
    for char in others:
        tries.append(f"(rest := {previous}.replace({char!r}, '')).isalnum()")
        previous = "rest"
    return f"{name}.isascii() and ({' or '.join(tries)})"


#: The ``cdiVersion`` strings a spec may declare when what it uses needs at least 0.3.0,
#: 0.5.0 (a device name starting with a digit) or 0.6.0 (a dot in the class).
_DECLARABLE = {version: accepted_versions(version) for version in ("0.3.0", "0.5.0", "0.6.0")}

#: Per (model, key): lines run on ``entry`` (already of the field's type) when checking.
#: ``more`` marks what only the full rules check (the rarer features, most of them
#: also what the version rules look at): the spec is then validated in full.
_ENTRY_CHECKS: dict[tuple[type, str], list[str]] = {
    (DeviceNode, "type"): ["if entry not in DEVICE_TYPES:", "    raise Unusual"],
    (DeviceNode, "permissions"): [
        "if entry != 'none' and entry.strip('rwm'):",
        "    raise Unusual",
    ],
    (DeviceNode, "hostPath"): ["if entry:", "    more = True"],
    (Mount, "type"): ["if entry:", "    more = True"],
    (Spec, "annotations"): ["more = True"],
    (Device, "annotations"): ["more = True"],
    (ContainerEdits, "netDevices"): ["more = True"],
    (ContainerEdits, "intelRdt"): ["more = True"],
    (ContainerEdits, "additionalGids"): ["more = True"],
}

#: Per model: lines run on the finished state ``s`` when checking.
_POST_CHECKS: dict[type, list[str]] = {
    DeviceNode: ["if not s['path']:", "    raise Unusual"],
    Mount: ["if not s['host_path'] or not s['container_path']:", "    raise Unusual"],
    Hook: ["if s['hook_name'] not in HOOK_NAMES or not s['path']:", "    raise Unusual"],
    Device: [
        "name = s['name']",
        "if name in names:",
        "    raise Unusual",
        "if not (name.isascii() and name.isalnum()) and not (",
        "    name and name[0] in ALPHANUMERICS and name[-1] in ALPHANUMERICS",
        f"    and {_made_of('name', DEVICE_CHARACTERS)}",
        "):",
        "    raise Unusual",
        "names.add(name)",
        "if name[0] <= '9':  # a digit, being alphanumeric",
        "    digit_name = True",
        "edits = s['container_edits']",
        "if not (edits.env or edits.device_nodes or edits.mounts or edits.hooks",
        "        or edits.net_devices or edits.additional_gids or edits.intel_rdt is not None):",
        "    raise Unusual",
    ],
    Spec: [
        "vendor, _, cls = s['kind'].partition('/')",
        "if not (",
        "    s['devices'] and vendor and cls",
        "    and vendor[0] in LETTERS and vendor[-1] in ALPHANUMERICS",
        "    and cls[0] in LETTERS and cls[-1] in ALPHANUMERICS",
        f"    and {_made_of('vendor', VENDOR_OR_CLASS_CHARACTERS)}",
        f"    and {_made_of('cls', VENDOR_OR_CLASS_CHARACTERS)}",
        "):",
        "    raise Unusual",
        "if not more:",
        "    required = '0.6.0' if '.' in cls else '0.5.0' if digit_name else '0.3.0'",
        "    if s['cdi_version'] not in DECLARABLE[required]:",
        "        raise Unusual",
    ],
}

#: Per model: lines run on the finished instance ``made`` when checking.
_MADE_CHECKS: dict[type, list[str]] = {Spec: ["if more:", "    validate(made)"]}


def _zero(field: Field) -> Any:
    """The value of a field the document leaves out (as in the full decoder)."""
    kind = field.kind
    if kind is Kind.STRING:
        return ""
    if kind is Kind.INT64:
        return 0
    if kind is Kind.BOOL:
        return False
    if kind is Kind.STRINGS or kind is Kind.UINT32S or kind is Kind.STRUCTS:
        return ()
    if kind is Kind.STRING_MAP:
        return MappingProxyType({})
    if kind is Kind.STRUCT:
        return EMPTY_EDITS
    return None  # pointers, and the nullable list


def _set_dict(model: type) -> Callable[[object, dict[str, Any]], None]:
    """The setter of ``__dict__`` for *model*'s instances, bypassing its frozen ``__setattr__``."""
    for klass in model.__mro__:
        descriptor = klass.__dict__.get("__dict__")
        if descriptor is not None:
            setter: Callable[[object, dict[str, Any]], None] = descriptor.__set__
            return setter
    raise TypeError(f"{model.__name__} instances have no __dict__")  # pragma: no cover


class _Generator:
    """The source of the decoding functions, from the schema table.

    Plain: a function per model type (quick to compile, for a process that decodes a spec
    or two). Checked (for parsing, many files): the nested types inlined into the functions
    for ``Spec`` and ``ContainerEdits`` (which occurs in two places), each also counting
    the keys it meets in ``n`` and noting in ``more`` what only the full rules check.

    An instance's state starts as a copy of the zero values and gets the values present;
    the instance is made by setting its ``__dict__`` to that, as ``copy`` does, past the
    frozen ``__setattr__``.
    """

    def __init__(self, checked: bool) -> None:
        self.checked = checked
        self.functions = {Spec, ContainerEdits} if checked else set(FIELDS)
        # Both decoders live in one module: their functions are told apart by name.
        self.prefix = "checked_" if checked else "plain_"

    def source(self) -> list[str]:
        lines: list[str] = []
        for model in FIELDS:
            if model not in self.functions:
                continue
            name = model.__name__
            lines.append(f"def {self.prefix}decode_{name}(value):")
            if self.checked:
                lines += ["    n = 0", "    more = False"]
                if model is Spec:
                    lines += ["    names = set()", "    digit_name = False"]
            lines += ["    " + line for line in self.block(model, "value", "made", 0)]
            if not self.checked:
                lines.append("    return made")
            else:
                lines.append("    return made, n" + ("" if model is Spec else ", more"))
        return lines

    def block(self, model: type, source: str, target: str, depth: int) -> list[str]:
        """Lines decoding the object in *source* into a *model* instance in *target*."""
        name = model.__name__
        state, key, entry = f"s{depth}", f"key{depth}", f"entry{depth}"
        lines = [f"if type({source}) is not dict:", "    raise Unusual"]
        if self.checked:
            lines.append(f"n += len({source})")
        lines += [f"{state} = template_{name}.copy()", f"for {key}, {entry} in {source}.items():"]
        for index, field in enumerate(FIELDS[model]):
            lines.append(f"    {'if' if index == 0 else 'elif'} {key} == {field.key!r}:")
            conversion = self.conversion(model, field, entry, f"{state}[{field.attr!r}]", depth)
            lines += ["        " + line for line in conversion]
        lines += ["    else:", "        raise Unusual"]
        if self.checked:
            lines += [_at(line, depth) for line in _POST_CHECKS.get(model, [])]
        lines += [f"{target} = new({name})", f"set_dict_{name}({target}, {state})"]
        if self.checked:
            lines += [line.replace("made", target) for line in _MADE_CHECKS.get(model, [])]
        return lines

    def conversion(
        self, model: type, field: Field, entry: str, store: str, depth: int
    ) -> list[str]:
        """Lines storing *entry* converted for *field* into *store*, or raising Unusual."""
        kind = field.kind
        check = _ENTRY_CHECKS.get((model, field.key), []) if self.checked else []
        check = [line.replace("entry", entry) for line in check]
        if kind is Kind.STRING or kind is Kind.BOOL:
            python_type = "str" if kind is Kind.STRING else "bool"
            return [
                f"if type({entry}) is not {python_type}:",
                "    raise Unusual",
                *check,
                f"{store} = {entry}",
            ]
        if kind is Kind.INT64 or kind is Kind.INT_PTR or kind is Kind.UINT32_PTR:
            low, high = (0, _UINT32_MAX) if kind is Kind.UINT32_PTR else (_INT64_MIN, _INT64_MAX)
            return [
                f"if type({entry}) is not int or not {low} <= {entry} <= {high}:",
                "    raise Unusual",
                f"{store} = {entry}",
            ]
        if kind is Kind.STRINGS or kind is Kind.STRINGS_OR_NULL:
            listed = [*check, f"if type({entry}) is not list:", "    raise Unusual"]
            text = f"text{depth}"
            if self.checked and field.key == "env":  # the rule: NAME=value, NAME not empty
                each = [
                    f"for {text} in {entry}:",
                    f"    if type({text}) is not str or {text}.find('=') <= 0:",
                ]
                return [*listed, *each, "        raise Unusual", f"{store} = tuple({entry})"]
            if self.checked:
                # Parsed values: their strings are str itself, which join checks in C.
                joined = [
                    "try:",
                    f"    ''.join({entry})",
                    "except TypeError:",
                    "    raise Unusual from None",
                ]
                return [*listed, *joined, f"{store} = tuple({entry})"]
            each = [f"for {text} in {entry}:", f"    if type({text}) is not str:"]
            return [*listed, *each, "        raise Unusual", f"{store} = tuple({entry})"]
        if kind is Kind.UINT32S:
            return [*check, f"{store} = uint32s({entry})"]
        if kind is Kind.STRING_MAP:
            counted = [f"n += len({entry})"] if self.checked else []
            return [*check, f"{store} = string_map({entry})", *counted]
        assert field.model is not None
        item, made = f"item{depth}", f"made{depth}"
        decoded = self.nested(field.model, item, made, depth)
        if kind is Kind.STRUCTS:
            items = f"items{depth}"
            return [
                *check,
                f"if type({entry}) is not list:",
                "    raise Unusual",
                f"{items} = []",
                f"for {item} in {entry}:",
                *["    " + line for line in decoded],
                f"    {items}.append({made})",
                f"{store} = tuple({items})",
            ]
        return [*check, f"{item} = {entry}", *decoded, f"{store} = {made}"]

    def nested(self, model: type, source: str, target: str, depth: int) -> list[str]:
        """Lines decoding the nested object in *source* into *target*: a call, or inline."""
        if model not in self.functions:
            return self.block(model, source, target, depth + 1)
        call = f"{self.prefix}decode_{model.__name__}({source})"
        if not self.checked:
            return [f"{target} = {call}"]
        return [
            f"{target}, keys, more_{depth} = {call}",
            "n += keys",
            f"if more_{depth}:",
            "    more = True",
        ]


def _at(line: str, depth: int) -> str:
    """A check line with the state of nesting *depth* for ``s``."""
    return line.replace("s['", f"s{depth}['")


def generated_namespace() -> dict[str, Any]:
    """What the generated decoders refer to: the helpers, and per model its class, the
    setter of its ``__dict__`` and the template of its zero values."""
    namespace: dict[str, Any] = {
        "Unusual": Unusual,
        "new": object.__new__,
        "uint32s": _uint32s,
        "string_map": _string_map,
        "validate": _validate,
        "DEVICE_TYPES": DEVICE_TYPES,
        "HOOK_NAMES": HOOK_NAMES,
        "LETTERS": LETTERS,
        "ALPHANUMERICS": ALPHANUMERICS,
        "DECLARABLE": _DECLARABLE,
    }
    for model, fields in FIELDS.items():
        name = model.__name__
        namespace[name] = model
        namespace[f"set_dict_{name}"] = _set_dict(model)
        namespace[f"template_{name}"] = {field.attr: _zero(field) for field in fields}
    return namespace


#: The module that holds the generated decoders, and its first lines.
GENERATED_MODULE = "cdi.spec.fastdecode_generated"
_GENERATED_HEADER = '''"""The decoders of :mod:`cdi.spec.fastdecode`, made from the schema table.

Do not edit: ``python -m cdi.spec.fastdecode`` writes this file, and a test checks that it
is what the schema makes now. A module, not code compiled at run time, so that a new process
loads the decoders from its bytecode cache instead of compiling them (milliseconds on a
container's start path).
"""
# mypy: ignore-errors
# ruff: noqa

from cdi.spec.fastdecode import generated_namespace

globals().update(generated_namespace())
del generated_namespace
'''


def generated_source() -> str:
    """The text of :data:`GENERATED_MODULE`: both decoders, plain then checked."""
    blocks = ["\n".join(_Generator(checked).source()) for checked in (False, True)]
    return _GENERATED_HEADER + "\n\n" + "\n\n\n".join(blocks) + "\n"


_generated: dict[bool, Callable[..., Any]] = {}


def _decoder(checked: bool) -> Callable[..., Any]:
    decode = _generated.get(checked)
    if decode is None:
        # Imported on first use: a process that decodes nothing does not load it.
        from cdi.spec import fastdecode_generated as module

        decode = _generated[checked] = getattr(
            module, "checked_decode_Spec" if checked else "plain_decode_Spec"
        )
    return decode


def decode_plain(value: Any) -> Spec:
    """The spec in the plain value *value* (no validation), or :class:`Unusual`."""
    spec: Spec = (_generated.get(False) or _decoder(False))(value)
    return spec


def decode_checked(value: Any) -> tuple[Spec, int]:
    """The spec in the parsed value *value* (from :func:`cdi.spec.gojson.read_plain_json`,
    whose strings are all of type ``str`` itself) and how many keys its objects hold, or
    :class:`Unusual`, also for a spec that the validation rules (without the *strict*
    ones) might refuse.

    A caller that read *value* from text compares the number of keys with the keys in the
    text, which tells it whether the parser dropped repeated keys (JSON objects become
    ``dict``s, where the last one wins).
    """
    decoded: tuple[Spec, int] = (_generated.get(True) or _decoder(True))(value)
    return decoded


if __name__ == "__main__":  # python -m cdi.spec.fastdecode: write the generated module
    import os

    target = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fastdecode_generated.py")
    with open(target, "w", encoding="utf-8") as handle:
        handle.write(generated_source())
    print(target)
