"""``cdi run`` end to end: the real entry point, real runc, a busybox root, injected devices.

Containers run in the test's own runc state directory (``$CDI_RUNTIME_ROOT``, from the
``runtime_root`` fixture), and what is left behind is checked there: containers other runs
of the suite or other users start cannot change the outcome.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from clitools import EXAMPLES, run_cdi, write

from runctools import RuncState

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("require_runtime")]

CDI = [sys.executable, "-c", "import sys; from cdi.cli.main import main; sys.exit(main())"]

DEVICES = """\
cdiVersion: 0.5.0
kind: vendor.com/test
devices:
  - name: zero
    containerEdits:
      deviceNodes:
        - {{path: /dev/cdi-zero, hostPath: /dev/zero}}
  - name: data
    containerEdits:
      mounts:
        - {{hostPath: {data}, containerPath: /data, options: [rbind, ro]}}
      env: [DATA=mounted]
"""


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    write(data, "hello.txt", "hello from the host\n")
    directory = tmp_path / "cdi"
    write(directory, "test.yaml", DEVICES.format(data=data))
    return directory


def _scratch(tmp_path: Path) -> dict[str, str]:
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    return {"TMPDIR": str(scratch)}


def test_the_tutorial_device(tmp_path: Path, runc: RuncState) -> None:
    result = run_cdi(
        "--spec-dir",
        str(EXAMPLES),
        "run",
        "--device",
        "vendor1.com/device=foo",
        "--",
        "sh",
        "-c",
        "env | grep ^FOO=",
        env=_scratch(tmp_path),
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "FOO=injected\n", "")
    assert runc.ids() == set()
    assert list((tmp_path / "tmp").iterdir()) == []  # no root, no bundle left behind


def test_device_node_from_the_host(specs: Path, tmp_path: Path) -> None:
    script = "[ -c /dev/cdi-zero ] && head -c 4 /dev/cdi-zero | od -An -tx1"
    result = run_cdi(
        "--spec-dir",
        str(specs),
        "run",
        "-d",
        "vendor.com/test=zero",
        "sh",
        "-c",
        script,
        env=_scratch(tmp_path),
    )
    assert (result.returncode, result.stdout.split(), result.stderr) == (
        0,
        ["00", "00", "00", "00"],
        "",
    )


def test_mount_and_env(specs: Path, tmp_path: Path) -> None:
    result = run_cdi(
        "--spec-dir",
        str(specs),
        "run",
        "-d",
        "vendor.com/test=data",
        "-e",
        "X=1",
        "sh",
        "-c",
        'cat /data/hello.txt; echo "$DATA $X"; touch /data/x 2>/dev/null || echo ro',
        env=_scratch(tmp_path),
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "hello from the host\nmounted 1\nro\n"
    assert not (tmp_path / "data" / "x").exists()


def test_exit_status_is_the_commands(tmp_path: Path) -> None:
    result = run_cdi("run", "sh", "-c", "echo out; echo err >&2; exit 7", env=_scratch(tmp_path))
    assert (result.returncode, result.stdout, result.stderr) == (7, "out\n", "err\n")


def test_command_not_found(tmp_path: Path, runc: RuncState) -> None:
    result = run_cdi("run", "no-such-command", env=_scratch(tmp_path))
    assert result.returncode == 127
    assert result.stdout == ""
    assert result.stderr.endswith(
        'Error: runc run failed: unable to start container process: exec: "no-such-command": '
        "executable file not found in $PATH\n"
    )
    assert runc.ids() == set()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_given_rootfs(busybox_rootfs: Path, tmp_path: Path) -> None:
    result = run_cdi(
        "run", "--rootfs", str(busybox_rootfs), "cat", "/etc/group", env=_scratch(tmp_path)
    )
    assert (result.returncode, result.stdout) == (0, "root:x:0:\nnogroup:x:65534:\n")


def test_stdin_is_passed_through(tmp_path: Path) -> None:
    result = run_cdi(
        "run", "sh", "-c", "read line; echo got $line", input="it\n", env=_scratch(tmp_path)
    )
    assert (result.returncode, result.stdout) == (0, "got it\n")


def test_host_environment_is_not_passed(tmp_path: Path) -> None:
    scratch = _scratch(tmp_path)
    result = run_cdi("run", "env", env={**scratch, "SECRET_FROM_HOST": "x"})
    assert (result.returncode, result.stdout) == (
        0,
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nHOME=/root\n",
    )


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_stopping_cdi_run_removes_the_container(
    tmp_path: Path, runc: RuncState, sig: int, status: int
) -> None:
    process = subprocess.Popen(
        [*CDI, "run", "sh", "-c", "echo started; sleep 60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **_scratch(tmp_path)},
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "started\n"
        assert len(runc.ids()) == 1
        process.send_signal(sig)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    assert process.returncode == status
    assert runc.ids() == set()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_runtime_root_option(tmp_path: Path, runc: RuncState) -> None:
    # --runtime-root wins over $CDI_RUNTIME_ROOT (the fixture's root, which stays unused); a
    # relative directory is taken from where cdi runs.
    chosen = RuncState(tmp_path / "state")
    process = subprocess.Popen(
        [*CDI, "run", "--runtime-root", "state", "sh", "-c", "echo started; sleep 60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, **_scratch(tmp_path)},
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "started\n"
        (container,) = chosen.ids()
        assert chosen.status(container) == "running"
        assert runc.ids() == set()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    assert process.returncode == 143
    assert chosen.ids() == set()
