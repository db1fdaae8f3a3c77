"""A document read without positions still gets its errors reported with them.

A fast YAML reader may keep no positions (its ``locate`` says ``None`` for every path).
When such a document turns out not to be a valid spec, parse_spec reads the bytes again
with the full YAML reader and reports from that reading, so the error is the one, with the
line and column, that the full reader alone would give.
"""

from __future__ import annotations

from typing import Any

import pytest

from cdi.errors import FieldPath, SpecError
from cdi.spec import load, yaml11
from cdi.spec.encode import to_plain
from tables import load_table


class _NoPositions:
    """A document as a reader that keeps no positions gives it (here: the full reader's
    value, so that only the positions differ)."""

    duplicates = ()
    non_finite = False

    def __init__(self, value: Any) -> None:
        self.value = value

    def locate(self, field_path: FieldPath) -> tuple[int, int] | None:
        return None


def _outcome(data: str | bytes) -> Any:
    try:
        return to_plain(load.parse_spec(data, "test.yaml"))
    except SpecError as err:
        return (str(err), err.line, err.column, err.hint)


_YAML_CASES = [
    case
    for case in load_table("spec/parse.yaml")
    if "5000-DIGITS" not in str(case["data"]) and "LONG-KEY" not in str(case["data"])
]


def test_errors_are_reported_from_the_full_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = [_outcome(case["data"]) for case in _YAML_CASES]
    read: list[_NoPositions] = []

    def positionless(data: str | bytes) -> _NoPositions:
        document = _NoPositions(yaml11.parse(data).value)
        read.append(document)
        return document

    monkeypatch.setattr(load, "parse_document", positionless)
    monkeypatch.setattr(load, "parse_json_spec", lambda data, strict=False: None)
    got = [_outcome(case["data"]) for case in _YAML_CASES]
    assert got == expected
    assert read, "the stub reader was used"
    # Only the second reading can have given these positions.
    assert sum(1 for outcome in got if isinstance(outcome, tuple) and outcome[1]) > 20


def test_no_spec_data_needs_no_second_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "parse_document", lambda data: _NoPositions(None))
    monkeypatch.setattr(yaml11, "parse", None)  # would fail if called
    with pytest.raises(SpecError, match="no Spec data"):
        load.parse_spec("", "test.yaml")
