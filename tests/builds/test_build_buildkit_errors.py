"""Failure texts of `cdi build`, compared with BuildKit's: the CLI on real runc and busybox."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from buildtools import write_tree
from click.testing import CliRunner

from cdi.cli.build import build as build_command
from tables import cases

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("require_runtime")]

VENDOR1 = (
    'cdiVersion: "0.6.0"\nkind: vendor1.com/device\n'
    "devices:\n- name: foo\n  containerEdits:\n    env: [FOO=injected]\n"
)


@cases("build/buildkit_errors.yaml")
def test_buildkit_error_vectors(case: dict[str, Any], busybox_rootfs: Path, tmp_path: Path) -> None:
    specs = write_tree(tmp_path / "cdi", case.get("specs", {"vendor1.yaml": VENDOR1}))
    context = write_tree(tmp_path / "ctx", {"Dockerfile": case["dockerfile"]})
    result = CliRunner().invoke(
        build_command,
        [
            "--spec-dir",
            str(specs),
            "--build-context",
            f"busybox={busybox_rootfs}",
            "--progress",
            "plain",
            *case.get("args", []),
            str(context),
        ],
    )
    stderr = result.stderr
    if "not_ran" in case:
        # Step output lines are `#<vertex> <seconds> <text>`.
        assert not re.search(rf"^#\d+ \d+\.\d+ {re.escape(case['not_ran'])}$", stderr, re.M)
    if "error" in case:
        assert result.exit_code == 1, stderr
        assert stderr.splitlines()[-1] == case["error"]
        return
    assert result.exit_code == case["exit"], stderr
    for line in case["shown"]:
        assert line.replace("{specs}", str(specs)) in stderr
