"""docs/kubernetes.md keeps up with the commands: every flag of both modes is in its tables,
with the default the command has, and no flag there is one the command lacks."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from cdi.cli.main import main as cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "kubernetes.md"
MODES = ("device-plugin", "dra")


def _command(mode: str) -> click.Command:
    group = cli.get_command(click.Context(cli), "kubelet-plugin")
    assert isinstance(group, click.Group)
    command = group.get_command(click.Context(group), mode)
    assert command is not None
    return command


def _table(mode: str) -> dict[str, str]:
    """The flag table of *mode*'s section: flag -> the default column."""
    text = DOC.read_text(encoding="utf-8")
    heading = {"device-plugin": "## Device plugin", "dra": "## DRA driver"}[mode]
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        match = re.match(r"\| `(--[a-z-]+)[^`]*` \| ([^|]*) \|", line)
        if match:
            rows[match[1]] = match[2].strip()
    return rows


@pytest.mark.parametrize("mode", MODES)
def test_every_flag_is_documented_and_no_other(mode: str) -> None:
    options = [param for param in _command(mode).params if isinstance(param, click.Option)]
    flags = {param.opts[0] for param in options if param.opts[0] != "--help"}
    assert set(_table(mode)) == flags


@pytest.mark.parametrize("mode", MODES)
def test_the_documented_defaults_are_the_commands(mode: str) -> None:
    table = _table(mode)
    for param in _command(mode).params:
        if not isinstance(param, click.Option) or param.opts[0] not in table:
            continue
        documented = table[param.opts[0]]
        if param.required:
            assert documented == "required", param.opts[0]
        elif isinstance(param.default, str) and param.default:
            assert f"`{param.default}`" in documented, param.opts[0]
        elif isinstance(param.default, (int, float)) and not isinstance(param.default, bool):
            assert f"`{param.default:g}`" in documented, param.opts[0]
