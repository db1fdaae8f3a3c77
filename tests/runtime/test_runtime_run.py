"""run_container's checks and its handling of the runtime, with a scripted stand-in for runc.

The stand-in records every invocation and does what the test tells it through environment
variables, so these tests need neither root nor runc; the e2e tests run the real thing.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from cdi.runtime import (
    RUNTIME_ROOT_ENV,
    ContainerError,
    ContainerTimeoutError,
    RuntimeSetupError,
    default_oci_spec,
    find_runtime,
    resolve_runtime_root,
    run_container,
)
from cdi.runtime import runc as runc_module

FAKE_RUNTIME = r"""#!/bin/sh
log=
root=-
while [ $# -gt 0 ]; do
    case "$1" in
        --log) log=$2; shift 2 ;;
        --root) root=$2; shift 2 ;;
        --log-format) shift 2 ;;
        *) break ;;
    esac
done
echo "$*" >> "$FAKE_DIR/calls"
echo "$root" >> "$FAKE_DIR/roots"
cmd=$1
if [ "$cmd" = run ]; then
    cp "$3/config.json" "$FAKE_DIR/config.json"
    if [ -n "$FAKE_LOG" ]; then printf '%s\n' "$FAKE_LOG" >> "$log"; fi
    echo "container output"
    eval "$FAKE_RUN"
    exit "${FAKE_STATUS:-0}"
