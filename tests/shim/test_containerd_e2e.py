"""cdi-runtime as the runc binary of containerd 1.6 (Debian's, no CRI plugin, no CDI of its own).

One containerd daemon per module (its own root, state dir, socket and config under a temp
dir; see containerdengine.py), started with the shim's environment, which its runc shim and so
``cdi-runtime`` inherit. Each test gets a namespace of its own with the busybox image
imported from an OCI archive written by the build layer's exporter.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from containerdengine import Containerd, CtrNamespace, containerd_daemon, containerd_namespace
from engines import (
    HOST_PATH,
    IMAGE,
    SHIM,
    UNTIL_TERM,
    busybox_oci_archive,
    output_of,
    require_commands,
    run_command,
    token,
    write_spec_dir,
)

from tables import cases

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def oci_archive(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_commands("containerd", "ctr", "containerd-shim-runc-v2", "runc")
    return busybox_oci_archive(busybox_rootfs, tmp_path_factory.mktemp("ctr-image") / "oci.tar")


@pytest.fixture(scope="module")
def containerd(oci_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Containerd]:
    # A short base: the daemon's socket path must fit in a sockaddr_un (108 bytes).
    base = tmp_path_factory.mktemp("ctrd")
    with containerd_daemon(base, spec_dir=write_spec_dir(base / "cdi")) as daemon:
        yield daemon


@pytest.fixture
def ctr(containerd: Containerd, oci_archive: Path, tmp_path: Path) -> Iterator[CtrNamespace]:
    with containerd_namespace(containerd, tmp_path, archive=oci_archive) as namespace:
        yield namespace


def _ctr_error(message: str) -> str:
    return f"ctr: failed to create shim task: OCI runtime create failed: {message}: unknown"


@cases("shim/containerd_e2e.yaml")
def test_containerd_table(ctr: CtrNamespace, containerd: Containerd, case: dict[str, Any]) -> None:
    containerd.shim_config.write_text(case.get("config", ""))
    name = f"cdi-e2e-{token()}"
    result = ctr.run("--rm", *case["args"], IMAGE, name, "env")
    output = output_of(result)
    if "error" in case:
        assert result.returncode != 0, output
        assert _ctr_error(case["error"]) in output.splitlines(), output
        assert "FOO=injected" not in output  # the container never ran
    else:
        assert result.returncode == 0, output
        lines = result.stdout.splitlines()
        for line in case.get("output", []):
            assert line in lines, output
        for line in case.get("absent", []):
            assert line not in lines, output
    assert ctr.ctr("containers", "ls", "--quiet").stdout == ""  # --rm, also on failure


def test_tasks_pass_through(ctr: CtrNamespace) -> None:
    """``run -d`` through the shim, then ``tasks ls``/``ps``/``exec``/``kill``/``delete``:
    the runc shim calls ``cdi-runtime start|ps|exec|kill|delete``, passed straight on."""
    name = f"cdi-e2e-{token()}"
    started = ctr.run(
        "-d", "--annotation", "cdi.k8s.io/test=vendor1.com/device=foo", IMAGE, name, *UNTIL_TERM
    )
    assert started.returncode == 0, output_of(started)
    # containerd keeps the binary with the container: later calls come to the shim too.
    assert SHIM.encode() in ctr.runtime_options(name)
    assert ctr.task_status(name) == "RUNNING"
    runc = ["runc", "--root", str(ctr.runc_root / ctr.name)]
    state = run_command([*runc, "state", name], {"PATH": HOST_PATH})
    assert '"status": "running"' in state.stdout, output_of(state)

    processes = ctr.ctr("tasks", "ps", name)  # runc ps --format json
    assert processes.returncode == 0, output_of(processes)
    assert len(processes.stdout.splitlines()) >= 3  # header, sh, sleep

    # As with podman, an exec'd process is built from containerd's copy of the spec, not
    # from the config.json the shim rewrote: no injected env.
    executed = ctr.exec("--exec-id", "e1", name, "sh", "-c", 'echo "FOO=$FOO"')
    assert executed.returncode == 0, output_of(executed)
    assert executed.stdout == "FOO=\n"

    killed = ctr.ctr("tasks", "kill", name)  # SIGTERM
    assert killed.returncode == 0, output_of(killed)
    ctr.wait_for_status(name, "STOPPED")
    deleted = ctr.ctr("tasks", "delete", name)
    assert deleted.returncode == 0, output_of(deleted)
    assert ctr.task_status(name) is None
    assert run_command([*runc, "state", name], {"PATH": HOST_PATH}).returncode != 0
    removed = ctr.ctr("containers", "delete", name)
    assert removed.returncode == 0, output_of(removed)
