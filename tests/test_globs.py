"""Device name globs (Go's filepath.Match) and their expansion against known devices."""

from __future__ import annotations

from typing import Any

import pytest

from cdi.globs import PatternError, expand, has_magic, match
from tables import cases


@cases("globs/match.yaml")
def test_match(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(PatternError) as caught:
            match(case["pattern"], "v/c=x")
        assert str(caught.value) == case["error"]
    else:
        assert match(case["pattern"], case["device"]) is case["match"]


@pytest.mark.parametrize(
    ("pattern", "magic"),
    [
        ("vendor.com/gpu=0", False),
        ("a/b=*", True),
        ("a/b=?", True),
        ("a/b=[0]", True),
        ("a/b=\\x", True),
    ],
)
def test_has_magic(pattern: str, magic: bool) -> None:
    assert has_magic(pattern) is magic


KNOWN = ["v.com/gpu=1", "v.com/gpu=0", "v.com/net=eth0", "w.com/gpu=0"]


def test_expand_sorts_and_deduplicates() -> None:
    expansion = expand(["v.com/gpu=*", "*/gpu=0", "v.com/gpu=1"], KNOWN)
    assert expansion.names == ["v.com/gpu=0", "v.com/gpu=1", "w.com/gpu=0"]
    assert expansion.unmatched == []


def test_expand_reports_what_matched_nothing_once() -> None:
    expansion = expand(["x.com/*=*", "v.com/net=eth0", "v.com/gpu=9", "x.com/*=*"], KNOWN)
    assert expansion.names == ["v.com/net=eth0"]
    assert expansion.unmatched == ["x.com/*=*", "v.com/gpu=9"]


def test_expand_raises_on_a_malformed_pattern() -> None:
    with pytest.raises(PatternError, match=r'syntax error in pattern "\["'):
        expand(["v.com/gpu=0", "["], KNOWN)


def test_pattern_error_is_a_value_error() -> None:
    assert issubclass(PatternError, ValueError)
