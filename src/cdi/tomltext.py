"""TOML as config-file snippets need it: tables of simple values written out, and documents
read with the error position apart from the message.

Only what an engine's configuration needs is written: strings, booleans, integers, floats and
arrays of those (:func:`representable` says whether a value is one). Reading is
:mod:`tomllib`'s; every text written here reads back with it as the values given.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ABSENT",
    "Setting",
    "TOMLSyntaxError",
    "dotted",
    "lookup",
    "parse",
    "representable",
    "tables",
    "value",
]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_POSITION = re.compile(r"^(?P<message>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)$")


class TOMLSyntaxError(ValueError):
    """A document that is not TOML: tomllib's *message*, and its 1-based position if known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def parse(text: str) -> dict[str, Any]:
    """*text* read by :mod:`tomllib`; raises :class:`TOMLSyntaxError`."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        # Python 3.11's error has the position only inside its text.
        found = _POSITION.match(str(err))
        if found is None:
            raise TOMLSyntaxError(str(err)) from None
        raise TOMLSyntaxError(found["message"], int(found["line"]), int(found["column"])) from None


@dataclass(frozen=True)
class Setting:
    """``key = value`` in the table named by *table* (its path of keys)."""

    table: tuple[str, ...]
    key: str
    value: Any

    @property
    def path(self) -> tuple[str, ...]:
        return (*self.table, self.key)


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


#: What :func:`lookup` answers for a key that is not there.
ABSENT: Any = _Absent()


def lookup(document: Mapping[str, Any], path: Sequence[str]) -> Any:
    """The value at *path* in *document*, or :data:`ABSENT`."""
    node: Any = document
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return ABSENT
        node = node[key]
    return node


def tables(settings: Sequence[Setting]) -> str:
    """*settings* as TOML: a ``[table]`` header per table, tables in the order first named,
    a blank line between two."""
    grouped: dict[tuple[str, ...], list[Setting]] = {}
    for setting in settings:
        grouped.setdefault(setting.table, []).append(setting)
    blocks = []
    for table, members in grouped.items():
        lines = [f"[{dotted(table)}]"]
        lines += [f"{_key(member.key)} = {value(member.value)}" for member in members]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def dotted(path: Sequence[str]) -> str:
    """A key path as a table header names it: ``plugins."io.containerd.grpc.v1.cri"``."""
    return ".".join(_key(part) for part in path)


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _string(text: str) -> str:
    # JSON's escapes are all TOML escapes; TOML also forbids a raw DEL in a basic string.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def value(item: Any) -> str:
    """*item* as a TOML value; raises :class:`TypeError` unless :func:`representable`."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, str):
        return _string(item)
    if isinstance(item, int | float):
        return repr(item)
    if isinstance(item, list | tuple):
        return "[" + ", ".join(value(member) for member in item) + "]"
    raise TypeError(f"no TOML form for {type(item).__name__}")


def representable(item: Any) -> bool:
    """Whether :func:`value` writes *item* (a string, boolean, number or array of those)."""
    if isinstance(item, list | tuple):
        return all(representable(member) for member in item)
    return isinstance(item, str | bool | int | float)
