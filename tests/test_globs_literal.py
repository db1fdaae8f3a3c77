"""Patterns without glob syntax are matched by comparison, without building a regex: they
must select exactly what the regex path selects."""

from __future__ import annotations

from typing import Any

import pytest

from cdi.globs import compile_pattern, expand, has_magic
from tables import load_table

NAMES = [
    "vendor.com/gpu=0",
    "vendor.com/gpu=01",
    "v.c/c=(a)+",
    "vxc/c=(a)+",
    "v/c=a.b:c",
    "v/c=*",
    "v/c=\\",
    "v/c=é",
    "V/C=A",
]


def _literal_cases() -> list[dict[str, Any]]:
    return [
        case
        for case in load_table("globs/match.yaml")
        if "device" in case and not has_magic(case["pattern"])
    ]


LITERALS = [name for name in NAMES if not has_magic(name)]


@pytest.mark.parametrize("pattern", [*LITERALS, "v/c", "", "v.c/c=(a)", "vendor.com/gpu=0 "])
def test_literal_pattern_selects_what_its_regex_selects(pattern: str) -> None:
    assert not has_magic(pattern)
    expected = sorted(name for name in NAMES if compile_pattern(pattern).fullmatch(name))
    expansion = expand([pattern], NAMES)
    assert expansion.names == expected
    assert expansion.unmatched == ([] if expected else [pattern])


@pytest.mark.parametrize("case", _literal_cases(), ids=lambda case: case["name"])
def test_literal_vectors_through_expand(case: dict[str, Any]) -> None:
    expansion = expand([case["pattern"]], [case["device"]])
    assert (expansion.names == [case["device"]]) is case["match"]


def test_literal_and_glob_patterns_together() -> None:
    expansion = expand(["v.c/c=(a)+", "vendor.com/gpu=?", "nope/x=y"], NAMES)
    assert expansion.names == ["v.c/c=(a)+", "vendor.com/gpu=0"]
    assert expansion.unmatched == ["nope/x=y"]
