"""The command-line table (``tests/vectors/shim/argv.yaml``)."""

from __future__ import annotations

from typing import Any

from cdi.shim.argv import INJECTING_COMMANDS, parse_argv
from tables import cases

DEFAULTS: dict[str, Any] = {
    "command": None,
    "bundle": None,
    "container_id": None,
    "config_file": None,
    "log": None,
    "log_format": "text",
    "debug": False,
    "version": False,
    "problem": None,
}


@cases("shim/argv.yaml")
def test_argv(case: dict[str, Any]) -> None:
    found = parse_argv(case["argv"])
    expected = {**DEFAULTS, **case["expect"]}
    assert {field: getattr(found, field) for field in DEFAULTS} == expected


def test_only_create_run_and_restore_inject() -> None:
    assert {"create", "run", "restore"} == INJECTING_COMMANDS


def test_parsing_never_changes_the_vector() -> None:
    argv = ["--log", "/l", "create", "--bundle", "/b", "abc"]
    copy = list(argv)
    parse_argv(argv)
    assert argv == copy
