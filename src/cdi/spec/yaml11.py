"""YAML 1.1 as the reference parser reads it, into plain values, with guard rails.

The reference decodes spec files (JSON too) with a go-yaml v2 fork, so a plain ``0660`` is
octal, ``yes``/``y``/``on`` are booleans, ``1e3`` is a float and ``1:20`` or ``2001-12-14`` stay
strings. PyYAML's own resolver differs on several of these, so plain scalars are resolved with
the reference's algorithm (:mod:`cdi.spec.yamlscalar`); libyaml (when present) does the
tokenising. Block-style documents as tools write them usually take the faster
:mod:`cdi.spec.yamlblock` reader instead, which gives the same values.

Values come out JSON-shaped: ``None``, ``bool``, ``int``, ``float``, ``str``, ``list`` and
:class:`Pairs` for mappings (keys turned into strings as the reference's YAML-to-JSON step
does). Duplicate keys are left for the typed decoder to report, which sees every key anyway.

Guard rails: alias expansion and the number of nodes are counted (a "billion laughs" or a
huge document fails fast), recursive aliases and excessive nesting are refused.

Errors read as go-yaml words them (``yaml: line 8: did not find expected ',' or '}'``, with
go-yaml's own line numbering); :class:`YAMLValueError` also carries the exact 1-based line
and column. Duplicate keys do not stop the parse: they are collected, with go-yaml's text for
them, for the caller to decide (spec files refuse them; OCI specs let the last one win).
"""

from __future__ import annotations

import binascii
import codecs
import math
from typing import Any, NamedTuple

import yaml
from yaml.error import MarkedYAMLError
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import Node, ScalarNode
from yaml.reader import ReaderError
from yaml.resolver import BaseResolver
from yaml.scanner import ScannerError

from cdi.gotext import format_float32, quote
from cdi.spec.pairs import Pairs
from cdi.spec.yamllimits import MAX_ALIAS_EXPANSION, MAX_DEPTH, MAX_NODES
from cdi.spec.yamlscalar import (
    TAG_BINARY,
    TAG_BOOL,
    TAG_FLOAT,
    TAG_INT,
    TAG_MAP,
    TAG_MERGE,
    TAG_NULL,
    TAG_SEQ,
    TAG_STR,
    TAG_TIMESTAMP,
    resolve_plain,
)

try:  # libyaml's C parser when available; the results are the same either way.
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import Loader as _Parser  # type: ignore[assignment]

# PyYAML's C and Python parsers produce different (untyped) event and mark classes; both
# have the attributes used here.
_Event = Any
_Mark = Any

# The scalar rules and the guard rails live in lean modules of their own (the block reader
# shares them without PyYAML); they are re-exported here for existing users.
__all__ = [
    "MAX_ALIAS_EXPANSION",
    "MAX_DEPTH",
    "MAX_NODES",
    "TAG_BINARY",
    "TAG_BOOL",
    "TAG_FLOAT",
    "TAG_INT",
    "TAG_MAP",
    "TAG_MERGE",
    "TAG_NULL",
    "TAG_SEQ",
    "TAG_STR",
    "TAG_TIMESTAMP",
    "Document",
    "Duplicate",
    "GoYAMLResolver",
    "YAMLValueError",
    "load",
    "parse",
    "resolve_plain",
    "step_index",
]


class GoYAMLResolver(BaseResolver):
    """Tags plain scalars as go-yaml v2 would; a dumper using it quotes ambiguous strings."""

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode and implicit[0]:
            return resolve_plain(value)[0]
        return str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]


