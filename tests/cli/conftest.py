"""Fixtures for the command-line tests: the real ``cdi`` group under click's runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from clitools import VENDOR1, Invoke, write

from cdi.cli.main import main


@pytest.fixture(autouse=True)
def _no_spec_dirs_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDI_SPEC_DIRS", raising=False)


@pytest.fixture
def cdi() -> Invoke:
    """``cdi(*args, input=None)`` runs the ``cdi`` group; click's result has ``exit_code``,
    ``stdout`` and ``stderr``."""
    runner = CliRunner()

    def invoke(*args: str, input: str | bytes | None = None, **kwargs: Any) -> Result:
        return runner.invoke(
            main, list(args), input=input, catch_exceptions=False, prog_name="cdi", **kwargs
        )

    return invoke


@pytest.fixture
def vendor1(tmp_path: Path) -> Path:
    """A spec directory holding the tutorial's vendor1.yaml."""
    directory = tmp_path / "cdi"
    write(directory, "vendor1.yaml", VENDOR1)
    return directory
