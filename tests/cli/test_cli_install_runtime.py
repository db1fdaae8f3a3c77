"""``cdi install-runtime``: prints by default, writes with --apply (atomically, mode and links
kept, twice the same), refuses to touch a file it cannot read as the engine would."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from clitools import Invoke

from cdi.cli.install_runtime import default_runtime_path, install_runtime
from cdi.cli.main import COMMANDS
from cdi.shim.engines import ENGINES

RUNTIME = "/opt/cdi/bin/cdi-runtime"


def _run(*args: str) -> Result:
    return CliRunner().invoke(install_runtime, list(args), catch_exceptions=False)


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in directory.iterdir()}


@pytest.mark.parametrize("engine", ENGINES)
def test_print_mode_writes_nothing(tmp_path: Path, engine: str) -> None:
    config = tmp_path / "etc" / "engine.conf"
    result = _run(engine, "--config", str(config), "--runtime-path", RUNTIME)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{config} after the change (--apply writes it):\n\n")
    assert RUNTIME in result.stdout
    assert "Nothing was written.\n" in result.stdout
    assert not (tmp_path / "etc").exists()


def test_print_mode_leaves_an_existing_file_alone(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_bytes(b"version = 2\n")
    before = os.stat(config)
    result = _run("containerd", "--config", str(config), "--runtime-path", RUNTIME)
    assert result.exit_code == 0
    assert result.stdout.startswith(f"To add to the end of {config} (--apply):\n\n# cdi-runtime")
    assert _files(tmp_path) == {"config.toml": b"version = 2\n"}
    assert os.stat(config).st_mtime_ns == before.st_mtime_ns


@pytest.mark.parametrize("engine", ENGINES)
def test_apply_twice_is_idempotent(tmp_path: Path, engine: str) -> None:
    config = tmp_path / "dir" / "engine.conf"
    args = (engine, "--config", str(config), "--runtime-path", RUNTIME, "--set-default")
    first = _run(*args, "--apply", "-o", "json")
    assert first.exit_code == 0, first.output
    written = config.read_bytes()
    assert json.loads(first.stdout)["content"].encode() == written
    assert stat.S_IMODE(config.stat().st_mode) == 0o644
    second = _run(*args, "--apply")
    assert second.exit_code == 0
    assert second.stdout.startswith(
        f'{config} registers cdi-runtime as "cdi" already: nothing to change.\n'
    )
    assert config.read_bytes() == written
    assert _files(config.parent) == {"engine.conf": written}  # no temporary left


def test_apply_adds_to_the_end_of_containerd_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    original = b'version = 2\n\n[plugins."io.containerd.grpc.v1.cri"]\n  enable_cdi = true\n'
    config.write_bytes(original)
    result = _run("containerd", "--config", str(config), "--runtime-path", RUNTIME, "--apply")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Added to the end of {config}:\n")
    assert f"ctr run --runc-binary {RUNTIME} --annotation" in result.stdout
    after = config.read_bytes()
    assert after.startswith(original + b"\n# cdi-runtime")
    assert f'BinaryName = "{RUNTIME}"'.encode() in after


def test_json_output_keys(tmp_path: Path) -> None:
    config = tmp_path / "daemon.json"
    result = _run("docker", "--config", str(config), "--runtime-path", RUNTIME, "-o", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert list(data) == ["engine", "file", "content", "append", "needed", "applied", "hints"]
    assert data["engine"] == "docker"
    assert data["file"] == str(config)
    assert json.loads(data["content"]) == {"runtimes": {"cdi": {"path": RUNTIME}}}
    assert (data["append"], data["needed"], data["applied"]) == (False, True, False)
    assert "Check: docker info | grep -i runtimes" in data["hints"]
    assert not config.exists()


def test_invalid_daemon_json_is_left_untouched(tmp_path: Path) -> None:
    config = tmp_path / "daemon.json"
    config.write_bytes(b'{\n  "debug": true,\n  "log-level" "warn"\n}\n')
    result = _run("docker", "--config", str(config), "--runtime-path", RUNTIME, "--apply")
    assert result.exit_code == 1
    assert result.stderr == f"Error: {config}:3:15: invalid JSON: Expecting ':' delimiter\n"
    assert result.stdout == ""
    assert _files(tmp_path) == {"daemon.json": b'{\n  "debug": true,\n  "log-level" "warn"\n}\n'}


def test_a_runtime_configured_otherwise_is_refused_with_what_to_edit(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    original = b'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.cdi]\n'
    config.write_bytes(original)
    result = _run("containerd", "--config", str(config), "--runtime-path", RUNTIME, "--apply")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f'Error: {config} already configures plugins."io.containerd.grpc.v1.cri".containerd.'
        "runtimes.cdi differently; edit it by hand so that it holds (nothing was written):\n"
    )
    assert f'BinaryName = "{RUNTIME}"' in result.stderr
    assert config.read_bytes() == original


def test_apply_keeps_the_mode_and_follows_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_bytes(b'{"debug": true}\n')
    real.chmod(0o600)
    link = tmp_path / "daemon.json"
    link.symlink_to(real.name)
    result = _run("docker", "--config", str(link), "--runtime-path", RUNTIME, "--apply")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Wrote {link}:\n")
    assert link.is_symlink()
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert json.loads(real.read_bytes()) == {"debug": True, "runtimes": {"cdi": {"path": RUNTIME}}}


def test_a_relative_runtime_path_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = _run("podman", "--config", str(tmp_path / "c.conf"), "--runtime-path", "bin/rt")
    assert result.exit_code == 0
    assert f'cdi = ["{tmp_path}/bin/rt"]' in result.stdout
    assert result.stderr == f"Warning: {tmp_path}/bin/rt is not an executable file\n"


def test_the_name_shows_in_the_change(tmp_path: Path) -> None:
    result = _run(
        "crio", "--config", str(tmp_path / "c.conf"), "--runtime-path", RUNTIME, "--name", "gpu"
    )
    assert result.exit_code == 0
    assert f'[crio.runtime.runtimes.gpu]\nruntime_path = "{RUNTIME}"\n' in result.stdout


def test_an_unreadable_config(tmp_path: Path) -> None:
    result = _run("docker", "--config", str(tmp_path), "--runtime-path", RUNTIME)
    assert result.exit_code == 1
    assert result.stderr == f"Error: cannot read {tmp_path}: Is a directory\n"


def test_a_bad_name_is_an_error(tmp_path: Path) -> None:
    result = _run(
        "podman", "--config", str(tmp_path / "c"), "--runtime-path", RUNTIME, "--name", "a b"
    )
    assert result.exit_code == 1
    assert result.stderr == "Error: invalid runtime name 'a b': use letters, digits, '-' and '_'\n"


def test_an_unknown_engine_is_a_usage_error() -> None:
    result = _run("lxc")
    assert result.exit_code == 2


# -- which cdi-runtime ---------------------------------------------------------------------------


def _script(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_the_runtime_beside_cdi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    venv = tmp_path / "venv" / "bin"
    _script(venv / "cdi")
    runtime = _script(venv / "cdi-runtime")
    _script(tmp_path / "elsewhere" / "cdi-runtime")
    link = tmp_path / "usr" / "bin" / "cdi"
    link.parent.mkdir(parents=True)
    link.symlink_to(venv / "cdi")
    monkeypatch.setenv("PATH", str(tmp_path / "elsewhere"))
    monkeypatch.setattr(sys, "argv", [str(link), "install-runtime"])
    assert default_runtime_path() == str(runtime)
    result = _run("docker", "--config", str(tmp_path / "d.json"), "-o", "json")
    assert json.loads(json.loads(result.stdout)["content"])["runtimes"]["cdi"]["path"] == str(
        runtime
    )


def test_else_the_runtime_in_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _script(tmp_path / "bin" / "cdi")
    runtime = _script(tmp_path / "elsewhere" / "cdi-runtime")
    monkeypatch.setenv("PATH", str(tmp_path / "elsewhere"))
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "bin" / "cdi")])
    assert default_runtime_path() == str(runtime)
    monkeypatch.setattr(sys, "argv", ["cdi"])  # no directory to look beside
    assert default_runtime_path() == str(runtime)


def test_no_runtime_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "cdi")])
    result = _run("podman", "--config", str(tmp_path / "c.conf"))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: cdi-runtime is not installed beside {tmp_path}/cdi nor in PATH\n"
        "Name it with --runtime-path PATH.\n"
    )
    assert not (tmp_path / "c.conf").exists()


def test_under_the_cdi_group_with_the_global_output_option(
    cdi: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As registered in cdi.cli.main.COMMANDS (set here too, so the test does not depend on it).
    entry = ("cdi.cli.install_runtime", "Register cdi-runtime with an engine.")
    monkeypatch.setitem(COMMANDS, "install-runtime", entry)
    config = tmp_path / "crio.conf"
    result = cdi(
        "-o",
        "json",
        "install-runtime",
        "crio",
        "--config",
        str(config),
        "--runtime-path",
        RUNTIME,
        "--apply",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["engine"], data["applied"]) == ("crio", True)
    assert config.read_text() == data["content"]
    help_text = cdi("install-runtime", "--help").stdout
    assert help_text.startswith("Usage: cdi install-runtime [OPTIONS] ENGINE\n")
