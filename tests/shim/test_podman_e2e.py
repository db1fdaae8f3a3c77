"""cdi-runtime as podman's OCI runtime (Debian's podman 4.3, as root).

Each test has a podman of its own (storage, config, cgroup parent under its temp dir; see
podmanengine.py) with a busybox image made by ``podman import``. The shim gets its spec
dirs and config from containers.conf's ``conmon_env_vars``; podman's own ``start``,
``kill`` and ``delete`` calls reach it with almost no environment (no PATH) and must work
all the same.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engines import (
    HOST_PATH,
    IMAGE,
    SHIM,
    UNTIL_TERM,
    busybox_rootfs_tar,
    output_of,
    require_commands,
    run_command,
    token,
    write_spec_dir,
)
from podmanengine import (
    ENGINE_SPEC_DIR,
    Podman,
    engine_spec_file,
    podman_fixed_paths,
    private_podman,
)

from tables import cases

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def image_tar(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    require_commands("podman", "conmon", "runc")
    with podman_fixed_paths():
        yield busybox_rootfs_tar(busybox_rootfs, tmp_path_factory.mktemp("podman") / "busybox.tar")


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    return write_spec_dir(tmp_path / "cdi")


@pytest.fixture
def podman(image_tar: Path, spec_dir: Path, tmp_path: Path, index_dir: Path) -> Iterator[Podman]:
    with private_podman(
        tmp_path / "podman", image_tar=image_tar, spec_dirs=[str(spec_dir)], index_dir=index_dir
    ) as engine:
        yield engine


def _podman_error(message: str) -> str:
    return f"Error: OCI runtime error: {SHIM}: {message}"


def _runc_knows(container_id: str) -> bool:
    """Whether runc's default state dir (podman passes no --root) has the container."""
    state = run_command(["runc", "state", container_id], {"PATH": HOST_PATH})
    return state.returncode == 0


@cases("shim/podman_e2e.yaml")
def test_podman_table(podman: Podman, spec_dir: Path, case: dict[str, Any]) -> None:
    if case.get("json_log"):
        podman.configure(spec_dirs=[str(spec_dir)], supports_json=True)
    podman.shim_config.write_text(case.get("config", ""))
    name = f"cdi-e2e-{token()}"
    result = podman.run("--name", name, *case["args"], IMAGE, "env")
    output = output_of(result)
    container_id = podman.inspect(name)["Id"]
    try:
        if "error" in case:
            assert result.returncode != 0, output
            assert _podman_error(case["error"]) in output.splitlines(), output
            assert "FOO=injected" not in output  # the container never ran
            log = podman.oci_log(container_id)
            if case.get("json_log"):
                assert log is not None, "podman did not pass --log to the shim"
                lines = log.read_text().splitlines()
                assert len(lines) == case["oci_log_lines"], lines
                last = json.loads(lines[-1])
                assert (last["level"], last["msg"]) == ("error", case["error"])
            else:
                assert log is None, "podman passed --log without runtime_supports_json"
        else:
            assert result.returncode == 0, output
            lines = result.stdout.splitlines()
            for line in case.get("output", []):
                assert line in lines, output
            for line in case.get("absent", []):
                assert line not in lines, output
    finally:
        # Without --runtime: the stored path, and `delete` with no PATH.
        removed = podman.podman("rm", name, runtime=None)
    assert removed.returncode == 0, output_of(removed)
    assert not _runc_knows(container_id)


def test_run_rm_injects_and_removes(podman: Podman) -> None:
    """The command of the docs, as is: ``run --rm`` with one annotated device."""
    result = podman.run(
        "--rm", "--annotation", "cdi.k8s.io/test=vendor1.com/device=foo", IMAGE, "env"
    )
    assert result.returncode == 0, output_of(result)
    assert "FOO=injected" in result.stdout.splitlines()
    assert podman.podman("ps", "--all", "--quiet", runtime=None).stdout == ""


def test_run_rm_unknown_device_fails_and_removes(podman: Podman) -> None:
    result = podman.run(
        "--rm", "--annotation", "cdi.k8s.io/test=vendor1.com/device=bar", IMAGE, "env"
    )
    assert result.returncode != 0
    message = "failed to inject CDI devices: unresolvable CDI devices vendor1.com/device=bar"
    assert _podman_error(message) in output_of(result).splitlines(), output_of(result)
    assert podman.podman("ps", "--all", "--quiet", runtime=None).stdout == ""


