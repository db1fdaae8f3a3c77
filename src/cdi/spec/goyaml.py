"""YAML in the layout of Go's yaml.v3 encoder.

The reference ``cdi`` tool dumps devices and specs with yaml.v3, and the reference spec
writer (``nvidia-ctk cdi generate``, CDI's ``WriteSpec``) writes spec files with it. Its
layout differs from PyYAML's: four spaces per level, sequences indented under their key
(PyYAML leaves them flush), the content of a sequence item two columns in (just past ``- ``)
with deeper levels rounded up to the next multiple of four, strings that would read back as
something else in double quotes, multi-line strings as literal blocks, and no line folding.
Matching it lets the output of the two tools be compared byte for byte. Data output
(``-o yaml``) keeps the project's own two-space layout (:func:`cdi.ocispec.dump_document`).

Which strings yaml.v3 quotes: those its own resolver would read as another type (numbers in
Go's syntax, ``true``/``null``/``~``/empty, timestamps, ``<<``), plus YAML 1.1 booleans
(``yes``, ``on``, ``y``...) and sexagesimal numbers (``1:20``, so a MIG name ``0:1`` too),
quoted "for compatibility with other parsers".
"""

from __future__ import annotations

import functools
import re
from typing import Any

import yaml

from cdi.spec.encode import dump_yaml
from cdi.spec.yaml11 import TAG_STR, GoYAMLResolver, resolve_plain

__all__ = ["dump", "dump_document", "needs_quotes"]

_INDENT = 4
#: yaml.v3 never folds long scalars (its best width is "unlimited").
_UNLIMITED_WIDTH = 2**31 - 1
#: yaml.v3 takes a key as a simple ``key:`` up to this many bytes (PyYAML: below 128 chars).
_SIMPLE_KEY_BYTES = 128

# yaml.v3's isBase60Float.
_BASE60 = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
# yaml.v3's timestamp layouts as Go's time.Parse reads them: "2006-1-2T15:4:5.999999999Z07:00"
# (also with a lower-case "t"), "2006-1-2 15:4:5.999999999" (a layout space matches one or
# more) and "2006-1-2". A fraction may use "," and have any number of digits.
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
    r"(?:(?:[Tt]([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,][0-9]+)?"
    r"(?:Z|[-+]([0-9]{2}):([0-9]{2})))"
    r"|(?: +([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,][0-9]+)?))?"
)
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_in(month: int, year: int) -> int:
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 29 if month == 2 and leap else _DAYS_IN_MONTH[month - 1]