fi
exit 0
"""


class Fake:
    def __init__(self, directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.dir = directory
        self.path = directory / "fake-runc"
        self.path.write_text(FAKE_RUNTIME)
        self.path.chmod(0o755)
        self.rootfs = directory / "rootfs"
        self.rootfs.mkdir()
        self.monkeypatch = monkeypatch
        monkeypatch.setenv("FAKE_DIR", str(directory))
        for name in ("FAKE_LOG", "FAKE_RUN", "FAKE_STATUS"):
            monkeypatch.delenv(name, raising=False)

    def behave(
        self, *, status: int = 0, log: list[dict[str, str]] | None = None, run: str = ""
    ) -> None:
        self.monkeypatch.setenv("FAKE_STATUS", str(status))
        self.monkeypatch.setenv("FAKE_LOG", "\n".join(json.dumps(entry) for entry in log or []))
        self.monkeypatch.setenv("FAKE_RUN", run)

    def calls(self) -> list[list[str]]:
        path = self.dir / "calls"
        return [line.split() for line in path.read_text().splitlines()] if path.exists() else []

    def roots(self) -> list[str]:
        """The ``--root`` of each call, ``-`` where there was none."""
        path = self.dir / "roots"
        return path.read_text().splitlines() if path.exists() else []

    def commands(self) -> list[str]:
        return [call[0] for call in self.calls()]

    def bundle(self) -> Path:
        run = next(call for call in self.calls() if call[0] == "run")
        assert run[1] == "--bundle"
        return Path(run[2])

    def config(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads((self.dir / "config.json").read_text())
        return result

    def run(self, spec: dict[str, Any] | None = None, **kwargs: Any) -> int:
        out = self.dir / "out"
        with open(out, "wb") as f:
            return run_container(
                spec if spec is not None else default_oci_spec(["true"]),
                self.rootfs,
                runtime=str(self.path),
                stdout=f,
                **kwargs,
            )


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fake:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    return Fake(tmp_path, monkeypatch)


# --- setup errors -------------------------------------------------------------------------


def test_missing_runtime_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(runc_module, "_SBIN_PATH", str(tmp_path))
    with pytest.raises(RuntimeSetupError) as info:
        find_runtime()
    assert str(info.value) == (
        'OCI runtime "runc" not found in PATH: install Debian\'s runc package or pass --runtime'
    )


def test_missing_runtime_is_reported_before_anything_else(tmp_path: Path) -> None:
    with pytest.raises(RuntimeSetupError) as info:
        run_container(
            default_oci_spec(["true"]), tmp_path / "no-rootfs", runtime="cdi-no-such-runtime"
        )
    assert str(info.value) == (
        'OCI runtime "cdi-no-such-runtime" not found in PATH: '
        "install Debian's runc package or pass --runtime"
    )


def test_missing_runtime_path(tmp_path: Path) -> None:
    missing = tmp_path / "bin" / "runc"
    with pytest.raises(RuntimeSetupError, match=f'OCI runtime "{missing}" not found: install'):
        find_runtime(str(missing))


def test_runtime_found_in_sbin_when_path_lacks_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sbin = tmp_path / "sbin"
    sbin.mkdir()
    runtime = sbin / "myruntime"
    runtime.write_text("#!/bin/sh\n")
    runtime.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(runc_module, "_SBIN_PATH", str(sbin))
    assert find_runtime("myruntime") == str(runtime)


def test_not_root(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(RuntimeSetupError) as info:
        fake.run()
    assert str(info.value).startswith(
        "running containers needs root privileges (runc without --rootless)"
    )
    assert fake.calls() == []


def test_missing_rootfs(fake: Fake) -> None:
    missing = fake.dir / "nothing"
    with pytest.raises(RuntimeSetupError) as info:
        run_container(default_oci_spec(["true"]), missing, runtime=str(fake.path))
    assert str(info.value) == (
        f"container root filesystem {missing} does not exist or is not a directory"
    )
    assert fake.calls() == []


@pytest.mark.parametrize("stream", ["stdin", "stdout", "stderr"])
def test_pipes_are_refused(fake: Fake, stream: str) -> None:
    streams: dict[str, Any] = {stream: subprocess.PIPE}
    with pytest.raises(ValueError, match=f"{stream}=subprocess.PIPE is not supported"):
        run_container(default_oci_spec(["true"]), fake.rootfs, runtime=str(fake.path), **streams)
    assert fake.calls() == []


# --- the bundle ---------------------------------------------------------------------------


def test_bundle_that_cannot_be_made_is_a_setup_error(fake: Fake) -> None:
    blocker = fake.dir / "file"
    blocker.write_text("x")
    with pytest.raises(RuntimeSetupError) as info:
        fake.run(bundle_dir=blocker / "bundle")
    assert str(info.value) == (
        f"cannot create the container bundle in {blocker / 'bundle'}: Not a directory"
    )
    assert fake.calls() == []


def test_temporary_bundle_that_cannot_be_made_is_a_setup_error(
    fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = fake.dir / "no-tmp"
    monkeypatch.setattr(tempfile, "tempdir", str(missing))
    with pytest.raises(RuntimeSetupError) as info:
        fake.run()
    assert str(info.value) == (
        f"cannot create the container bundle in {missing}: No such file or directory"
    )
    assert fake.calls() == []


def test_bundle_config_and_cleanup(fake: Fake) -> None:
    spec = default_oci_spec(["true"], readonly_rootfs=True)
    before = copy.deepcopy(spec)
    assert fake.run(spec) == 0
    assert spec == before
    config = fake.config()
    assert config["root"] == {"path": str(fake.rootfs), "readonly": True}
    assert {k: v for k, v in config.items() if k != "root"} == {
        k: v for k, v in before.items() if k != "root"
    }
    assert not fake.bundle().exists()
    assert (fake.dir / "out").read_text() == "container output\n"


def test_relative_rootfs_is_made_absolute(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(fake.dir)
    run_container(
        default_oci_spec(["true"]), "rootfs", runtime=str(fake.path), stdout=subprocess.DEVNULL
    )
    assert fake.config()["root"]["path"] == str(fake.rootfs)


# --- the runtime's state directory ----------------------------------------------------------


def test_runtime_root_is_passed_to_every_call(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RUNTIME_ROOT_ENV, str(fake.dir / "from-env"))
    fake.behave(status=1, log=[{"level": "error", "msg": "runc run failed: boom"}])
    with pytest.raises(ContainerError):
        fake.run(runtime_root=fake.dir / "state")
    assert fake.commands() == ["run", "delete"]
    assert fake.roots() == [str(fake.dir / "state")] * 2


def test_runtime_root_from_the_environment(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RUNTIME_ROOT_ENV, str(fake.dir / "from-env"))
    fake.run()
    assert fake.roots() == [str(fake.dir / "from-env")]


@pytest.mark.parametrize("value", [None, ""])
def test_runtime_default_root_without_one(
    fake: Fake, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    # No --root at all: the runtime keeps its own default (runc: /run/runc).
    if value is None:
        monkeypatch.delenv(RUNTIME_ROOT_ENV)
    else:
        monkeypatch.setenv(RUNTIME_ROOT_ENV, value)
    fake.run()
    assert fake.roots() == ["-"]


def test_resolve_runtime_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(RUNTIME_ROOT_ENV, "env-state")
    assert resolve_runtime_root("state") == str(tmp_path / "state")
    assert resolve_runtime_root(tmp_path / "p") == str(tmp_path / "p")
    assert resolve_runtime_root() == str(tmp_path / "env-state")
    monkeypatch.delenv(RUNTIME_ROOT_ENV)
    assert resolve_runtime_root() is None


def test_spec_without_root_gets_one(fake: Fake) -> None:
    spec = default_oci_spec(["true"])
    del spec["root"]
    fake.run(spec)
    assert fake.config()["root"] == {"path": str(fake.rootfs)}
    assert "root" not in spec


def test_run_command_line(fake: Fake) -> None:
    fake.run(container_id="my-box", runtime_root=str(fake.dir / "state"))
    (call,) = fake.calls()
    assert call[0] == "run"
    assert call[3] == "my-box"
    assert fake.roots() == [str(fake.dir / "state")]


def test_generated_ids_are_unique(fake: Fake) -> None:
    fake.run()
    fake.run()
    ids = [call[3] for call in fake.calls() if call[0] == "run"]
    assert len(set(ids)) == 2
    assert all(i.startswith("cdi-") and len(i) == 20 for i in ids)


def test_given_bundle_dir_is_kept(fake: Fake) -> None:
    bundle = fake.dir / "bundle"
    fake.run(bundle_dir=bundle)
    assert fake.bundle() == bundle
    assert json.loads((bundle / "config.json").read_text())["root"]["path"] == str(fake.rootfs)


# --- exit statuses and runtime failures ---------------------------------------------------


def test_exit_status_is_returned_without_delete(fake: Fake) -> None:
    fake.behave(status=3)
    assert fake.run() == 3
    # runc removes the container itself when `run` returns; no extra runtime call is made
    assert fake.commands() == ["run"]


def test_warnings_do_not_make_a_failure(fake: Fake) -> None:
    fake.behave(status=1, log=[{"level": "warning", "msg": "cannot toggle freezer"}])
    assert fake.run() == 1
    assert fake.commands() == ["run"]


def test_runtime_error_raises_container_error(fake: Fake) -> None:
    message = 'runc run failed: unable to start container process: exec: "/x": permission denied'
    fake.behave(
        status=1, log=[{"level": "warning", "msg": "w"}, {"level": "error", "msg": message}]
    )
    with pytest.raises(ContainerError) as info:
        fake.run(container_id="box-1")
    error = info.value
    assert str(error) == f"fake-runc: {message}"
    assert error.runtime_messages == [message]
    assert error.container_id == "box-1"
    assert error.exit_status == 126
    assert fake.commands() == ["run", "delete"]
    assert fake.calls()[1] == ["delete", "--force", "box-1"]
    assert not fake.bundle().exists()


@pytest.mark.parametrize(
    ("message", "status"),
    [
        (
            'runc run failed: unable to start container process: exec: "/nonexistent": '
            "stat /nonexistent: no such file or directory",
            127,
        ),
        (
            'runc run failed: unable to start container process: exec: "nope": '
            "executable file not found in $PATH",
            127,
        ),
        (
            "runc run failed: unable to start container process: error during container init: "
            'error running hook #0: fork/exec /hook: no such file or directory"',
            125,
        ),
        ("runc run failed: invalid container ID format", 125),
    ],
)
def test_failure_exit_status(fake: Fake, message: str, status: int) -> None:
    fake.behave(status=1, log=[{"level": "error", "msg": message}])
    with pytest.raises(ContainerError) as info:
        fake.run()
    assert info.value.exit_status == status


def test_non_fatal_runc_errors_keep_the_status(fake: Fake) -> None:
    runc = fake.dir / "bin" / "runc"
    runc.parent.mkdir()
    runc.symlink_to(fake.path)
    fake.behave(status=5, log=[{"level": "error", "msg": "error running hook #0: exit status 7"}])
    with open(fake.dir / "out", "wb") as out:
        status = run_container(
            default_oci_spec(["true"]), fake.rootfs, runtime=str(runc), stdout=out
        )
    assert status == 5
    assert fake.commands() == ["run", "delete"]

    fake.behave(status=1, log=[{"level": "error", "msg": "runc run failed: boom"}])
    with pytest.raises(ContainerError, match=r"^runc run failed: boom$"):
        run_container(default_oci_spec(["true"]), fake.rootfs, runtime=str(runc))


def test_other_runtimes_errors_with_a_status_are_failures(fake: Fake) -> None:
    fake.behave(status=5, log=[{"level": "error", "msg": "something broke"}])
    with pytest.raises(ContainerError, match=r"^fake-runc: something broke$"):
        fake.run()


def test_existing_container_is_never_deleted(fake: Fake) -> None:
    fake.behave(
        status=1,
        log=[{"level": "error", "msg": "runc run failed: container with given ID already exists"}],
    )
    with pytest.raises(ContainerError, match="already exists"):
        fake.run(container_id="someone-elses")
    assert fake.commands() == ["run"]


def test_error_logged_on_success_still_cleans_up(fake: Fake) -> None:
    fake.behave(status=0, log=[{"level": "error", "msg": "failed to remove cgroup"}])
    assert fake.run() == 0
    assert fake.commands() == ["run", "delete"]


def test_runtime_killed_by_signal(fake: Fake) -> None:
    fake.behave(run="kill -9 $$")
    with pytest.raises(ContainerError, match="was killed by signal 9"):
        fake.run()
    assert fake.commands() == ["run", "delete"]


def test_timeout_kills_and_deletes(fake: Fake) -> None:
    # The stand-in ignores `kill`, so this also covers killing a runtime that does not exit.
    fake.behave(run="sleep 30")
    start = time.monotonic()
    with pytest.raises(ContainerTimeoutError) as info:
        fake.run(container_id="slow", timeout=0.2)
    assert time.monotonic() - start < 10
    assert str(info.value) == "container slow timed out after 0.2 s"
    assert info.value.exit_status == 124
    assert info.value.timeout == 0.2
    commands = fake.commands()
    assert commands[0] == "run"
    assert "kill" in commands
    assert commands[-1] == "delete"
    assert ["kill", "slow", "KILL"] in fake.calls()
    assert not fake.bundle().exists()


def test_keyboard_interrupt_kills_and_deletes(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.behave(run="sleep 30")
    original = subprocess.Popen.wait
    interrupted: list[bool] = []

    def wait(self: subprocess.Popen[bytes], timeout: float | None = None) -> int:
        if not interrupted:
            interrupted.append(True)
            time.sleep(0.2)
            raise KeyboardInterrupt
        return original(self, timeout)

    monkeypatch.setattr(subprocess.Popen, "wait", wait)
    with pytest.raises(KeyboardInterrupt):
        fake.run(container_id="interrupted")
    assert ["kill", "interrupted", "KILL"] in fake.calls()
    assert fake.commands()[-1] == "delete"
    assert not fake.bundle().exists()


def test_runtime_that_cannot_start(fake: Fake) -> None:
    fake.path.write_bytes(b"\x00not an executable")
    with pytest.raises(RuntimeSetupError, match="cannot start OCI runtime"):
        fake.run()


def test_no_leftover_bundles(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(fake.dir / "tmp"))
    (fake.dir / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", None)  # forget the cached default
    fake.behave(status=1, log=[{"level": "error", "msg": "boom"}])
    with pytest.raises(ContainerError):
        fake.run()
    assert fake.bundle().parent == fake.dir / "tmp"
    fake.behave(status=5)
    assert fake.run() == 5
    assert list((fake.dir / "tmp").iterdir()) == []
