"""The C JSON path without the json package: the same values and refusals as json.loads.

:func:`cdi.spec.gojson.read_json` used to be ``json.loads`` with hooks behind two regular
expressions; :func:`_reference_read_json` below is that implementation, kept as the oracle.
"""

from __future__ import annotations

import json
import math
import random
import re
from typing import Any

import pytest

from cdi.spec import cjson, gojson
from cdi.spec.pairs import Pairs

_INT_MIN, _UINT_MAX = -(2**63), 2**64 - 1
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abAB-Fa-f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _json_float(text: str) -> float | str:
    value = float(text)
    return text if math.isinf(value) else value


def _json_int(text: str) -> int | float | str:
    if len(text.lstrip("-")) > len(str(_UINT_MAX)):
        return _json_float(text)
    value = int(text)
    return value if _INT_MIN <= value <= _UINT_MAX else _json_float(text)


def _no_constants(name: str) -> Any:
    raise ValueError(name)


def _reference_read_json(data: str | bytes, *, pairs: bool = True) -> tuple[str, Any] | None:
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    elif _SURROGATE.search(data):
        return None
    else:
        text = data
    if _SURROGATE_ESCAPE.search(text):
        return None
    try:
        value = json.loads(
            text,
            object_pairs_hook=Pairs if pairs else None,
            parse_int=_json_int,
            parse_float=_json_float,
            parse_constant=_no_constants,
        )
    except (ValueError, RecursionError):
        return None
    return text, value


def _typed(value: Any) -> Any:
    """*value* with the type of every node spelt out (1 == 1.0 == True otherwise)."""
    if isinstance(value, Pairs):
        return ("Pairs", [(key, _typed(item)) for key, item in value])
    if isinstance(value, dict):
        return ("dict", [(key, _typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(item) for item in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


DOCUMENTS: list[str | bytes] = [
    '{"a": 1}',
    ' \t\n\r{"a": 1} \t\n\r',
    '{"a": 1}\n\n',
    "\ufeff{}",
    b"\xef\xbb\xbf{}",
    '{"a": 1}\x0c',
    '\x0b{"a": 1}',
    '{"a": 1} x',
    '{"a": 1}{}',
    "",
    " ",
    "{",
    '{"a" 1}',
    '{"a": 1,}',
    "[1, 2, 3]",
    '"text"',
    "null",
    "true",
    "-0",
    "1.5e3",
    "1e400",
    "-1e400",
    "NaN",
    '{"a": Infinity}',
    '{"a": -Infinity}',
    str(2**63),
    str(2**64 - 1),
    str(2**64),
    str(-(2**63)),
    str(-(2**63) - 1),
    "9" * 20,
    "9" * 21,
    "9" * 5000,
    "1" + "0" * 400,
    '{"a": "\\u00e9\\n\\t\\"\\\\\\/"}',
    '{"a": "\\ud83d\\ude00"}',
    '{"a": "\\uD800"}',
    '{"a": "\\udfff"}',
    '{"a": "\\\\ud800"}',
    '{"a": "\\uzzzz"}',
    '{"a": "\\u"}',
    '{"a": "tab\there"}',
    '{"a": "\x00"}',
    '{"a": "\ud800"}',
    '{"a": "é ☃ 😀"}',
    '{"a": "é"}'.encode("latin-1"),
    b'{"a": "\xed\xa0\x80"}',
    '{"a": 1, "a": 2, "b": {"c": 3, "c": 4}}',
    '{"": [], "x": {}}',
    "[" * 5000 + "]" * 5000,
    '{"a": [1, 2.0, -3e-2, true, false, null, "s"]}',
]


@pytest.mark.parametrize("pairs", [True, False])
@pytest.mark.parametrize("data", DOCUMENTS, ids=lambda data: repr(data)[:40])
def test_read_json_is_the_reference(data: str | bytes, pairs: bool) -> None:
    expected = _reference_read_json(data, pairs=pairs)
    got = gojson.read_json(data, pairs=pairs)
    if expected is None:
        assert got is None
        return
    assert got is not None
    assert got[0] == expected[0]
    assert _typed(got[1]) == _typed(expected[1])


@pytest.mark.parametrize("data", DOCUMENTS, ids=lambda data: repr(data)[:40])
def test_whole_document_accepts_what_json_loads_accepts(data: str | bytes) -> None:
    if isinstance(data, bytes):
        return
    scan = cjson.scanner(
        object_pairs_hook=None, parse_int=int, parse_float=float, parse_constant=float
    )
    try:
        expected = json.loads(data)
    except (ValueError, RecursionError):
        with pytest.raises(cjson.NOT_JSON):
            cjson.whole_document(scan, data)
        return
    assert _typed(cjson.whole_document(scan, data)) == _typed(expected)


def test_plain_numbers_are_python_numbers() -> None:
    # The callers of read_plain_json check ranges themselves: no Go conversion here.
    value = gojson.read_plain_json(f'{{"big": {2**70}, "huge": 1e400, "small": -1}}')
    assert value == {"big": 2**70, "huge": math.inf, "small": -1}
    with pytest.raises(cjson.NOT_JSON):
        gojson.read_plain_json('{"a": NaN}')


def test_surrogate_escapes_are_found_as_the_pattern_finds_them() -> None:
    rng = random.Random(7)
    alphabet = ["\\", "u", "d", "D", "8", "b", "F", "c", "0", "x", '"']
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        found = _SURROGATE_ESCAPE.search(text) is not None
        assert (gojson.json_text(text) is None) == found, text
