"""What one line of block-style YAML holds, for the block reader (:mod:`cdi.spec.yamlblock`).

A content line, once its indentation is taken off, is a scalar, ``key: value`` or ``key:``,
each possibly after ``- `` (a sequence item). :func:`classify_line` says which, with the key
and the value (plain scalars resolved as go-yaml v2 resolves them), or raises
:class:`OutsideSubset` for anything the block reader leaves to the full reader: see its
module for the subset. Whether the lines fit together is the block reader's business.
"""

from __future__ import annotations

from cdi.spec.pairs import Pairs
from cdi.spec.yamlscalar import NUMBER_START, TAG_STR, WORDS, resolve_plain

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "BLANK",
    "ENTRY",
    "ITEM",
    "OPEN",
    "SCALAR",
    "Later",
    "OutsideSubset",
    "classify_line",
]


class OutsideSubset(Exception):
    """The document leaves the subset the block reader reads; the full reader decides."""


# The kinds of content lines. An item line ("- ...") holds a sequence item whose content
# is one of the first three.
SCALAR = 0  # a scalar alone (key unused)
ENTRY = 1  # "key: value"
OPEN = 2  # "key:": the value is the block on the lines below, or null; the line's value
# is the anchor ("key: &name") that names the block, if any
ITEM = 3  # added to one of the above for a "- " line


#: Characters no plain scalar starts with ("-" may, before anything but a space).
_INDICATORS = frozenset("?:,[]{}#&*!|>'\"%@` ")
#: libyaml takes at most 1024 characters as a simple key; kept well within that.
_MAX_KEY = 1000
_ESCAPES = {
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "t": "\t",
    "n": "\n",
    "v": "\v",
    "f": "\f",
    "r": "\r",
    "e": "\x1b",
    " ": " ",
    '"': '"',
    "/": "/",
    "\\": "\\",
    "N": "\x85",
    "_": "\xa0",
    "L": "\u2028",
    "P": "\u2029",
}
_HEX_WIDTHS = {"x": 2, "u": 4, "U": 8}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
#: The characters of an anchor's name, as libyaml takes them.
_ANCHOR_NAME = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_")


class Later:
    """A value made only where its line is placed: a new empty collection (``[]``, ``{}``:
    never shared between lines or documents), or the node an alias names."""

    __slots__ = ("alias", "factory")

    def __init__(self, factory: type[list[Any]] | None = None, alias: str = "") -> None:
        self.factory = factory
        self.alias = alias


NEW_SEQUENCE = Later(list)
NEW_MAPPING = Later(Pairs)

BLANK = (0, 0, "", None)


def classify_line(line: str) -> tuple[int, int, str, Any]:
    """(indentation, kind, key, value) of *line*; :data:`BLANK` for a blank or comment line."""
    body = line.lstrip(" ")
    if not body or body[0] == "#":
        return BLANK
    return (len(line) - len(body), *_classify(body))


def _classify(body: str) -> tuple[int, str, Any]:
    """What the content line *body* (its indentation removed) holds: (kind, key, value).

    A :class:`Later` value is made where the line is placed.
    """
    if body[-1] == " ":
        raise OutsideSubset  # trailing spaces: not worth telling which of them YAML keeps
    if body[:2] == "- ":
        kind, key, value = _content(body[2:])
        return kind + ITEM, key, value
    return _content(body)


def _content(body: str) -> tuple[int, str, Any]:
    first = body[0]
    if first in "\"'":
        key, rest = _quoted(body)
        if not rest:
            return SCALAR, "", key
        if len(body) - len(rest) > _MAX_KEY:
            raise OutsideSubset
        if rest == ":":
            return OPEN, key, None
        if rest[:2] != ": ":
            raise OutsideSubset
        text = rest[2:]
    else:
        colon = body.find(": ")
        if colon < 0:
            if body[-1] == ":":
                return OPEN, _plain_key(body[:-1]), None
            return SCALAR, "", _value(body)
        key = _plain_key(body[:colon])
        text = body[colon + 2 :]
    if text[:1] == "&":
        return OPEN, key, _anchor_name(text)
    return ENTRY, key, _value(text)