def test_stop_and_rm_use_the_stored_runtime(podman: Podman) -> None:
    """``run -d`` through the shim; ``exec``, ``stop`` and ``rm`` without ``--runtime``.

    podman's default runtime here would be crun (or runc, where crun is missing): the calls
    reach the shim only because podman stored its path with the container, and ``kill`` and
    ``delete`` come with no PATH, so the shim finds runc on its own.
    """
    name = f"cdi-e2e-{token()}"
    started = podman.run(
        "-d", "--name", name, "--annotation", "cdi.k8s.io/test=vendor1.com/device=foo",
        IMAGE, *UNTIL_TERM,
    )  # fmt: skip
    assert started.returncode == 0, output_of(started)
    inspected = podman.inspect(name)
    container_id = inspected["Id"]
    assert inspected["OCIRuntime"] == SHIM
    assert inspected["State"]["Status"] == "running"
    assert _runc_knows(container_id)

    # exec goes through the shim untouched. Its process comes from podman's own spec, not
    # from the config.json the shim rewrote, so the injected env is missing: a limit of
    # injecting in the runtime rather than in the engine.
    executed = podman.podman("exec", name, "sh", "-c", 'echo "FOO=$FOO"', runtime=None)
    assert executed.returncode == 0, output_of(executed)
    assert executed.stdout == "FOO=\n"

    stopped = podman.podman("stop", "--time", "60", name, runtime=None)
    assert stopped.returncode == 0, output_of(stopped)
    state = podman.inspect(name)["State"]
    assert (state["Status"], state["ExitCode"]) == ("exited", 0)

    removed = podman.podman("rm", name, runtime=None)
    assert removed.returncode == 0, output_of(removed)
    assert podman.podman("ps", "--all", "--quiet", runtime=None).stdout == ""
    assert not _runc_knows(container_id)


def _hooked_spec(vendor: str, marker: Path, count_file: Path) -> dict[str, Any]:
    """A spec podman 4.3 reads (cdiVersion <= 0.5.0) with one of each edit that could be
    doubled: an env entry, a mount, a hook that counts its runs."""
    return {
        "cdiVersion": "0.5.0",
        "kind": f"{vendor}/device",
        "devices": [
            {
                "name": "dev0",
                "containerEdits": {
                    "env": [f"CDITEST={vendor}"],
                    "mounts": [
                        {
                            "hostPath": str(marker),
                            "containerPath": "/cdi-test-marker",
                            "options": ["ro", "bind"],
                        }
                    ],
                    "hooks": [
                        {
                            "hookName": "createRuntime",
                            "path": "/bin/sh",
                            "args": ["/bin/sh", "-c", f'echo ran >> "$(cat {count_file})"'],
                        }
                    ],
                },
            }
        ],
    }


def test_device_and_annotation_inject_once(podman: Podman, tmp_path: Path) -> None:
    """``--device X`` (podman injects) plus annotation X (the shim would): one copy each.

    Compared with each side alone: podman's ``--device`` alone and the annotation alone
    also give exactly one hook run, so a doubled edit cannot hide behind a missing one.
    """
    vendor = f"cdi-test-{token()}.example.com"
    device = f"{vendor}/device=dev0"
    marker = tmp_path / "marker"
    marker.write_text("marker\n")
    # The hook appends to the file named in `target`, so each run counts into its own file.
    target = tmp_path / "target"
    spec = _hooked_spec(vendor, marker, target)
    with engine_spec_file(spec):
        podman.configure(spec_dirs=[str(ENGINE_SPEC_DIR)])
        runs = {
            "device": ["--device", device],
            "annotation": ["--annotation", f"cdi.k8s.io/test={device}"],
            "both": ["--device", device, "--annotation", f"cdi.k8s.io/test={device}"],
        }
        for label, flags in runs.items():
            count = tmp_path / f"count-{label}"
            target.write_text(str(count))
            name = f"cdi-e2e-{label}-{token()}"
            script = "env; cat /proc/self/mountinfo; cat /cdi-test-marker"
            result = podman.run("--name", name, *flags, IMAGE, "sh", "-c", script)
            try:
                assert result.returncode == 0, output_of(result)
                _assert_one_copy(label, result, vendor, count)
                _assert_one_copy_in_bundle(label, podman.inspect(name), vendor, str(target))
            finally:
                podman.podman("rm", "--force", name, runtime=None)


def _assert_one_copy(
    label: str, result: subprocess.CompletedProcess[str], vendor: str, count: Path
) -> None:
    lines = result.stdout.splitlines()
    assert lines.count(f"CDITEST={vendor}") == 1, (label, lines)
    mounted = [line for line in lines if " /cdi-test-marker " in line]
    assert len(mounted) == 1, (label, mounted)
    assert lines[-1] == "marker", label
    assert count.read_text() == "ran\n", label


def _assert_one_copy_in_bundle(
    label: str, inspected: dict[str, Any], vendor: str, hook_target: str
) -> None:
    # podman inspect reads the bundle's config.json once the container exists: it shows
    # the shim's edits too (exec does not, see above).
    assert inspected["Config"]["Env"].count(f"CDITEST={vendor}") == 1, label
    with open(inspected["OCIConfigPath"], encoding="utf-8") as handle:
        config = json.load(handle)  # what runc ran: rewritten by the shim, or podman's
    assert config["process"]["env"].count(f"CDITEST={vendor}") == 1, label
    mounts = [m for m in config["mounts"] if m["destination"] == "/cdi-test-marker"]
    assert len(mounts) == 1, (label, mounts)
    hooks = [h for h in config["hooks"]["createRuntime"] if hook_target in " ".join(h["args"])]
    assert len(hooks) == 1, (label, config["hooks"])
