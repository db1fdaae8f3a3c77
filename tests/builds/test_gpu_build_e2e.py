"""The tutorial's GPU build end to end, on a fixture GPU host, through the ``cdi`` command.

The host (tests/gpuhost.py) validates as NVIDIA and is read by the generator as a real driver
install; its stand-in ``nvidia-smi`` reaches the stand-in NVML only through what the generated
spec gives the container (the mounted library, the linker cache the update-ldcache hook
rebuilds), so the ``GPU 0: ...`` line in the build output proves the whole path: listing,
on-demand preparation, injection and hooks under real runc.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from cdi.hooks.launcher import build_launcher
from gpuhost import build_gpu_host, glibc_rootfs, require_gpu_host_tools

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("require_runtime")]

CDI = str(Path(sys.executable).with_name("cdi"))
KIND = "nvidia.com/gpu"
LABS = "# syntax=docker/dockerfile:1-labs\n"
DOCKERFILE = LABS + "FROM ubuntu\nRUN --device=nvidia.com/gpu nvidia-smi -L\n"
REQUIRED = LABS + "FROM ubuntu\nRUN --device=nvidia.com/gpu,required nvidia-smi -L\n"
PREPARING = f"preparing device {KIND}"
NOT_REGISTERED = (
    'ERROR: failed to build: failed to solve: failed to load LLB: required device "nvidia.com/gpu"'
    " is not registered\n"
)
AUTOALLOW = "org.mobyproject.buildkit.device.autoallow"


@pytest.fixture(scope="module")
def ubuntu(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The glibc root standing for ``FROM ubuntu`` (builds copy it; none writes into it)."""
    require_gpu_host_tools()
    return glibc_rootfs(tmp_path_factory.mktemp("ubuntu") / "rootfs")


