"""Positions in a JSON document, found after the fact and only when an error needs one.

JSON spec files are parsed by the C ``json`` module, which keeps no positions. When a file
turns out to be wrong, the offending node is found by walking the text along the error's
field path: keys are read with the ``json`` module's own string scanner, and every value
that is not on the path is skipped by decoding it in C. The cost is bounded by one C-speed
pass over the text, never a second full parse.
"""

from __future__ import annotations

from cdi.gotext import quote
from cdi.spec import cjson
from cdi.spec.pairs import Pairs

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import Any

    from cdi.errors import FieldPath
    from cdi.spec.yaml11 import Duplicate

try:
    from _json import scanstring
except ImportError:  # pragma: no cover - an interpreter without the C accelerator
    from json.decoder import scanstring  # type: ignore[attr-defined,no-redef]


def _ignore(_text: str) -> None:
    return None


# Skipped values are decoded and dropped: numbers are not converted (a 5,000-digit integer
# would hit Python's int-string limit), constants are accepted.
_SKIP = cjson.scanner(
    object_pairs_hook=None, parse_int=_ignore, parse_float=_ignore, parse_constant=_ignore
)


class Member:
    """One ``"key": value`` of an object: the key, and offsets of key, value and value end."""

    __slots__ = ("key", "key_offset", "value_end", "value_offset")

    def __init__(self, key: str, key_offset: int, value_offset: int, value_end: int) -> None:
        self.key = key
        self.key_offset = key_offset
        self.value_offset = value_offset
        self.value_end = value_end


class _Unreadable(Exception):
    """The text is not the JSON the path expects (the caller then has no position)."""


def _space(text: str, index: int) -> int:
    """The offset of the first character at or after *index* that is not JSON whitespace."""
    while text[index : index + 1] in _WHITESPACE:
        index += 1
    return index


# What _space skips; not "" (the end of the text), which "in" would find in any string.
_WHITESPACE = frozenset(cjson.WHITESPACE)


def _skip_value(text: str, index: int) -> int:
    try:
        return _SKIP(text, index)[1]
    except cjson.NOT_JSON:
        raise _Unreadable from None


def members(text: str, index: int) -> list[Member]:
    """The members of the object whose ``{`` is at *index*."""
    if text[index : index + 1] != "{":
        raise _Unreadable
    found: list[Member] = []
    index = _space(text, index + 1)
    if text[index : index + 1] == "}":
        return found
    while True:
        if text[index : index + 1] != '"':
            raise _Unreadable
        key_offset = index
        try:
            key, index = scanstring(text, index + 1, True)
        except cjson.NOT_JSON:
            raise _Unreadable from None
        index = _space(text, index)
        if text[index : index + 1] != ":":
            raise _Unreadable
        value_offset = _space(text, index + 1)
        value_end = _skip_value(text, value_offset)
        found.append(Member(key, key_offset, value_offset, value_end))
        index = _space(text, value_end)
        if text[index : index + 1] == ",":
            index = _space(text, index + 1)
        elif text[index : index + 1] == "}":
            return found
        else:
            raise _Unreadable


def _node_at(text: str, indices: tuple[int, ...]) -> int:
    """The offset of the value reached by taking member/item number *i* for each *i*."""
    node = _space(text, 0)
    for wanted in indices:
        if text[node : node + 1] == "{":
            found = members(text, node)
            if wanted >= len(found):
                raise _Unreadable
            node = found[wanted].value_offset
        else:
            node = _item(text, node, wanted)
    return node


def _item(text: str, index: int, wanted: int) -> int:
    """The offset of item *wanted* of the array whose ``[`` is at *index*."""
    if text[index : index + 1] != "[":
        raise _Unreadable
    index = _space(text, index + 1)
    for _ in range(wanted):
        index = _space(text, _skip_value(text, index))
        if text[index : index + 1] != ",":
            raise _Unreadable
        index = _space(text, index + 1)
    return index


def _choose(found: list[Member], step: str) -> Member | None:
    """The member a decoder fills for *step*: the last exact match, else the last folded one."""
    exact = folded = None
    folded_step = step.lower()
    for member in found:
        if member.key == step:
            exact = member
        elif member.key.lower() == folded_step:
            folded = member
    return exact if exact is not None else folded


def offset_of(text: str, field_path: FieldPath) -> int | None:
    """The offset of the node at *field_path* (a key for object steps), or of an ancestor."""
    node = _space(text, 0)
    where: int | None = node if node < len(text) else None
    try:
        for step in field_path:
            if isinstance(step, int):
                node = where = _item(text, node, step)
            else:
                member = _choose(members(text, node), step)
                if member is None:
                    break
                where, node = member.key_offset, member.value_offset
    except _Unreadable:
        pass
    return where


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based ``(line, column)`` of *offset*, counting columns in characters."""
    line = text.count("\n", 0, offset)
    return line + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def repeated(text: str, indices: tuple[int, ...]) -> list[Member]:
    """The members of the object at *indices* (see :func:`_node_at`) repeating a key."""
    try:
        found = members(text, _node_at(text, indices))
    except _Unreadable:
        return []
    seen: set[str] = set()
    result = []
    for member in found:
        if member.key in seen:
            result.append(member)
        seen.add(member.key)
    return result


class JSONDocument:
    """A JSON spec document read by the C parser: its value, and positions on demand.

    The counterpart of :class:`~cdi.spec.yaml11.Document` for the fast path. Repeated keys
    are looked for only when asked, which is when decoding failed: a document that decodes
    has none, since the decoder refuses them in every object it fills.
    """

    #: JSON has no NaN or infinity (overflowing numbers are read as text, as go-yaml does).
    non_finite = False

    def __init__(self, text: str, value: Any) -> None:
        self.text = text
        self.value = value

    def locate(self, field_path: FieldPath) -> tuple[int, int] | None:
        """The 1-based position of the node at *field_path* (or of its nearest ancestor)."""
        offset = offset_of(self.text, field_path)
        return position(self.text, offset) if offset is not None else None

    @property
    def duplicates(self) -> list[Duplicate]:
        """Every repeated key, in the order go-yaml reports them (after the value's content)."""
        found: list[tuple[int, Duplicate]] = []
        for indices in _mappings_with_repeats(self.value):
            for member in repeated(self.text, indices):
                line = self.text.count("\n", 0, member.value_offset) + 1
                key_line, key_column = position(self.text, member.key_offset)
                message = f"line {line}: key {quote(member.key)} already set in map"
                found.append((member.value_end, _duplicate(message, key_line, key_column)))
        found.sort(key=lambda entry: entry[0])
        return [duplicate for _, duplicate in found]


def _duplicate(message: str, line: int, column: int) -> Duplicate:
    from cdi.spec.yaml11 import Duplicate  # error reports only: it needs PyYAML

    return Duplicate(message, line, column)


def _mappings_with_repeats(value: Any) -> list[tuple[int, ...]]:
    """Where (as member/item numbers) the mappings that repeat a key are in *value*."""
    result = []
    pending: list[tuple[Any, tuple[int, ...]]] = [(value, ())]
    while pending:
        node, indices = pending.pop()
        if type(node) is Pairs:
            if len({key for key, _ in node}) != len(node):
                result.append(indices)
            children = [item for _, item in node]
        elif type(node) is list:
            children = node
        else:
            continue
        pending.extend((child, (*indices, i)) for i, child in enumerate(children))
    return result
