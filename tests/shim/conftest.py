"""Fixtures of the cdi-runtime tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from shimtools import ShimWorld


@pytest.fixture
def world(tmp_path: Path) -> ShimWorld:
    return ShimWorld(tmp_path)