class YAMLValueError(ValueError):
    """The document is not valid YAML, or not a plain value; ``line``/``column`` locate it."""

    def __init__(
        self, message: str, mark: _Mark | None = None, position: tuple[int, int] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if mark is not None:
            position = (mark.line + 1, mark.column + 1)
        self.line: int | None = position[0] if position is not None else None
        self.column: int | None = position[1] if position is not None else None


def _syntax_error(err: MarkedYAMLError) -> YAMLValueError:
    """A libyaml scanner or parser error, worded as go-yaml words it.

    go-yaml prints the 0-based line of the problem for parser errors and the 1-based one for
    scanner errors, falls back to the context's line, and leaves the line out when it is 0.
    Tools match these texts, so they are kept; the exact position is attached separately.
    """
    problem_line = err.problem_mark.line if err.problem_mark is not None else 0
    context_line = err.context_mark.line if err.context_mark is not None else 0
    line = 0
    if problem_line:
        line = problem_line + 1 if isinstance(err, ScannerError) else problem_line
    elif context_line:
        line = context_line
    where = f"line {line}: " if line else ""
    problem = err.problem or "unknown problem parsing YAML content"
    return YAMLValueError(f"yaml: {where}{problem}", err.problem_mark or err.context_mark)


def _reader_error(err: ReaderError, data: bytes) -> YAMLValueError:
    """Undecodable input (bad UTF-8, control characters); go-yaml gives no line for these."""
    offset = min(max(err.position, 0), len(data))
    line = data.count(b"\n", 0, offset)
    column = offset - (data.rfind(b"\n", 0, offset) + 1)
    return YAMLValueError(f"yaml: {err.reason}", position=(line + 1, column + 1))


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org") else tag


def _go_bytes_as_text(data: bytes) -> str:
    """Bytes as Go's JSON encoder writes a string: each invalid UTF-8 byte becomes U+FFFD."""
    return data.decode("utf-8", errors=_PER_BYTE_REPLACE)


def _replace_one_byte(err: UnicodeError) -> tuple[str, int]:
    assert isinstance(err, UnicodeDecodeError)
    return "\ufffd", err.start + 1


_PER_BYTE_REPLACE = "cdi-go-per-byte-replace"
codecs.register_error(_PER_BYTE_REPLACE, _replace_one_byte)

# Tags go-yaml resolves a scalar against (``!!int "5"`` is 5; ``!!int "x"`` an error).
_RESOLVED_TAGS = frozenset({TAG_NULL, TAG_BOOL, TAG_INT, TAG_FLOAT})


def _scalar(event: ScalarEvent) -> Any:
    text: str = event.value
    tag = event.tag
    if tag is None:
        return resolve_plain(text)[1] if event.implicit[0] else text
    if tag in _RESOLVED_TAGS:
        resolved_tag, value = resolve_plain(text)
        if resolved_tag == tag:
            return value
        if tag == TAG_FLOAT and resolved_tag == TAG_INT:
            return float(value)
        raise YAMLValueError(
            f"yaml: cannot decode {_short_tag(resolved_tag)} `{text}` as a {_short_tag(tag)}",
            event.start_mark,
        )
    if tag == TAG_BINARY:
        encoded = text.replace("\n", "").replace("\r", "")
        try:
            if len(encoded) % 4:  # Go's standard encoding wants whole, padded quanta
                raise ValueError(encoded)
            data = binascii.a2b_base64(encoded, strict_mode=True)
        except (binascii.Error, ValueError):
            raise YAMLValueError(
                "yaml: !!binary value contains invalid base64 data", event.start_mark
            ) from None
        return _go_bytes_as_text(data)
    # !!str, !!timestamp, the non-specific "!" and every tag go-yaml does not resolve: the
    # text itself, as go-yaml hands it to an untyped target.
    return text


def _key_string(key: Any, event: _Event) -> str:
    """A mapping key as JSON sees it after the reference's YAML-to-JSON step."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        text = format_float32(key)
        return {"+Inf": ".inf", "-Inf": "-.inf", "NaN": ".nan"}.get(text, text)
    what = "null" if key is None else "a collection"
    raise YAMLValueError(f"yaml: a mapping key cannot be {what}", event.start_mark)


def _go_key(key: Any) -> str:
    """A key as go-yaml's ``%#v`` prints it in a duplicate-key error."""
    if isinstance(key, str):
        return quote(key)
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float):
        return format_float32(key)
    return str(key)


class Duplicate(NamedTuple):
    """A key that a mapping repeats: go-yaml's text for it, and where the repeated key is."""

    message: str
    line: int
    column: int


class _Merge:
    """Marks the pending key of a mapping as ``<<``."""


_MERGE = _Merge()


class _Frame:
    """An open sequence or mapping while events stream in."""

    __slots__ = (
        "anchor",
        "key",
        "key_mark",
        "keys",
        "marks",
        "merges",
        "raw_key",
        "size",
        "start",
        "value",
    )

    def __init__(self, value: list[Any], start: _Event) -> None:
        self.value = value
        self.start = start
        self.anchor: str | None = getattr(start, "anchor", None)
        self.key: str | _Merge | None = None
        self.raw_key: Any = None
        self.key_mark: _Mark | None = None
        self.keys: set[Any] | None = None
        self.size = 1
        self.merges: list[tuple[Any, _Event]] = []
        self.marks: list[_Mark] = []


