"""``cdi rootfs DIR`` and ``python -m cdi``: through the real entry points, in subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from clitools import EXAMPLES, run_cdi


def python_m_cdi(*args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "CDI_SPEC_DIRS"}
    return subprocess.run(
        [sys.executable, "-m", "cdi", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )


@pytest.mark.usefixtures("require_busybox")
def test_rootfs_makes_a_busybox_root(tmp_path: Path) -> None:
    root = tmp_path / "a" / "rootfs"
    result = run_cdi("rootfs", str(root))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert (root / "bin" / "busybox").is_file()
    assert os.readlink(root / "bin" / "sh") == "busybox"
    assert (root / "etc" / "passwd").read_text().startswith("root:x:0:0:")
    # Again on its own result: nothing to do, nothing said.
    assert run_cdi("rootfs", str(root)).returncode == 0


@pytest.mark.usefixtures("require_busybox")
def test_rootfs_relative_directory(tmp_path: Path) -> None:
    result = run_cdi("rootfs", "build/rootfs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "build" / "rootfs" / "bin" / "busybox").is_file()


def test_rootfs_refuses_a_dynamic_busybox(tmp_path: Path) -> None:
    result = run_cdi("rootfs", "--busybox", "/etc/passwd", str(tmp_path / "rootfs"))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "Error: cannot use busybox /etc/passwd in a container root: /etc/passwd is not an "
        "ELF file: install Debian's busybox-static\n"
    )
    assert not (tmp_path / "rootfs").exists()


def test_rootfs_needs_a_directory(tmp_path: Path) -> None:
    afile = tmp_path / "file"
    afile.write_text("x")
    result = run_cdi("rootfs", str(afile))
    assert result.returncode == 2
    assert result.stderr.endswith(
        f"Error: Invalid value for 'DIR': Directory '{afile}' is a file.\n"
    )


@pytest.mark.usefixtures("require_busybox")
def test_rootfs_cannot_write(tmp_path: Path) -> None:
    # A path under a regular file: the directory cannot be made.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cdi("rootfs", str(blocker / "rootfs"))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"Error: cannot make a root filesystem in {blocker / 'rootfs'}: Not a directory\n"
    )


def test_python_m_cdi_help() -> None:
    result = python_m_cdi("--help")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("Usage: python -m cdi [OPTIONS] COMMAND [ARGS]...\n")
    assert "  rootfs " in result.stdout


def test_python_m_cdi_is_the_cdi_command() -> None:
    args = ("--spec-dir", str(EXAMPLES), "devices", "-o", "json")
    via_module, via_entry_point = python_m_cdi(*args), run_cdi(*args)
    assert via_module.returncode == via_entry_point.returncode == 0
    assert via_module.stdout == via_entry_point.stdout
    assert '"name": "vendor1.com/device=foo"' in via_module.stdout


def test_python_m_cdi_exit_status() -> None:
    result = python_m_cdi("no-such-command")
    assert result.returncode == 2
    assert result.stderr.endswith("Error: No such command 'no-such-command'.\n")
