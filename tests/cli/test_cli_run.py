"""``cdi run`` without a real runtime: failures before anything runs, and the plumbing
through a stand-in runtime that records the bundle it is given."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from clitools import Invoke, write

FAKE_RUNTIME = f"""#!{sys.executable}
# Stands in for runc: records the bundle's config.json and whether the root exists, then
# exits with $FAKE_STATUS.
import json, os, sys
args = sys.argv[1:]
if "run" in args:
    bundle = args[args.index("--bundle") + 1]
    with open(os.path.join(bundle, "config.json")) as handle:
        config = json.load(handle)
    record = {{"config": config, "root_exists": os.path.isdir(config["root"]["path"]),
               "sh": os.path.islink(os.path.join(config["root"]["path"], "bin", "sh")),
               "bundle": bundle, "id": args[-1]}}
    with open(os.environ["FAKE_RECORD"], "w") as handle:
        json.dump(record, handle)
    sys.exit(int(os.environ.get("FAKE_STATUS", "0")))
"""


@pytest.fixture
def fake_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    runtime = write(tmp_path / "bin", "fake-runc", FAKE_RUNTIME)
    runtime.chmod(0o755)
    record = tmp_path / "record.json"
    monkeypatch.setenv("FAKE_RECORD", str(record))
    monkeypatch.setattr(os, "geteuid", lambda: 0)  # the stand-in needs no privileges
    # A faked root would default to the strict trust policy, which refuses the spec files of
    # a non-root test user; the policy has tests of its own (test_cli_trust).
    monkeypatch.setattr("cdi.cli.run.default_mode", lambda: "off")
    return runtime, record


@pytest.mark.usefixtures("require_busybox")
def test_devices_env_and_a_fresh_root(
    cdi: Invoke,
    vendor1: Path,
    fake_runtime: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    runtime, record = fake_runtime
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setenv("FAKE_STATUS", "7")
    monkeypatch.setenv("FROM_HOST", "h")
    result = cdi(
        "--spec-dir",
        str(vendor1),
        "run",
        "--runtime",
        str(runtime),
        "--device",
        "vendor1.com/device=foo",
        "-e",
        "A=1",
        "-e",
        "FROM_HOST",
        "-e",
        "NOT_SET_ANYWHERE",
        "--",
        "sh",
        "-c",
        "exit 7",
    )
    assert result.exit_code == 7
    seen = json.loads(record.read_text())
    process = seen["config"]["process"]
    assert process["args"] == ["sh", "-c", "exit 7"]
    assert process["env"] == [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "A=1",
        "FROM_HOST=h",
        "FOO=injected",
    ]
    assert seen["root_exists"] and seen["sh"]
    assert seen["id"].startswith("cdi-")
    # the root and the bundle are gone afterwards
    assert list(scratch.iterdir()) == []


def test_given_rootfs_and_options_before_the_command(
    cdi: Invoke, fake_runtime: tuple[Path, Path], tmp_path: Path
) -> None:
    runtime, record = fake_runtime
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    result = cdi("run", "--runtime", str(runtime), "--rootfs", str(rootfs), "ls", "-l", "--all")
    assert result.exit_code == 0
    seen = json.loads(record.read_text())
    assert seen["config"]["process"]["args"] == ["ls", "-l", "--all"]
    assert seen["config"]["root"]["path"] == str(rootfs)
    assert rootfs.is_dir()  # the caller's root is kept


def test_unresolvable_device_runs_nothing(cdi: Invoke, vendor1: Path) -> None:
    result = cdi(
        "--spec-dir",
        str(vendor1),
        "run",
        "--runtime",
        "/nonexistent/runc",
        "--device",
        "vendor1.com/device=bar",
        "true",
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: unresolvable CDI devices vendor1.com/device=bar\n"
        f'Run "cdi --spec-dir {vendor1} doctor vendor1.com/device=bar" to see why.\n'
    )


def test_injection_failure_runs_nothing(cdi: Invoke, tmp_path: Path) -> None:
    write(
        tmp_path,
        "dev.yaml",
        "cdiVersion: 0.3.0\nkind: vendor.com/dev\ndevices:\n"
        "  - name: x\n    containerEdits: {deviceNodes: [{path: /dev/cdi-test-missing}]}\n",
    )
    result = cdi("--spec-dir", str(tmp_path), "run", "-d", "vendor.com/dev=x", "true")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: failed to inject devices: failed to stat CDI host device "
        '"/dev/cdi-test-missing": no such file or directory\n'
    )


def test_runtime_missing(cdi: Invoke) -> None:
    result = cdi("run", "--runtime", "/nonexistent/runc", "true")
    assert result.exit_code == 125
    assert result.stderr == (
        'Error: OCI runtime "/nonexistent/runc" not found: install Debian\'s runc package '
        "or pass --runtime\n"
    )
    result = cdi("run", "--runtime", "no-such-runtime-here", "true")
    assert result.exit_code == 125
    assert result.stderr == (
        'Error: OCI runtime "no-such-runtime-here" not found in PATH: install Debian\'s runc '
        "package or pass --runtime\n"
    )


def test_not_root(cdi: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    result = cdi("run", "--runtime", "/bin/true", "true")
    assert result.exit_code == 125
    assert result.stderr == (
        "Error: running containers needs root privileges (runc without --rootless): "
        "run this as root, e.g. with sudo\n"
    )


def test_usage_errors(cdi: Invoke, tmp_path: Path) -> None:
    result = cdi("run")
    assert result.exit_code == 2
    assert result.stderr.endswith("Error: Missing argument '[--] CMD...'.\n")
    result = cdi("run", "-e", "=x", "true")
    assert result.exit_code == 2
    assert result.stderr.endswith("Error: Invalid value for '-e': '=x': missing variable name\n")
    result = cdi("run", "--rootfs", str(tmp_path / "missing"), "true")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