class _Builder:
    """Builds plain values from parser events with an explicit stack.

    libyaml's own composer recurses in C and crashes on deeply nested input, so documents are
    assembled here, where depth, size, alias expansion and recursive aliases are checked, and
    where repeated keys and (when asked) every node's position are noted on the way.
    """

    def __init__(self, keep_marks: bool) -> None:
        self.keep_marks = keep_marks
        self.marks: dict[int, list[_Mark]] = {}
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.expanded = 0
        self.nodes = 0
        self.root: Any = None
        self.documents: list[Any] = []
        self.duplicates: list[Duplicate] = []
        #: Whether a NaN or an infinity was read (the JSON conversion may refuse it).
        self.non_finite = False

    def run(self, data: str | bytes) -> list[Any]:
        if isinstance(data, str):
            # libyaml reads bytes; a lone surrogate then fails as invalid UTF-8 would.
            data = data.encode("utf-8", "surrogatepass")
        parser = _Parser(data)
        try:
            while True:
                event = parser.get_event()
                if event is None or type(event) is StreamEndEvent:
                    return self.documents
                self.feed(event)
        except MarkedYAMLError as err:
            raise _syntax_error(err) from None
        except ReaderError as err:
            raise _reader_error(err, data) from None
        except yaml.YAMLError as err:
            raise YAMLValueError(f"yaml: {err}") from None
        finally:
            parser.dispose()

    def feed(self, event: _Event) -> None:
        kind = type(event)
        if kind is ScalarEvent:
            value = _scalar(event)
            if type(value) is float and not math.isfinite(value):
                self.non_finite = True
            if event.anchor:
                self.anchors[event.anchor] = (value, 1)
            self.deliver(value, 1, event)
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            self.open(event, Pairs() if kind is MappingStartEvent else [])
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            self.close()
        elif kind is AliasEvent:
            self.alias(event)
        elif kind is DocumentStartEvent:
            self.root = None
        elif kind is DocumentEndEvent:
            self.documents.append(self.root)

    def open(self, event: _Event, value: list[Any]) -> None:
        # go-yaml ignores tags on collections; so does this.
        if len(self.stack) >= MAX_DEPTH:
            raise YAMLValueError(f"yaml: exceeded max depth of {MAX_DEPTH}", event.start_mark)
        frame = _Frame(value, event)
        if type(value) is Pairs:
            frame.keys = set()
        if frame.anchor:
            # Registered as open so that an alias to it from inside is seen as recursion.
            self.anchors.pop(frame.anchor, None)
        self.stack.append(frame)
        if self.keep_marks:
            self.marks[id(value)] = frame.marks

    def close(self) -> None:
        frame = self.stack.pop()
        if frame.merges:
            self.merge(frame)
        if frame.anchor:
            self.anchors[frame.anchor] = (frame.value, frame.size)
        self.deliver(frame.value, frame.size, frame.start)

    def alias(self, event: _Event) -> None:
        anchor = event.anchor
        entry = self.anchors.get(anchor)
        if entry is None:
            if any(frame.anchor == anchor for frame in self.stack):
                raise YAMLValueError(
                    f"yaml: anchor '{anchor}' value contains itself", event.start_mark
                )
            raise YAMLValueError(f"yaml: unknown anchor '{anchor}' referenced", event.start_mark)
        value, size = entry
        self.expanded += size
        if self.expanded > MAX_ALIAS_EXPANSION:
            # go-yaml's words; it measures aliasing as a ratio, this counts nodes.
            raise YAMLValueError("yaml: document contains excessive aliasing", event.start_mark)
        self.deliver(value, size, event)

    def deliver(self, value: Any, size: int, event: _Event) -> None:
        """Hand a finished node (scalar, alias or collection) to the collection it is in."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise YAMLValueError(
                f"yaml: document has more than {MAX_NODES} nodes", event.start_mark
            )
        if not self.stack:
            self.root = value
            return
        parent = self.stack[-1]
        parent.size += size
        if parent.keys is None:
            parent.value.append(value)
            if self.keep_marks:
                parent.marks.append(event.start_mark)
        elif parent.key is None:
            if (
                type(event) is ScalarEvent
                and event.tag is None
                and event.implicit[0]  # a quoted "<<" is an ordinary key
                and event.value == "<<"
            ):
                parent.key = _MERGE
            else:
                parent.key = _key_string(value, event)
                parent.raw_key = value
            parent.key_mark = event.start_mark
        else:
            if parent.key is _MERGE:
                parent.merges.append((value, event))
            else:
                raw = parent.raw_key
                # go-yaml compares typed keys: 1 and "1" differ (and True == 1 in Python).
                identity = raw if type(raw) is str else (type(raw), raw)
                if identity in parent.keys:
                    self.note_duplicate(parent, event)
                else:
                    parent.keys.add(identity)
                parent.value.append((parent.key, value))
                if self.keep_marks and parent.key_mark is not None:
                    parent.marks.append(parent.key_mark)
            parent.key = None

    def note_duplicate(self, frame: _Frame, value_event: _Event) -> None:
        """Remember a repeated key, as go-yaml's strict mode reports it (at its value's line)."""
        line = value_event.start_mark.line + 1
        mark = frame.key_mark
        self.duplicates.append(
            Duplicate(
                f"line {line}: key {_go_key(frame.raw_key)} already set in map",
                mark.line + 1 if mark is not None else line,
                mark.column + 1 if mark is not None else 1,
            )
        )

    def merge(self, frame: _Frame) -> None:
        """``<<`` keys: merged entries never override the mapping's own or earlier ones."""
        present = {key for key, _ in frame.value}
        for value, event in frame.merges:
            sources = value if type(value) is list else [value]
            for source in sources:
                if type(source) is not Pairs:
                    raise YAMLValueError(
                        "yaml: map merge requires map or sequence of maps as the value",
                        event.start_mark,
                    )
                for key, item in source:
                    if key not in present:
                        present.add(key)
                        frame.value.append((key, item))
                        if self.keep_marks:
                            frame.marks.append(event.start_mark)


