"""The small part of TOML that runtime configuration files use, read without ``tomllib``.

``tomllib`` costs a new process about as much as everything else ``cdi-runtime create``
does (it imports ``re``, ``string`` and ``datetime``), and the shim reads its configuration
on every container start. Files written the plain way -- ``[table]`` headers with bare
names, ``key = value`` lines with bare keys, values that are one-line strings without
escapes, ``true``/``false``, decimal integers or one-line arrays of those, and ``#``
comments -- are read here; for anything else :func:`parse` answers ``None`` and the caller
uses ``tomllib``, so the result is always ``tomllib``'s.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import Any

__all__ = ["parse"]

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_DIGITS = frozenset("0123456789")


class _Unsupported(Exception):
    """Outside the subset: let tomllib read the file."""


def _bare(name: str) -> str:
    name = name.strip(" \t")
    if not name or not set(name) <= _BARE:
        raise _Unsupported
    return name


def _value(text: str) -> tuple[Any, str]:
    """The value at the start of *text*, and what follows it."""
    if text[:1] in ('"', "'"):
        quote = text[0]
        end = text.find(quote, 1)
        if end < 0 or text[1:2] == quote:  # unterminated, or maybe a multi-line string
            raise _Unsupported
        content = text[1:end]
        if "\\" in content or any(ord(char) < 0x20 or char == "\x7f" for char in content):
            raise _Unsupported  # escapes and control characters: tomllib's business
        return content, text[end + 1 :]
    if text[:1] == "[":
        items: list[Any] = []
        rest = text[1:].lstrip(" \t")
        while not rest.startswith("]"):
            item, rest = _value(rest)
            items.append(item)
            rest = rest.lstrip(" \t")
            if rest.startswith(","):
                rest = rest[1:].lstrip(" \t")
            elif not rest.startswith("]"):
                raise _Unsupported
        return items, rest[1:]
    word = text
    for stop in (" ", "\t", ",", "]", "#"):
        word = word.split(stop, 1)[0]
    rest = text[len(word) :]
    if word == "true":
        return True, rest
    if word == "false":
        return False, rest
    digits = word[1:] if word[:1] in "+-" else word
    if digits and set(digits) <= _DIGITS and (digits == "0" or digits[0] != "0"):
        return int(word), rest
    raise _Unsupported


def _line(line: str, table: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Apply one line; the table that later keys go to."""
    stripped = line.strip(" \t")
    if not stripped or stripped.startswith("#"):
        return table
    if stripped.startswith("["):
        if stripped.startswith("[["):
            raise _Unsupported
        header, closed, rest = stripped[1:].partition("]")
        if not closed or rest.strip(" \t")[:1] not in ("", "#"):
            raise _Unsupported
        target = root
        for part in header.split("."):
            name = _bare(part)
            child = target.setdefault(name, {})
            if not isinstance(child, dict):
                raise _Unsupported  # tomllib's error to give
            target = child
        if target.get(_DEFINED):
            raise _Unsupported  # a table defined twice
        target[_DEFINED] = True
        return target
    key, equals, text = stripped.partition("=")
    if not equals:
        raise _Unsupported
    name = _bare(key)
    if name in table:
        raise _Unsupported
    value, rest = _value(text.lstrip(" \t"))
    if rest.strip(" \t")[:1] not in ("", "#"):
        raise _Unsupported
    table[name] = value
    return table


#: Marks a table that has its own header (internal; removed before returning).
_DEFINED = "\x00defined"


def _clean(table: dict[str, Any]) -> dict[str, Any]:
    return {
        key: _clean(value) if isinstance(value, dict) else value
        for key, value in table.items()
        if key != _DEFINED
    }


def parse(text: str) -> dict[str, Any] | None:
    """The document *text* as ``tomllib.loads`` reads it, or ``None`` when it is outside the
    subset (including every document tomllib would refuse)."""
    root: dict[str, Any] = {}
    table = root
    try:
        for raw in text.split("\n"):
            line = raw[:-1] if raw.endswith("\r") else raw
            if any((ord(char) < 0x20 and char != "\t") or char == "\x7f" for char in line):
                raise _Unsupported  # control characters, even in comments: tomllib's errors
            table = _line(line, table, root)
    except _Unsupported:
        return None
    return _clean(root)
