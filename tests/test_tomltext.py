"""cdi.tomltext: what it writes reads back with tomllib as the values given."""

from __future__ import annotations

import math
import tomllib
from typing import Any

import pytest

from cdi.tomltext import (
    ABSENT,
    Setting,
    TOMLSyntaxError,
    dotted,
    lookup,
    parse,
    representable,
    tables,
    value,
)

AWKWARD_STRINGS = [
    "",
    "plain",
    'a "quoted" word',
    "back\\slash",
    "tab\tnew\nline\rreturn",
    "\x00\x01\x1f\x7f",
    "été ☃ \U0001f600",
    "'single'",
    "#not a comment",
]


@pytest.mark.parametrize("text", AWKWARD_STRINGS)
def test_strings_read_back(text: str) -> None:
    assert tomllib.loads(f"k = {value(text)}") == {"k": text}


@pytest.mark.parametrize(
    "item",
    [True, False, 0, -7, 2**62, 1.5, -0.25, 1e20, 1e-05, float("inf"), [], [1, "a", [True]]],
)
def test_values_read_back(item: Any) -> None:
    assert representable(item)
    assert tomllib.loads(f"k = {value(item)}") == {"k": item}


def test_nan_reads_back_as_nan() -> None:
    assert math.isnan(tomllib.loads(f"k = {value(float('nan'))}")["k"])


@pytest.mark.parametrize("item", [{"a": 1}, None, [{"a": 1}], b"x"])
def test_what_has_no_form_here(item: Any) -> None:
    assert not representable(item)
    with pytest.raises(TypeError, match="no TOML form"):
        value(item)


def test_keys_are_bare_or_quoted() -> None:
    assert dotted(["plugins", "io.containerd.grpc.v1.cri", "containerd"]) == (
        'plugins."io.containerd.grpc.v1.cri".containerd'
    )
    assert dotted(["a b", "c-d_1", ""]) == '"a b".c-d_1.""'


def test_tables_group_settings_in_order_of_first_mention() -> None:
    text = tables(
        [
            Setting(("a",), "x", 1),
            Setting(("a", "b.c"), "y", "z"),
            Setting(("a",), "w", [True]),
        ]
    )
    assert text == '[a]\nx = 1\nw = [true]\n\n[a."b.c"]\ny = "z"\n'
    assert tomllib.loads(text) == {"a": {"x": 1, "w": [True], "b.c": {"y": "z"}}}


def test_lookup() -> None:
    document = {"a": {"b": {"c": 1}}, "s": "x"}
    assert lookup(document, ["a", "b", "c"]) == 1
    assert lookup(document, ["a", "b"]) == {"c": 1}
    assert lookup(document, ["a", "x"]) is ABSENT
    assert lookup(document, ["s", "x"]) is ABSENT
    assert lookup(document, []) == document


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        ("a = 1\nb = \n", "Invalid value", 2, 5),
        ("[x]\n[x]\n", "Cannot declare ('x',) twice", 2, 3),
        ('a = "open', "Unterminated string (at end of document)", None, None),
    ],
)
def test_parse_errors_keep_the_position_apart(
    text: str, message: str, line: int | None, column: int | None
) -> None:
    with pytest.raises(TOMLSyntaxError) as caught:
        parse(text)
    assert (caught.value.message, caught.value.line, caught.value.column) == (
        message,
        line,
        column,
    )
