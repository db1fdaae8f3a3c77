"""Loading the data-driven test tables under ``tests/vectors/``.

Each table is a YAML file whose top level is a list of cases; every case has a ``name``. A
table has exactly one loader (a test module) that says what the other keys mean.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

VECTORS = Path(__file__).parent / "vectors"


def load_table(relative: str) -> list[dict[str, Any]]:
    """The cases of ``tests/vectors/<relative>``."""
    with (VECTORS / relative).open(encoding="utf-8") as handle:
        cases = yaml.safe_load(handle)
    assert isinstance(cases, list) and cases, f"{relative}: expected a non-empty list of cases"
    names = [case["name"] for case in cases]
    assert len(names) == len(set(names)), f"{relative}: case names must be unique"
    return cases


def cases(relative: str) -> Any:
    """``pytest.mark.parametrize`` over the table, one test id per case name."""
    table = load_table(relative)
    return pytest.mark.parametrize("case", table, ids=[case["name"] for case in table])