@pytest.fixture(scope="module")
def hook(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The static ``cdi-hook`` launcher the generated specs name."""
    require_gpu_host_tools()
    return build_launcher(str(tmp_path_factory.mktemp("hook") / "cdi-hook"))


@pytest.fixture
def env(hook: str) -> dict[str, str]:
    # CDI_RUNTIME_ROOT (this test's runc state) is inherited from the test's environment.
    return {**os.environ, "NVIDIA_CTK_CDI_HOOK_PATH": hook}


def cdi(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CDI, *args], capture_output=True, text=True, timeout=300, check=False, env=env
    )


def context(tmp_path: Path, dockerfile: str = DOCKERFILE) -> Path:
    directory = tmp_path / "context"
    directory.mkdir(exist_ok=True)
    (directory / "Dockerfile").write_text(dockerfile)
    return directory


def build(
    env: dict[str, str], spec_dir: Path, host: Path, ubuntu: Path, ctx: Path
) -> subprocess.CompletedProcess[str]:
    return cdi(
        env,
        "--spec-dir",
        str(spec_dir),
        "build",
        "--host-root",
        str(host),
        "--build-context",
        f"ubuntu={ubuntu}",
        "--progress",
        "plain",
        str(ctx),
    )


def inspect(env: dict[str, str], spec_dir: Path, host: Path) -> str:
    result = cdi(env, "--spec-dir", str(spec_dir), "inspect", "--host-root", str(host))
    assert result.returncode == 0, result.stderr
    return result.stdout


def on_demand_listed(listing: str) -> bool:
    lines = [line.strip().split() for line in listing.splitlines()]
    return ["Name:", KIND] in lines and ["On-Demand:", "true"] in lines


def assert_spec_written(spec_dir: Path) -> dict[str, Any]:
    path = spec_dir / "nvidia.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    spec = yaml.safe_load(path.read_text())
    assert spec["kind"] == KIND
    assert spec["annotations"][AUTOALLOW] == "true"
    assert isinstance(spec, dict)
    return spec


def test_tutorial_gpu_build(tmp_path: Path, ubuntu: Path, env: dict[str, str]) -> None:
    host = build_gpu_host(tmp_path / "host")
    spec_dir = tmp_path / "cdi"
    spec_dir.mkdir()
    assert on_demand_listed(inspect(env, spec_dir, host.root))

    first = build(env, spec_dir, host.root, ubuntu, context(tmp_path))
    assert first.returncode == 0, first.stderr
    assert PREPARING in first.stderr
    assert "Generated CDI spec with version " in first.stderr
    assert host.smi_lines()[0] in first.stderr
    assert first.stderr.index(PREPARING) < first.stderr.index(host.smi_lines()[0])
    spec = assert_spec_written(spec_dir)
    names = {device["name"] for device in spec["devices"]}
    assert names >= {"0", "all", host.gpus[0].uuid}

    # The kind exists now: listed as a device, no longer on demand.
    listing = inspect(env, spec_dir, host.root)
    assert not on_demand_listed(listing) and f"{KIND}=0" in listing

    second = build(env, spec_dir, host.root, ubuntu, context(tmp_path))
    assert second.returncode == 0, second.stderr
    assert PREPARING not in second.stderr
    assert host.smi_lines()[0] in second.stderr


def test_every_gpu_of_a_two_gpu_host(tmp_path: Path, ubuntu: Path, env: dict[str, str]) -> None:
    host = build_gpu_host(tmp_path / "host", gpus=2)
    dockerfile = LABS + "FROM ubuntu\nRUN --device=nvidia.com/gpu=all nvidia-smi -L\n"
    spec_dir = tmp_path / "cdi"
    result = cdi(
        env,
        "--spec-dir",
        str(spec_dir),
        "build",
        "--host-root",
        str(host.root),
        "--allow",
        "device",  # without it =all is rewritten to the bare kind (reference §3.2)
        "--build-context",
        f"ubuntu={ubuntu}",
        "--progress",
        "plain",
        str(context(tmp_path, dockerfile)),
    )
    assert result.returncode == 0, result.stderr
    for line in host.smi_lines():
        assert line in result.stderr


def test_a_host_without_nvidia_lists_nothing_and_required_fails(
    tmp_path: Path, ubuntu: Path, env: dict[str, str]
) -> None:
    host = tmp_path / "host"
    (host / "sys/bus/pci/devices").mkdir(parents=True)
    spec_dir = tmp_path / "cdi"
    spec_dir.mkdir()
    assert not on_demand_listed(inspect(env, spec_dir, host))

    result = build(env, spec_dir, host, ubuntu, context(tmp_path, REQUIRED))
    assert result.returncode == 1
    assert result.stderr.endswith(NOT_REGISTERED), result.stderr
    assert PREPARING not in result.stderr
    assert list(spec_dir.iterdir()) == []


def test_an_optional_request_on_a_host_without_nvidia_runs_without_a_gpu(
    tmp_path: Path, ubuntu: Path, env: dict[str, str]
) -> None:
    host = tmp_path / "host"
    (host / "sys/bus/pci/devices").mkdir(parents=True)
    dockerfile = LABS + "FROM ubuntu\nRUN --device=nvidia.com/gpu ls /dev\n"
    result = build(env, tmp_path / "cdi", host, ubuntu, context(tmp_path, dockerfile))
    assert result.returncode == 0, result.stderr
    assert PREPARING not in result.stderr


def test_wsl_host(tmp_path: Path, ubuntu: Path, env: dict[str, str]) -> None:
    """WSL: validated through /dev/dxg alone; the driver store mounted, /usr/lib/wsl too."""
    host = build_gpu_host(tmp_path / "host", wsl=True)
    spec_dir = tmp_path / "cdi"
    spec_dir.mkdir()
    assert on_demand_listed(inspect(env, spec_dir, host.root))
    result = build(env, spec_dir, host.root, ubuntu, context(tmp_path))
    assert result.returncode == 0, result.stderr
    assert PREPARING in result.stderr
    spec = assert_spec_written(spec_dir)
    assert [device["name"] for device in spec["devices"]] == ["all"]
    mounts = [(m["hostPath"], m["containerPath"]) for m in spec["containerEdits"]["mounts"]]
    assert (str(host.root / "usr/lib/wsl"), "/usr/lib/wsl") in mounts
    assert host.smi_lines()[0] in result.stderr
