"""Go's encoding/csv, as RUN --device values are split (tests/vectors/build/go_csv.yaml)."""

from __future__ import annotations

from typing import Any

import pytest

from cdi.build.gocsv import CSVError, first_record
from tables import cases


@cases("build/go_csv.yaml")
def test_go_csv_vectors(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(CSVError) as raised:
            first_record(case["input"])
        assert str(raised.value) == case["error"]
    else:
        assert first_record(case["input"]) == case["fields"]
