"""The cdi-hook command line: flags, subcommand dispatch, the OCI state, the environment."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cdi.hooks.environment import SAFE_PATH, needs_isolated_restart, scrubbed
from cdi.hooks.errors import HookError
from cdi.hooks.main import UsageError, parse_flags, run
from cdi.hooks.state import container_root, root_path
from tables import cases


@cases("hooks/flags.yaml")
def test_flags(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(UsageError) as caught:
            parse_flags(case["args"], case["flags"])
        assert str(caught.value) == case["error"]
    else:
        assert parse_flags(case["args"], case["flags"])[0] == case["options"]


def state_for(root: Path) -> io.BytesIO:
    return io.BytesIO(json.dumps({"ociVersion": "1.2.0", "id": "c", "root": str(root)}).encode())


def test_unknown_subcommand_succeeds_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["frobnicate", "--whatever", "x"], io.BytesIO(b""), {}) == 0
    assert capsys.readouterr().err == "cdi-hook: Unsupported CDI hook: frobnicate\n"


def test_unknown_subcommand_is_silent_when_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--quiet", "frobnicate"], io.BytesIO(b""), {}) == 0
    assert run(["frobnicate"], io.BytesIO(b""), {"NVIDIA_CTK_QUIET": "true"}) == 0
    assert capsys.readouterr().err == ""


def test_noop_and_the_hook_word(tmp_path: Path) -> None:
    assert run(["noop"], io.BytesIO(b""), {}) == 0
    assert run(["hook", "noop"], io.BytesIO(b""), {}) == 0


def test_no_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([], io.BytesIO(b""), {}) == 2
    assert "usage: cdi-hook" in capsys.readouterr().err


def test_bad_flag_of_a_known_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["create-symlinks", "--nope"], io.BytesIO(b""), {}) == 2
    err = capsys.readouterr().err
    assert err == "cdi-hook: create-symlinks: flag provided but not defined: -nope\n"


def test_bad_state_is_an_error_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["create-symlinks"], io.BytesIO(b"{not json"), {}) == 1
    assert capsys.readouterr().err.startswith("cdi-hook: create-symlinks: failed to decode OCI")


def test_root_from_the_state_or_the_bundle(tmp_path: Path) -> None:
    rootfs = tmp_path / "bundle/rootfs"
    rootfs.mkdir(parents=True)
    (tmp_path / "bundle/config.json").write_text(json.dumps({"root": {"path": "rootfs"}}))
    assert root_path({"root": "/run/crun/root"}) == "/run/crun/root"  # crun adds it
    assert root_path({"bundle": str(tmp_path / "bundle")}) == str(rootfs)
    (tmp_path / "bundle/config.json").write_text(json.dumps({"root": {"path": str(rootfs)}}))
    assert root_path({"bundle": str(tmp_path / "bundle")}) == str(rootfs)
    spec = tmp_path / "state.json"
    spec.write_text(json.dumps({"bundle": str(tmp_path / "bundle")}))
    assert container_root(str(spec), io.BytesIO(b"")) == str(rootfs)


@pytest.mark.parametrize(
    ("state", "error"),
    [
        ({}, "failed to determine container root: the OCI state has no bundle"),
        ({"bundle": "/nonexistent"}, "failed to load OCI spec /nonexistent/config.json"),
        ({"root": "/nonexistent/rootfs"}, "container root /nonexistent/rootfs is not a directory"),
    ],
)
def test_state_errors(state: dict[str, Any], error: str) -> None:
    with pytest.raises(HookError, match=error):
        container_root("-", io.BytesIO(json.dumps(state).encode()))


def test_scrubbed_environment() -> None:
    environ = {
        "LD_PRELOAD": "/x.so",
        "LD_LIBRARY_PATH": "/x",
        "PYTHONPATH": "/x",
        "PYTHONHOME": "/x",
        "GCONV_PATH": "/x",
        "PATH": "/tmp/evil",
        "HOME": "/root",
        "NVIDIA_CTK_DEBUG": "true",
    }
    assert scrubbed(environ) == {"NVIDIA_CTK_DEBUG": "true", "PATH": SAFE_PATH}


def test_restart_unless_isolated_and_clean() -> None:
    assert needs_isolated_restart({})  # pytest itself is not run with -I
    code = (
        "from cdi.hooks.environment import needs_isolated_restart as n;"
        "import os; print(n(os.environ))"
    )
    answers = [
        subprocess.run(
            [sys.executable, "-I", "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for env in ({"PATH": SAFE_PATH}, {"PATH": SAFE_PATH, "LD_LIBRARY_PATH": "/x"})
    ]
    assert answers == ["False\n", "True\n"]
