"""Plain YAML scalars resolved as the reference's go-yaml v2 resolves them (YAML 1.1).

A plain ``0660`` is octal, ``yes``/``y``/``on`` are booleans, ``1e3`` is a float and ``1:20``
or ``2001-12-14`` stay strings. PyYAML's own resolver differs on several of these, hence
this module. It needs neither PyYAML nor ``typing`` at run time, and compiles its few
patterns only when a scalar needs them (plain decimals, the only numbers most spec files
hold, never do), so the start path's block reader (:mod:`cdi.spec.yamlblock`) can use it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from re import Pattern
    from typing import Any

TAG_NULL = "tag:yaml.org,2002:null"
TAG_BOOL = "tag:yaml.org,2002:bool"
TAG_INT = "tag:yaml.org,2002:int"
TAG_FLOAT = "tag:yaml.org,2002:float"
TAG_STR = "tag:yaml.org,2002:str"
TAG_MERGE = "tag:yaml.org,2002:merge"
TAG_MAP = "tag:yaml.org,2002:map"
TAG_SEQ = "tag:yaml.org,2002:seq"
TAG_TIMESTAMP = "tag:yaml.org,2002:timestamp"
TAG_BINARY = "tag:yaml.org,2002:binary"

_INF = float("inf")

#: The scalars that resolve by their whole text, with what they resolve to.
WORDS: dict[str, tuple[str, Any]] = {}
for _words, _value in (
    ("y Y yes Yes YES true True TRUE on On ON", True),
    ("n N no No NO false False FALSE off Off OFF", False),
):
    for _word in _words.split():
        WORDS[_word] = (TAG_BOOL, _value)
for _word in ("", "~", "null", "Null", "NULL"):
    WORDS[_word] = (TAG_NULL, None)
_NAN = float("nan")  # one object, so that documents holding it compare equal
for _word in (".nan", ".NaN", ".NAN"):
    WORDS[_word] = (TAG_FLOAT, _NAN)
for _word in (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"):
    WORDS[_word] = (TAG_FLOAT, _INF)
for _word in ("-.inf", "-.Inf", "-.INF"):
    WORDS[_word] = (TAG_FLOAT, -_INF)
WORDS["<<"] = (TAG_MERGE, "<<")

#: The first characters of the scalars that may resolve to a number (others never do).
NUMBER_START = frozenset("+-.0123456789")
#: Every character the number syntax below has; no number has another, or a second dot.
_NUMBER_CHARACTERS = frozenset("+-._0123456789abcdefABCDEFxXoO")

_GO_BASES = {"x": 16, "X": 16, "o": 8, "O": 8, "b": 2, "B": 2}
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
_UINT64_DIGITS = len(str(_UINT64_MAX))
#: Unsigned decimals of at most this many digits are always within uint64.
_SAFE_DECIMAL_DIGITS = _UINT64_DIGITS - 1

#: Filled on first use by :func:`_number_syntax`.
_SYNTAX: list[Pattern[str]] = []


def _number_syntax() -> list[Pattern[str]]:
    """Go's ``strconv.ParseInt(s, 0, 64)`` syntax (underscores already removed), go-yaml's
    yamlStyleFloat, and Go's ``ParseFloat`` syntax for scalars starting with ``.``."""
    if not _SYNTAX:
        import re  # compiling these costs more than a small spec's parse: only on demand

        _SYNTAX[:] = (
            re.compile(r"([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)"),
            re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"),
            re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?"),
        )
    return _SYNTAX


def _parse_go_int(text: str) -> int | None:
    match = _number_syntax()[0].fullmatch(text)
    if match is None:
        return None
    sign, digits = match.groups()
    if len(digits) > 1 and digits[0] == "0":
        base = _GO_BASES.get(digits[1], 8)
        value = int(digits[2:] if base != 8 or digits[1] in "oO" else digits[1:], base)
    elif len(digits) > _UINT64_DIGITS:
        # Out of range for Go anyway; and Python refuses to convert very long decimal
        # strings (the int-string limit), which must not surface as a ValueError.
        return None
    else:
        value = int(digits)
    if sign == "-":
        value = -value
    if _INT64_MIN <= value <= _INT64_MAX or (not sign and value <= _UINT64_MAX):
        return value
    return None


def resolve_plain(text: str) -> tuple[str, Any]:
    """Resolve a plain (unquoted) scalar to ``(tag, value)`` exactly as go-yaml v2 does."""
    word = WORDS.get(text)
    if word is not None:
        return word
    first = text[0]
    if first not in NUMBER_START:
        return TAG_STR, text
    if (
        text.isdigit()
        and text.isascii()  # isdigit() alone takes any Unicode digit
        and (first != "0" or len(text) == 1)  # a leading 0 is octal
        and len(text) <= _SAFE_DECIMAL_DIGITS
    ):
        return TAG_INT, int(text)
    if text.count(".") > 1 or not _NUMBER_CHARACTERS.issuperset(text):
        return TAG_STR, text  # a version ("0.5.0"), an option ("--link"), a MIG name ("0:1")
    if first == ".":
        if _number_syntax()[2].fullmatch(text):
            return _float_or_text(text)
    else:
        # Timestamps ("2001-12-14") fall through to strings, as go-yaml hands them to
        # untyped targets; none of them parses as a number below.
        plain = text.replace("_", "")
        number = _parse_go_int(plain)
        if number is not None:
            return TAG_INT, number
        if _number_syntax()[1].fullmatch(plain):
            return _float_or_text(plain, text)
    return TAG_STR, text


def _float_or_text(number: str, text: str | None = None) -> tuple[str, Any]:
    value = float(number)
    if abs(value) == _INF:  # Go's ParseFloat fails on overflow, leaving a string
        return TAG_STR, text if text is not None else number
    return TAG_FLOAT, value
