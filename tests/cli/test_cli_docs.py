"""docs/cli.md is the commands' own --help: regenerating it changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from clitools import ROOT

from cdi.cli.docs import BEGIN, END, render, update
from cdi.cli.main import COMMANDS


def test_reference_is_current() -> None:
    path = ROOT / "docs" / "cli.md"
    current = path.read_text(encoding="utf-8")
    assert render(current) == current, "docs/cli.md is out of date: run python -m cdi.cli.docs"


def test_every_command_is_in_the_reference() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for name in COMMANDS:
        assert f"### `cdi {name}`" in text


def test_render_replaces_only_the_generated_part() -> None:
    document = f"# Head\n\n{BEGIN}\nstale\n{END}\n\ntail\n"
    result = render(document)
    assert result.startswith(f"# Head\n\n{BEGIN}\n\n### `cdi`\n")
    assert result.endswith(f"\n{END}\n\ntail\n")
    assert "stale" not in result
    assert render(result) == result


def test_render_needs_the_markers() -> None:
    with pytest.raises(ValueError, match="markers"):
        render("# no markers\n")


def test_update_command(tmp_path: Path) -> None:
    stale = tmp_path / "cli.md"
    stale.write_text(f"# Head\n{BEGIN}\nstale\n{END}\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(update, ["--check", str(stale)])
    assert (result.exit_code, result.stderr) == (
        1,
        f"{stale} is out of date: run python -m cdi.cli.docs\n",
    )
    result = runner.invoke(update, [str(stale)])
    assert (result.exit_code, result.stdout) == (0, f"updated {stale}\n")
    assert runner.invoke(update, ["--check", str(stale)]).exit_code == 0