def _anchor_name(text: str) -> str:
    """The name in the anchor or alias *text* (``&name``, ``*name``)."""
    name = text[1:]
    if not name or not _ANCHOR_NAME.issuperset(name):
        raise OutsideSubset
    return name


def _value(text: str) -> Any:
    """The value of the scalar (or ``[]``, ``{}``, alias) that is all of *text*."""
    if not text:
        raise OutsideSubset
    first = text[0]
    if first in "\"'":
        value, rest = _quoted(text)
        if rest:
            raise OutsideSubset
        return value
    if first in "[{*":
        if text == "[]":
            return NEW_SEQUENCE
        if text == "{}":
            return NEW_MAPPING
        if first == "*":
            return Later(alias=_anchor_name(text))
        raise OutsideSubset
    _check_plain(text)
    if first in NUMBER_START:
        return resolve_plain(text)[1]
    word = WORDS.get(text)
    return text if word is None else word[1]


def _plain_key(text: str) -> str:
    """*text* as a mapping key, when it is a plain scalar that resolves to a string."""
    if not text or len(text) > _MAX_KEY or text[-1] == " ":
        raise OutsideSubset
    _check_plain(text)
    if text[0] in NUMBER_START:
        if resolve_plain(text)[0] != TAG_STR:
            raise OutsideSubset  # a number as a key: the full reader's key rules
    elif text in WORDS:
        raise OutsideSubset  # a boolean, null or merge key
    return text


def _check_plain(text: str) -> None:
    """Refuse *text* unless YAML reads all of it as one plain scalar, on one line."""
    first = text[0]
    if first in _INDICATORS or ": " in text or " #" in text or text[-1] == ":":
        raise OutsideSubset
    # "-" before a space (or alone) is a sequence item; "---" and "..." mark documents.
    if first in "-." and (text[:3] in ("---", "...") or text[:2] in ("-", "- ")):
        raise OutsideSubset


def _quoted(text: str) -> tuple[str, str]:
    """The value of the quoted scalar *text* starts with, and the text after it."""
    if text[0] == "'":
        start = 1
        while True:
            end = text.find("'", start)
            if end < 0:
                raise OutsideSubset  # continued on the next line
            if text[end + 1 : end + 2] != "'":
                return text[1:end].replace("''", "'"), text[end + 1 :]
            start = end + 2
    end = text.find('"', 1)
    if end < 0:
        raise OutsideSubset
    if text.find("\\", 1, end) < 0:
        return text[1:end], text[end + 1 :]
    return _unescape(text)


def _unescape(text: str) -> tuple[str, str]:
    """A double-quoted scalar with escapes, as libyaml reads them."""
    parts = []
    index = 1
    while True:
        close = text.find('"', index)
        escape = text.find("\\", index)
        if close < 0:
            raise OutsideSubset
        if escape < 0 or close < escape:
            parts.append(text[index:close])
            return "".join(parts), text[close + 1 :]
        parts.append(text[index:escape])
        code = text[escape + 1 : escape + 2]
        simple = _ESCAPES.get(code)
        if simple is not None:
            parts.append(simple)
            index = escape + 2
            continue
        width = _HEX_WIDTHS.get(code)
        if width is None:
            raise OutsideSubset  # an unknown escape (an error), or a line continued
        digits = text[escape + 2 : escape + 2 + width]
        if len(digits) != width or not _HEX_DIGITS.issuperset(digits):
            raise OutsideSubset
        point = int(digits, 16)
        if 0xD800 <= point <= 0xDFFF or point > 0x10FFFF:
            raise OutsideSubset  # libyaml refuses these
        parts.append(chr(point))
        index = escape + 2 + width
