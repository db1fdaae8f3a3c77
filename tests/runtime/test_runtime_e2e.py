"""run_container under the real runc, on the session's busybox root filesystem.

Containers live in the test's own runc state directory (``$CDI_RUNTIME_ROOT``, set by the
``runtime_root`` fixture), which is where these tests look for what is left of them.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cdi.runtime import (
    ContainerError,
    ContainerTimeoutError,
    default_oci_spec,
    new_container_id,
    run_container,
)
from runctools import RuncState

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("require_runtime")]


def run(rootfs: Path, tmp_path: Path, spec: dict[str, Any], **kwargs: Any) -> tuple[int, str, str]:
    """Run *spec*; return (status, stdout, stderr)."""
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        status = run_container(
            spec, rootfs, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, **kwargs
        )
    return status, out.read_text(), err.read_text()


def sh(script: str, **kwargs: Any) -> dict[str, Any]:
    return default_oci_spec(["sh", "-c", script], **kwargs)


def test_output_and_status(busybox_rootfs: Path, tmp_path: Path) -> None:
    status, out, err = run(busybox_rootfs, tmp_path, sh("echo out; echo err >&2; exit 3"))
    assert (status, out, err) == (3, "out\n", "err\n")


def test_success(busybox_rootfs: Path, tmp_path: Path) -> None:
    assert run(busybox_rootfs, tmp_path, default_oci_spec(["true"])) == (0, "", "")


def test_killed_by_signal_reports_128_plus_signal(busybox_rootfs: Path, tmp_path: Path) -> None:
    # Outside a pid namespace the shell is not an init process, which ignores its own SIGKILL.
    spec = sh("kill -KILL $$")
    spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "pid"]
    assert run(busybox_rootfs, tmp_path, spec)[0] == 137


def test_stdin(busybox_rootfs: Path, tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.write_text("from stdin\n")
    out = tmp_path / "out"
    with open(source, "rb") as stdin, open(out, "wb") as stdout:
        status = run_container(
            default_oci_spec(["cat"]), busybox_rootfs, stdin=stdin, stdout=stdout
        )
    assert status == 0
    assert out.read_text() == "from stdin\n"


def test_process_settings(busybox_rootfs: Path, tmp_path: Path) -> None:
    spec = sh(
        'echo "$FOO|$PATH|$(pwd)|$(hostname)|$(id -u):$(id -g)"',
        env=["FOO=bar baz"],
        cwd="/tmp",
        hostname="box",
        uid=65534,
        gid=65534,
    )
    status, out, _ = run(busybox_rootfs, tmp_path, spec)
    assert status == 0
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert out == f"bar baz|{path}|/tmp|box|65534:65534\n"


def test_root_can_chown(busybox_rootfs: Path, tmp_path: Path) -> None:
    # Needs CAP_CHOWN, which runc's example spec leaves out and the default spec grants.
    spec = sh("echo x > /dev/shm/f && chown 65534:65534 /dev/shm/f && stat -c %u /dev/shm/f")
    assert run(busybox_rootfs, tmp_path, spec)[:2] == (0, "65534\n")


def test_readonly_rootfs(busybox_rootfs: Path, tmp_path: Path) -> None:
    status, _, err = run(busybox_rootfs, tmp_path, sh("touch /x", readonly_rootfs=True))
    assert status != 0
    assert "Read-only file system" in err
    assert not (busybox_rootfs / "x").exists()


def test_bind_mount(fresh_rootfs: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "hello").write_text("from the host\n")
    spec = sh("cat /mnt/shared/hello; touch /mnt/shared/new")
    # runc 1.1 needs "bind" or "rbind" in the options; `"type": "bind"` alone fails
    spec["mounts"].append(
        {
            "destination": "/mnt/shared",
            "type": "bind",
            "source": str(shared),
            "options": ["rbind", "ro"],
        }
    )
    status, out, err = run(fresh_rootfs, tmp_path, spec)
    assert out == "from the host\n"
    assert status == 1
    assert "Read-only file system" in err
    assert not (shared / "new").exists()
    assert (fresh_rootfs / "mnt" / "shared").is_dir()  # runc made the mount point on disk


def test_device_node_needs_a_cgroup_rule(busybox_rootfs: Path, tmp_path: Path) -> None:
    # runc creates linux.devices nodes, but the device cgroup denies access unless
    # linux.resources.devices allows that type/major/minor (runc allows only its defaults:
    # null, zero, full, random, urandom, tty, ptmx, pts). 10:229 is /dev/fuse.
    script = "ls -l /dev/cdi-fuse; exec 3<>/dev/cdi-fuse && echo opened"
    spec = sh(script)
    spec["linux"]["devices"] = [
        {"path": "/dev/cdi-fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666}
    ]
    status, out, err = run(busybox_rootfs, tmp_path, spec)
    assert out.startswith("crw-rw-rw-")
    assert "10, 229" in out
    assert status != 0
    assert "Operation not permitted" in err

    spec["linux"]["resources"]["devices"].append(
        {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"}
    )
    status, out, err = run(busybox_rootfs, tmp_path, spec)
    assert "Operation not permitted" not in err
    if os.path.exists("/dev/fuse"):  # with the driver loaded, the open succeeds
        assert (status, out.splitlines()[-1]) == (0, "opened")


def test_hooks_run_and_failing_hooks_are_runtime_errors(
    busybox_rootfs: Path, tmp_path: Path, runc: RuncState
) -> None:
    state = tmp_path / "state.json"
    spec = default_oci_spec(["true"])
    spec["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", f"cat > {state}"]}]}
    cid = new_container_id()
    assert run(busybox_rootfs, tmp_path, spec, container_id=cid)[0] == 0
    assert json.loads(state.read_text())["id"] == cid

    spec["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 7"]}]}
    with pytest.raises(ContainerError) as info:
        run(busybox_rootfs, tmp_path, spec, container_id=cid)
    assert "hook" in str(info.value)
    assert info.value.exit_status == 125
    assert runc.ids() == set()


@pytest.mark.parametrize("kind", ["prestart", "createContainer", "poststart"])
def test_failing_hooks_before_and_at_start(
    busybox_rootfs: Path, tmp_path: Path, kind: str, runc: RuncState
) -> None:
    spec = default_oci_spec(["true"])
    spec["hooks"] = {kind: [{"path": "/bin/sh", "args": ["sh", "-c", "exit 7"]}]}
    with pytest.raises(ContainerError, match="error running hook #0"):
        run(busybox_rootfs, tmp_path, spec)
    assert runc.ids() == set()


def test_failing_poststop_hook_keeps_the_status(
    busybox_rootfs: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, runc: RuncState
) -> None:
    spec = sh("exit 5")
    spec["hooks"] = {"poststop": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 7"]}]}
    cid = new_container_id()
    with caplog.at_level(logging.WARNING, logger="cdi.runtime"):
        assert run(busybox_rootfs, tmp_path, spec, container_id=cid)[0] == 5
    assert "error running hook #0" in caplog.text
    assert runc.ids() == set()


def test_missing_command_is_a_container_error(
    busybox_rootfs: Path, tmp_path: Path, runc: RuncState
) -> None:
    cid = new_container_id()
    with pytest.raises(ContainerError) as info:
        run(busybox_rootfs, tmp_path, default_oci_spec(["/nonexistent"]), container_id=cid)
    error = info.value
    assert str(error).startswith("runc run failed: ")
    assert '"/nonexistent"' in str(error)
    assert "no such file or directory" in str(error)
    assert error.exit_status == 127
    assert error.container_id == cid
    assert runc.ids() == set()


def test_command_not_in_path_and_not_executable(
    busybox_rootfs: Path, tmp_path: Path, runc: RuncState
) -> None:
    with pytest.raises(ContainerError, match="executable file not found") as info:
        run(busybox_rootfs, tmp_path, default_oci_spec(["no-such-command"]))
    assert info.value.exit_status == 127
    with pytest.raises(ContainerError, match="permission denied") as info:
        run(busybox_rootfs, tmp_path, default_oci_spec(["/etc/passwd"]))
    assert info.value.exit_status == 126
    assert runc.ids() == set()


def test_unusable_spec_is_a_container_error(
    fresh_rootfs: Path, tmp_path: Path, runc: RuncState
) -> None:
    missing = tmp_path / "missing-source"
    spec = default_oci_spec(["true"])
    spec["mounts"].append(
        {"destination": "/mnt", "type": "bind", "source": str(missing), "options": ["rbind"]}
    )
    with pytest.raises(ContainerError) as info:
        run(fresh_rootfs, tmp_path, spec)
    assert info.value.exit_status == 125
    assert str(missing) in str(info.value)
    assert "no such file or directory" in str(info.value)
    assert runc.ids() == set()


def test_callers_spec_untouched(busybox_rootfs: Path, tmp_path: Path) -> None:
    spec = sh("exit 0")
    before = copy.deepcopy(spec)
    run(busybox_rootfs, tmp_path, spec)
    assert spec == before
    assert spec["root"]["path"] == "rootfs"


def test_cleanup(
    busybox_rootfs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runc: RuncState
) -> None:
    made: list[str] = []
    original = tempfile.mkdtemp

    def mkdtemp(*args: Any, **kwargs: Any) -> str:
        path: str = original(*args, **kwargs)
        made.append(path)
        return path

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    cid = new_container_id()
    assert run(busybox_rootfs, tmp_path, sh("exit 4"), container_id=cid)[0] == 4
    assert len(made) == 1
    assert not os.path.exists(made[0])
    assert runc.status(cid) is None
    assert runc.ids() == set()


def test_timeout_kills_the_container(busybox_rootfs: Path, tmp_path: Path, runc: RuncState) -> None:
    cid = new_container_id()
    start = time.monotonic()
    with pytest.raises(ContainerTimeoutError) as info:
        run(
            busybox_rootfs, tmp_path, default_oci_spec(["sleep", "60"]), container_id=cid, timeout=1
        )
    assert time.monotonic() - start < 15
    assert str(info.value) == f"container {cid} timed out after 1 s"
    assert runc.ids() == set()


def test_keyboard_interrupt_kills_the_container(
    busybox_rootfs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runc: RuncState
) -> None:
    original = subprocess.Popen.wait
    interrupted: list[bool] = []

    def wait(self: subprocess.Popen[bytes], timeout: float | None = None) -> int:
        if not interrupted:
            interrupted.append(True)
            _wait_until_running(runc, cid)
            assert runc.status(cid) == "running"
            raise KeyboardInterrupt
        return original(self, timeout)

    monkeypatch.setattr(subprocess.Popen, "wait", wait)
    cid = new_container_id()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run(busybox_rootfs, tmp_path, default_oci_spec(["sleep", "60"]), container_id=cid)
    assert time.monotonic() - start < 15
    assert runc.ids() == set()


def _sleep_in_background(
    rootfs: Path, cid: str, **kwargs: Any
) -> tuple[threading.Thread, list[object]]:
    """``sleep 60`` in container *cid*, run on a thread; its result (or error) lands in the list."""
    results: list[object] = []

    def sleeper() -> None:
        try:
            spec = default_oci_spec(["sleep", "60"])
            results.append(
                run_container(
                    spec, rootfs, container_id=cid, stdin=subprocess.DEVNULL, timeout=30, **kwargs
                )
            )
        except Exception as exc:
            results.append(exc)

    thread = threading.Thread(target=sleeper)
    thread.start()
    return thread, results


def _wait_until_running(state: RuncState, cid: str) -> None:
    deadline = time.monotonic() + 10
    while state.status(cid) != "running" and time.monotonic() < deadline:
        time.sleep(0.05)


def test_existing_container_id_is_refused_and_left_alone(
    busybox_rootfs: Path, tmp_path: Path, runc: RuncState
) -> None:
    cid = new_container_id()
    thread, results = _sleep_in_background(busybox_rootfs, cid)
    try:
        _wait_until_running(runc, cid)
        with pytest.raises(ContainerError, match="already exists"):
            run(busybox_rootfs, tmp_path, default_oci_spec(["true"]), container_id=cid)
        assert runc.status(cid) == "running"
    finally:
        runc.kill(cid)
        thread.join(30)
    assert results == [137]
    assert runc.ids() == set()


def test_runtime_root_holds_the_container(
    busybox_rootfs: Path, tmp_path: Path, runc: RuncState, monkeypatch: pytest.MonkeyPatch
) -> None:
    # runtime_root= wins over $CDI_RUNTIME_ROOT (the fixture's root, which stays unused); a
    # relative path is made absolute.
    monkeypatch.chdir(tmp_path)
    chosen = RuncState(tmp_path / "state")
    cid = new_container_id()
    thread, results = _sleep_in_background(busybox_rootfs, cid, runtime_root="state")
    try:
        _wait_until_running(chosen, cid)
        assert chosen.ids() == {cid}
        assert chosen.status(cid) == "running"
        assert runc.ids() == set()
    finally:
        chosen.kill(cid)
        thread.join(30)
    assert results == [137]
    assert chosen.ids() == set()


def test_default_spec_matches_runc_spec(tmp_path: Path) -> None:
    subprocess.run(["runc", "spec", "--bundle", str(tmp_path)], check=True)
    reference = json.loads((tmp_path / "config.json").read_text())
    ours = default_oci_spec(["sh"])
    assert ours["ociVersion"] == reference["ociVersion"]
    assert ours["mounts"] == reference["mounts"]
    for key in ("namespaces", "maskedPaths", "readonlyPaths", "resources"):
        assert ours["linux"][key] == reference["linux"][key], key
    assert ours["process"]["rlimits"] == reference["process"]["rlimits"]
    assert set(reference["process"]["capabilities"]["bounding"]) <= set(
        ours["process"]["capabilities"]["bounding"]
    )