def is_timestamp(text: str) -> bool:
    """Whether yaml.v3 reads the plain scalar *text* as a timestamp (ranges checked as Go's
    ``time.Parse`` checks them: ``2001-02-29`` is not a date, so it stays a string)."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return False
    year, month, day = (int(part) for part in match.group(1, 2, 3))
    if not 1 <= month <= 12 or not 1 <= day <= _days_in(month, year):
        return False
    clock = match.group(4, 5, 6) if match.group(4) is not None else match.group(9, 10, 11)
    if clock[0] is not None:
        hour, minute, second = (int(part) for part in clock)
        if hour >= 24 or minute >= 60 or second >= 60:
            return False
    zone = match.group(7, 8)
    return zone[0] is None or (int(zone[0]) <= 24 and int(zone[1]) <= 60)


def needs_quotes(text: str) -> bool:
    """Whether yaml.v3 writes the string *text* double-quoted (when it has no line break)."""
    return (
        resolve_plain(text)[0] != TAG_STR
        or _BASE60.fullmatch(text) is not None
        or is_timestamp(text)
    )


class _V3Resolver(GoYAMLResolver):
    """Tags plain scalars so that exactly the strings yaml.v3 quotes come out quoted."""

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode and implicit[0] and isinstance(value, str):
            if needs_quotes(value):
                # Any tag but str makes the emitter quote the scalar; the exact one is unused.
                tag = resolve_plain(value)[0]
                return tag if tag != TAG_STR else "tag:yaml.org,2002:timestamp"
            return TAG_STR
        return super().resolve(kind, value, implicit)


def _is_v3_special(char: str) -> bool:
    """Characters yaml.v3 cannot write unescaped although PyYAML can: NEL and those beyond
    the Basic Multilingual Plane (its printable test stops at three-byte UTF-8)."""
    return char == "\x85" or char >= "\U00010000"


class _Emitter(yaml.emitter.Emitter):
    # PyYAML's emitter is untyped; these overrides keep its signatures.

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        self.indents.append(self.indent)
        if self.indent is None:
            self.indent = self.best_indent if flow else 0
        elif self.states and self.states[-1] == self.expect_block_sequence_item:
            # A collection that is a sequence item starts right after "- ".
            self.indent += 2
        else:
            self.indent = self.best_indent * ((self.indent + self.best_indent) // self.best_indent)

    def expect_block_sequence(self) -> None:
        # yaml.v3 never writes a sequence flush with its key (no "indentless" sequences).
        self.increase_indent(flow=False)
        self.state = self.expect_first_block_sequence_item

    def analyze_scalar(self, scalar: str) -> Any:
        analysis = super().analyze_scalar(scalar)
        if any(_is_v3_special(char) for char in scalar):
            # As libyaml does for special characters: only double quotes can hold them.
            analysis.allow_flow_plain = analysis.allow_block_plain = False
            analysis.allow_single_quoted = analysis.allow_block = False
        return analysis

    def check_simple_key(self) -> bool:
        event = self.event
        if isinstance(event, yaml.ScalarEvent) and event.anchor is None:
            if self.analysis is None:
                self.analysis = self.analyze_scalar(event.value)
            if self.analysis.multiline:
                return False
            return len(event.value.encode("utf-8", "surrogatepass")) <= _SIMPLE_KEY_BYTES
        return bool(super().check_simple_key())

    def choose_scalar_style(self) -> str:
        event = self.event
        if isinstance(event, yaml.ScalarEvent) and not event.style and not self.canonical:
            if self.analysis is None:
                self.analysis = self.analyze_scalar(event.value)
            if "\n" in event.value:
                # yaml.v3 asks for a literal block; where one cannot stand, double quotes.
                block = not self.flow_level and not self.simple_key_context
                return "|" if block and self.analysis.allow_block else '"'
            if not event.implicit[0]:  # plain would read back as a number, bool, null...
                return '"'
        return str(super().choose_scalar_style())


class _Dumper(
    _Emitter,
    yaml.serializer.Serializer,
    yaml.representer.SafeRepresenter,
    _V3Resolver,
):
    def __init__(self, stream: Any) -> None:
        _Emitter.__init__(self, stream, indent=_INDENT, allow_unicode=True, width=_UNLIMITED_WIDTH)
        yaml.serializer.Serializer.__init__(self)
        yaml.representer.SafeRepresenter.__init__(self, default_flow_style=False, sort_keys=False)
        _V3Resolver.__init__(self)


#: Strings that are plain in yaml.v3 and PyYAML alike, unless they read as another type:
#: printable ASCII without spaces, quotes, ``#`` or flow and alias indicators, not starting
#: with an indicator (``-`` only before something else), not ending with ``:``.
_SIMPLE_TEXT = re.compile(
    r"(?!---|\.\.\.)(?:[A-Za-z0-9_./=+^$()]|-(?=.))[A-Za-z0-9_./:=+@^$()~,-]*(?<!:)"
)


class _NotSimple(Exception):
    """The document holds a value the fast writer leaves to the full emitter."""


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return _simple_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    raise _NotSimple


@functools.lru_cache(maxsize=8192)  # keys and option words repeat throughout a spec
def _simple_string(value: str) -> str:
    if _SIMPLE_TEXT.fullmatch(value) and len(value) <= _SIMPLE_KEY_BYTES:
        return f'"{value}"' if needs_quotes(value) else value
    raise _NotSimple


def _next_indent(indent: int) -> int:
    return _INDENT * ((indent + _INDENT) // _INDENT)


def _write_mapping(value: dict[str, Any], indent: int, first: str, out: list[str]) -> None:
    """Lines of mapping *value* whose keys start at column *indent*; the first line starts
    with *first* (a sequence item's ``- ``) instead of the indentation."""
    lead = first
    for key, item in value.items():
        key_text = _scalar(key)
        if isinstance(item, dict) and item:
            out.append(f"{lead}{key_text}:\n")
            _write_mapping(item, _next_indent(indent), " " * _next_indent(indent), out)
        elif isinstance(item, list) and item:
            out.append(f"{lead}{key_text}:\n")
            _write_sequence(item, _next_indent(indent), out)
        else:
            text = "{}" if isinstance(item, dict) else "[]" if isinstance(item, list) else None
            out.append(f"{lead}{key_text}: {text or _scalar(item)}\n")
        lead = " " * indent


def _write_sequence(value: list[Any], indent: int, out: list[str]) -> None:
    for item in value:
        dash = " " * indent + "- "
        if isinstance(item, dict) and item:
            _write_mapping(item, indent + 2, dash, out)
        elif isinstance(item, list | dict):
            raise _NotSimple  # not in specs; the full emitter knows the layout
        else:
            out.append(f"{dash}{_scalar(item)}\n")


def dump_simple(value: dict[str, Any]) -> str | None:
    """:func:`dump_document`'s bytes for a document the direct writer handles, else
    ``None`` (its strings are then left for the emitter to check and escape)."""
    try:
        return _dump_simple(value) if value else None
    except _NotSimple:
        return None


def _dump_simple(value: dict[str, Any]) -> str:
    """The fast path of :func:`dump_document` for the documents specs are: mappings,
    sequences, integers, booleans and simple strings. Raises :class:`_NotSimple` for
    anything else; ``tests/generate/test_goencode.py`` checks both paths agree."""
    out: list[str] = []
    _write_mapping(value, 0, "", out)
    return "".join(out)


def dump_document(value: Any, *, fast: bool = True) -> str:
    """*value* (plain data) as ``yaml.Marshal`` of yaml.v3 writes it, final newline included.

    Mappings keep their key order: the data stands for Go structs, whose fields come in
    declaration order (Go maps must be sorted by the caller, see :mod:`cdi.spec.goencode`).
    Documents of simple values take a direct writer, ten times faster than the emitter
    (*fast* off forces the emitter).
    """
    if fast and isinstance(value, dict):
        simple = dump_simple(value)
        if simple is not None:
            return simple
    return dump_yaml(value, _Dumper)


def dump(value: Any) -> str:
    """*value* (plain data) as yaml.v3 lays it out, without a final newline."""
    return dump_document(value).rstrip("\n")