class Document:
    """A parsed YAML document: its plain value, its repeated keys, and where each node is."""

    def __init__(self, value: Any, builder: _Builder) -> None:
        self.value = value
        self.duplicates = builder.duplicates
        self.non_finite = builder.non_finite
        self._marks = builder.marks

    def locate(self, field_path: tuple[str | int, ...]) -> tuple[int, int] | None:
        """The 1-based ``(line, column)`` of the node at *field_path*, or of its nearest ancestor.

        A mapping step points at the key. Keys match exactly or, as in the decoder,
        case-insensitively; among duplicates the last is taken, being the one reported.
        """
        value = self.value
        position: tuple[int, int] | None = (1, 1) if value is not None else None
        for step in field_path:
            marks = self._marks.get(id(value))
            index = step_index(value, step)
            if marks is None or index is None or index >= len(marks):
                break
            mark = marks[index]
            position = (mark.line + 1, mark.column + 1)
            value = value[index][1] if type(value) is Pairs else value[index]
        return position


def _parse(data: str | bytes, keep_marks: bool) -> tuple[Any, _Builder]:
    builder = _Builder(keep_marks)
    documents = builder.run(data)
    for extra in documents[1:]:
        if extra is not None:
            raise YAMLValueError("yaml: expected a single document in the stream")
    return (documents[0] if documents else None), builder


def parse(data: str | bytes) -> Document:
    """Parse the document in *data*, keeping positions; raises :class:`YAMLValueError`."""
    value, builder = _parse(data, keep_marks=True)
    return Document(value, builder)


def load(data: str | bytes) -> Any:
    """Parse the document in *data* into plain values (``None`` when it is empty).

    Repeated keys are kept as pairs (:class:`Pairs`); nothing is refused for them here.
    """
    return _parse(data, keep_marks=False)[0]


def step_index(value: Any, step: str | int) -> int | None:
    """Which entry of the list or mapping *value* the path step *step* selects, if any."""
    if type(value) is list and isinstance(step, int):
        return step if 0 <= step < len(value) else None
    if type(value) is Pairs and isinstance(step, str):
        exact = folded = None
        folded_step = step.lower()
        for index, (key, _) in enumerate(value):
            if key == step:
                exact = index
            elif key.lower() == folded_step:
                folded = index
        return exact if exact is not None else folded
    return None
