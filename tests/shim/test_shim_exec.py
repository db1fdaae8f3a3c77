"""cdi-runtime as a process: injection before exec, pass-through, errors, logs.

The real runtime is a recording stand-in (``shimtools.FAKE_RUNTIME``): the tests see exactly
what runc would be given -- argv, environment, directory -- and the bundle as it was then.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from shimtools import SHIM, ShimWorld

CREATE = ["--root", "/run/test-root", "create", "--bundle", "BUNDLE", "--pid-file", "/p", "c1"]


def _create(world: ShimWorld) -> list[str]:
    return [str(world.bundle) if arg == "BUNDLE" else arg for arg in CREATE]


def _hooks(spec: dict[str, Any]) -> list[Any]:
    return [hook for hooks in spec.get("hooks", {}).values() for hook in hooks]


def test_create_injects_then_execs_the_runtime_unchanged(world: ShimWorld) -> None:
    args = _create(world)
    env = world.environment(FAKE_STATUS="3", SOMETHING_ELSE="kept")
    result = world.run(*args, env=env)
    assert result.returncode == 3, result.stderr  # the runtime's status is ours
    assert result.stderr == ""
    assert world.recorded_argv() == [str(world.fake), *args]
    recorded = world.recorded_env()
    assert recorded == {**env, **{k: v for k, v in recorded.items() if k in ("PWD", "SHLVL")}}
    assert (world.record / "cwd").read_text().strip() == str(world.root)
    spec = world.spec()
    assert "FOO=injected" in spec["process"]["env"]
    assert {"destination": "/mnt/marker", "type": "bind", "source": "/etc/hostname",
            "options": ["ro", "bind"]} in spec["mounts"] or any(
        m["destination"] == "/mnt/marker" for m in spec["mounts"])  # fmt: skip
    assert [d["path"] for d in spec["linux"]["devices"]] == ["/dev/null"]
    assert spec["hooks"]["createRuntime"] == [{"path": "/bin/true", "args": ["true", "foo"]}]
    # Fields the project does not know survive, values and all.
    assert spec["org.example.future-field"] == {"kept": [1, 2.5, None, True]}


def test_the_runtime_gets_default_signal_dispositions(world: ShimWorld) -> None:
    # Python ignores SIGPIPE and SIGXFSZ at start-up; an exec would pass that on.
    import signal

    assert world.run("state", "c1").returncode == 0
    ignored = world.recorded_ignored_signals()
    for number in (signal.SIGPIPE, signal.SIGXFSZ):
        assert not ignored & (1 << (number - 1)), hex(ignored)


def test_rewrite_keeps_mode_and_owner(world: ShimWorld) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give the bundle to another user")
    os.chown(world.config_json, 1000, 1001)
    world.config_json.chmod(0o640)
    assert world.run(*_create(world)).returncode == 0
    info = world.config_json.stat()
    assert (info.st_uid, info.st_gid, info.st_mode & 0o7777) == (1000, 1001, 0o640)
    assert "FOO=injected" in world.spec()["process"]["env"]
    assert [p.name for p in world.bundle.iterdir()] == ["config.json"]  # no temporary left


@pytest.mark.parametrize("command", ["run", "restore"])
def test_run_and_restore_inject_too(world: ShimWorld, command: str) -> None:
    result = world.run(command, "--bundle", str(world.bundle), "c1")
    assert result.returncode == 0, result.stderr
    assert "FOO=injected" in world.spec()["process"]["env"]


def test_bundle_defaults_to_the_current_directory(world: ShimWorld) -> None:
    import subprocess

    result = subprocess.run(
        [SHIM, "create", "c1"],
        env=world.environment(),
        cwd=world.bundle,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "FOO=injected" in world.spec()["process"]["env"]


def test_no_request_leaves_the_file_untouched(world: ShimWorld) -> None:
    spec = json.loads(world.config_json.read_text())
    del spec["annotations"]
    world.write_config_json(spec)
    before = world.config_json.read_bytes(), world.config_json.stat().st_ino
    assert world.run(*_create(world)).returncode == 0
    assert (world.config_json.read_bytes(), world.config_json.stat().st_ino) == before
    assert world.recorded_argv()[1:] == _create(world)


def test_injecting_twice_changes_nothing_more(world: ShimWorld) -> None:
    assert world.run(*_create(world)).returncode == 0
    once = world.config_json.read_bytes(), world.config_json.stat().st_ino
    assert world.run(*_create(world)).returncode == 0
    assert (world.config_json.read_bytes(), world.config_json.stat().st_ino) == once
    spec = world.spec()
    assert len(_hooks(spec)) == 1
    assert spec["process"]["env"].count("FOO=injected") == 1
    assert len(spec["linux"]["resources"]["devices"]) == 1


def test_unresolvable_device_fails_before_the_runtime(world: ShimWorld) -> None:
    spec = json.loads(world.config_json.read_text())
    spec["annotations"]["cdi.k8s.io/test"] = "vendor1.com/device=bar"
    world.write_config_json(spec)
    before = world.config_json.read_bytes()
    log = world.root / "log.json"
    result = world.run("--log", str(log), "--log-format", "json", *_create(world))
    message = "failed to inject CDI devices: unresolvable CDI devices vendor1.com/device=bar"
    assert (result.returncode, result.stderr) == (1, message + "\n")
    assert not world.record.exists()  # the runtime never ran
    assert world.config_json.read_bytes() == before
    assert _containerd_last_error(log) == message
    assert _podman_oci_log(log) == message


def test_text_log_format(world: ShimWorld) -> None:
    world.write_config_json({**json.loads(world.config_json.read_text()),
                             "annotations": {"cdi.k8s.io/x": "nope"}})  # fmt: skip
    log = world.root / "log.txt"
    result = world.run("--log", str(log), *_create(world))
    assert result.returncode == 1
    line = log.read_text()
    assert line.startswith('time="') and line.endswith(
        ' level=error msg="invalid CDI device name \\"nope\\""\n'
    )


def test_nothing_is_logged_on_success_by_default(world: ShimWorld) -> None:
    log = world.root / "log.json"
    assert world.run("--log", str(log), "--log-format", "json", *_create(world)).returncode == 0
    assert not log.exists()


def test_debug_logs_what_it_did(world: ShimWorld) -> None:
    log = world.root / "log.json"
    result = world.run("--debug", "--log", str(log), "--log-format", "json", *_create(world))
    assert result.returncode == 0
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert {line["level"] for line in lines} <= {"debug", "info"}
    messages = [line["msg"] for line in lines]
    assert f"CDI spec directories: {world.spec_dir}" in messages
    assert f"injected CDI devices vendor1.com/device=foo into {world.config_json}" in messages
    assert any(m.startswith(f"executing {world.fake}") for m in messages)


def test_pass_through_reads_no_bundle(world: ShimWorld) -> None:
    world.config_json.write_text("not json at all")
    commands = [
        ["state", "c1"],
        ["kill", "c1", "9"],
        ["delete", "--force", "c1"],
        ["exec", "--process", "/p", "c1"],
        ["features"],
        ["spec", "--bundle", "."],
    ]
    for args in commands:
        result = world.run("--root", "/r", *args)
        assert result.returncode == 0, (args, result.stderr)
        assert world.recorded_argv() == [str(world.fake), "--root", "/r", *args]
    assert world.config_json.read_text() == "not json at all"


def test_bad_config_json_fails_create(world: ShimWorld) -> None:
    world.config_json.write_text("[1, 2")
    result = world.run(*_create(world))
    assert result.returncode == 1
    assert result.stderr == (
        f"error reading OCI specification {world.config_json}: not valid JSON\n"
    )


def test_missing_config_json(world: ShimWorld) -> None:
    world.config_json.unlink()
    result = world.run(*_create(world))
    assert (result.returncode, result.stderr) == (
        1, f"error reading OCI specification {world.config_json}: No such file or directory\n"
    )  # fmt: skip


def test_broken_configuration_fails_create_but_not_pass_through(world: ShimWorld) -> None:
    world.write_config("runtimes = [\n")
    result = world.run(*_create(world))
    assert result.returncode == 1
    assert result.stderr.startswith(f"error loading config {world.config}: ")
    # state/kill/delete still reach a runtime: the default candidates.
    result = world.run("--log", str(world.root / "l"), "state", "definitely-missing-container")
    assert "error loading config" not in result.stderr


def test_version_prints_ours_then_the_runtimes(world: ShimWorld) -> None:
    world.fake.write_text("#!/bin/sh\necho 'fake-runc version 9'\n")
    result = world.run("--version")
    assert result.stdout.splitlines() == [
        "cdi-runtime version 0.1.0",
        "CDI spec version 1.1.0",
        "fake-runc version 9",
    ]


def test_no_runtime_found(world: ShimWorld) -> None:
    world.write_config('runtimes = ["no-such-runtime-anywhere", "/no/such/path"]\n')
    result = world.run("state", "c1")
    assert (result.returncode, result.stderr) == (
        1,
        "error locating runtime: no OCI runtime found from candidate list: "
        "[no-such-runtime-anywhere /no/such/path]\n",
    )


def test_a_runtime_named_after_us_is_skipped(world: ShimWorld) -> None:
    loop = world.root / "loop"
    loop.mkdir()
    (loop / "runc").symlink_to(SHIM)  # "runc" earlier in PATH is the shim itself
    (world.bin / "runc").symlink_to(world.fake)
    world.write_config('runtimes = ["runc"]\n')
    env = world.environment(PATH=f"{loop}:{world.bin}")
    result = world.run("state", "c1", env=env)
    assert result.returncode == 0, result.stderr
    assert world.recorded_argv()[0] == str(world.bin / "runc")


def test_relative_path_entries_are_not_searched(world: ShimWorld) -> None:
    here = world.root / "here"
    here.mkdir()
    (here / "runc").symlink_to(world.fake)
    world.write_config('runtimes = ["runc"]\n')
    env = world.environment(PATH="here:.:")  # relative, and "" (the current directory)
    result = world.run("--debug", "--log", "/dev/stderr", "state", "c1", env=env)
    assert not world.record.exists()  # ./here/runc, the stand-in, was not run
    assert "here/runc" not in result.stderr


def test_runtime_found_without_path(world: ShimWorld) -> None:
    if not any(
        os.access(os.path.join(d, "runc"), os.X_OK)
        for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin")
    ):
        pytest.skip("runc is not installed in a system directory")  # fmt: skip
    world.write_config('runtimes = ["runc"]\n')
    env = {"CDI_RUNTIME_CONFIG": str(world.config)}  # podman's delete: no PATH at all
    result = world.run("--root", str(world.root / "state"), "list", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]


def test_trust_refusal_is_named_in_the_error(world: ShimWorld) -> None:
    if os.geteuid() != 0:
        pytest.skip("strict trust is the default for root only")
    (world.spec_dir / "vendor1.json").chmod(0o666)
    result = world.run(*_create(world))
    assert result.returncode == 1
    assert result.stderr.startswith(
        "failed to inject CDI devices: unresolvable CDI devices vendor1.com/device=foo "
        "(spec file problems: "
    )
    assert str(world.spec_dir / "vendor1.json") in result.stderr
    world.write_config(f'runtimes = ["{world.fake}"]\ntrust = "off"\n')
    assert world.run(*_create(world)).returncode == 0


def test_env_source_end_to_end(world: ShimWorld) -> None:
    world.write_config(
        f'runtimes = ["{world.fake}"]\n[env]\nvariables = ["CDI_DEVICES"]\nunprivileged = true\n'
    )
    spec = json.loads(world.config_json.read_text())
    del spec["annotations"]
    spec["process"]["env"].append("CDI_DEVICES=vendor1.com/device=bar2")
    world.write_config_json(spec)
    assert world.run(*_create(world)).returncode == 0
    assert "BAR=2" in world.spec()["process"]["env"]


# -- how engines read the log back -------------------------------------------------------


def _containerd_last_error(path: Path) -> str | None:
    """containerd's reading: a stream of JSON objects; the msg of the last error one."""
    decoder = json.JSONDecoder()
    text, position, last = path.read_text(), 0, None
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        entry, position = decoder.raw_decode(text, position)
        _check_rfc3339(entry["time"])
        if entry.get("level") == "error":
            last = entry["msg"]
    return last


def _podman_oci_log(path: Path) -> str:
    """podman's reading of its oci-log: the whole file as one JSON object."""
    message: str = json.loads(path.read_text())["msg"]
    return message


def _check_rfc3339(stamp: str) -> None:
    from datetime import datetime

    assert stamp.endswith("Z")
    datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")
    assert stamp[19] == "." and stamp[20:-1].isdigit() and len(stamp[20:-1]) == 9


def test_a_bug_is_an_error_line_not_a_traceback(
    world: ShimWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cdi.shim import main

    def broken(*args: object) -> bool:
        raise RuntimeError("boom")

    executed: list[str] = []
    monkeypatch.setattr(main, "inject_bundle", broken)
    monkeypatch.setattr(os, "execve", lambda path, *args: executed.append(path))
    for name, value in world.environment().items():
        monkeypatch.setenv(name, value)
    log = world.root / "log.json"
    with pytest.raises(SystemExit) as exited:
        main.run(["--log", str(log), "--log-format", "json", *_create(world)])
    message = "failed to inject CDI devices: unexpected error: RuntimeError('boom')"
    assert (exited.value.code, executed) == (1, [])  # the runtime was not run
    assert capsys.readouterr().err == message + "\n"
    assert _containerd_last_error(log) == message
