"""The on-demand installers (cdi.policy.nvidia_installer, cdi.policy.venus_installer), their
wiring into the build policy and ``cdi inspect``, and the on-demand rules of BuildKit.

Tables: tests/vectors/policy/installers.yaml (host checks against fixture host roots) and
tests/vectors/policy/ondemand.yaml (build steps with fake installers).
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import cdi
from cdi.cli.main import main
from cdi.errors import CDIError
from cdi.policy import (
    AUTOALLOW_ANNOTATION,
    DevicePolicy,
    DeviceRequest,
    InstallerError,
    PolicyConfig,
    ProgressCallback,
    parse_entitlements,
)
from cdi.policy.installers import default_installers
from cdi.policy.nvidia_installer import (
    HOOK_PATH_ENV,
    NvidiaInstaller,
    default_hook_path,
    parse_driver_version,
)
from cdi.policy.venus_installer import VenusInstaller
from cdi.producer import write_spec
from cdi.registry import Registry
from cdi.spec.model import ContainerEdits, Device, Spec
from cdi.spec.version import minimum_version
from generate.fakenvml import FakeNvml, gpu_uuid
from generate.fixtures import make_char_device, requires_root, symlink, write_file
from generate.nvidiaroot import build_nvidia_root
from tables import cases

LINUXKIT = "6.10.14-linuxkit"
HOOK = "/opt/test/bin/cdi-hook"


@pytest.fixture(autouse=True)
def _fixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The installers read these; the tests must not depend on the caller's."""
    monkeypatch.delenv("NVIDIA_CTK_DRIVER_ROOT", raising=False)
    monkeypatch.setenv(HOOK_PATH_ENV, HOOK)


# -- host checks (installers.yaml) -------------------------------------------------------------


def _host(tmp_path: Path, case: Mapping[str, Any]) -> Path:
    host, outside = tmp_path / "host", tmp_path / "outside"
    host.mkdir()
    for name, content in case.get("outside_files", {}).items():
        write_file(outside / name, content)
    for name in case.get("dirs", ()):
        (host / name).mkdir(parents=True, exist_ok=True)
    for name, content in case.get("files", {}).items():
        write_file(host / name, content)
    for name, target in case.get("links", {}).items():
        symlink(host / name, target.replace("{outside}", str(outside)))
    for name in case.get("char_devices", ()):
        if os.geteuid() != 0:
            pytest.skip("device nodes need root (mknod)")
        make_char_device(host / name, 10, 63)
    return host


@cases("policy/installers.yaml")
def test_host_check(case: dict[str, Any], tmp_path: Path) -> None:
    host = _host(tmp_path, case)
    spec_dir = str(tmp_path / "cdi")
    installer: NvidiaInstaller | VenusInstaller
    if case.get("installer", "nvidia") == "venus":
        installer = VenusInstaller(
            str(host), spec_dir=spec_dir, kernel_release=lambda: case["kernel"]
        )
    else:
        installer = NvidiaInstaller(str(host), spec_dir=spec_dir)
    if "error" in case:
        with pytest.raises(InstallerError) as caught:
            installer.validate()
        assert str(caught.value) == case["error"].replace("{host}", str(host))
    else:
        assert case["expect"] == "ok"
        installer.validate()


@pytest.mark.parametrize(
    ("text", "version"),
    [
        (  # BuildKit's TestParseVersion
            "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.120  Fri Sep 13 10:10:01 UTC "
            "2024\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n",
            "550.120",
        ),
        (
            "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.144.03  Release Build"
            "  (dvs-builder@U16-I3-B03-4-3)  Mon Dec 30 17:10:10 UTC 2024\n"
            "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n",
            "550.144",
        ),
    ],
)
def test_parse_driver_version(text: str, version: str) -> None:
    assert parse_driver_version(text) == version


def test_parse_driver_version_failure() -> None:
    with pytest.raises(InstallerError, match=r"^could not parse NVIDIA driver version$"):
        parse_driver_version("NVIDIA Kernel Module\n")


# -- NVIDIA run ------------------------------------------------------------------------------


def _gpu_host(tmp_path: Path, gpus: int = 1) -> Path:
    host = tmp_path / "host"
    build_nvidia_root(host, gpus=gpus)
    return host


@requires_root
def test_nvidia_run_writes_the_spec(tmp_path: Path) -> None:
    host, spec_dir = _gpu_host(tmp_path, gpus=2), tmp_path / "cdi"
    installer = NvidiaInstaller(str(host), spec_dir=str(spec_dir), nvml=FakeNvml.with_gpus(2))
    installer.validate()
    lines: list[str] = []
    installer.run(lines.append)

    path = spec_dir / "nvidia.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    spec = cdi.parse_spec(path.read_bytes())
    assert spec.kind == "nvidia.com/gpu"
    assert spec.annotations[AUTOALLOW_ANNOTATION] == "true"
    assert spec.cdi_version == minimum_version(spec)
    names = [device.name for device in spec.devices]
    assert names == ["0", "1", *sorted([gpu_uuid(0), gpu_uuid(1)]), "all"]
    assert lines == [f"Generated CDI spec with version {spec.cdi_version}"]
    hooks = {hook.path for hook in spec.container_edits.hooks}
    assert hooks == {HOOK}
    # Not WSL: nothing of /usr/lib/wsl.
    assert not any(m.container_path == "/usr/lib/wsl" for m in spec.container_edits.mounts)


@requires_root
def test_nvidia_run_forwards_warnings_and_keeps_the_generators_error(tmp_path: Path) -> None:
    host = _gpu_host(tmp_path)
    nvml = FakeNvml.with_gpus(1, fail={"init": "ERROR_LIBRARY_NOT_FOUND"})
    installer = NvidiaInstaller(str(host), spec_dir=str(tmp_path / "cdi"), nvml=nvml)
    generator_log = logging.getLogger("cdi.generate")
    handlers = list(generator_log.handlers)
    lines: list[str] = []
    with pytest.raises(InstallerError) as caught:
        installer.run(lines.append)
    assert str(caught.value) == "failed to initialize NVML: ERROR_LIBRARY_NOT_FOUND"
    assert isinstance(caught.value.__cause__, CDIError)
    assert lines == ["Warning: Unsupported platform detected; assuming nvml"]
    assert generator_log.handlers == handlers  # the forwarding ends with the run
    assert not (tmp_path / "cdi").exists()


@requires_root
def test_nvidia_setup_through_the_policy(tmp_path: Path) -> None:
    host, spec_dir = _gpu_host(tmp_path), tmp_path / "cdi"
    installer = NvidiaInstaller(str(host), spec_dir=str(spec_dir), nvml=FakeNvml.with_gpus(1))
    policy = DevicePolicy(Registry([spec_dir]), installers={installer.kind: installer})
    assert [(i.name, i.auto_allow, i.on_demand) for i in policy.list_devices()] == [
        ("nvidia.com/gpu", True, True)
    ]
    step = policy.authorize([DeviceRequest("nvidia.com/gpu", optional=True)], None)
    lines: list[str] = []
    policy.prepare(step, progress=lines.append)
    assert lines[0] == "preparing device nvidia.com/gpu"
    assert lines[1].startswith("Generated CDI spec with version ")
    assert policy.find_devices(step) == ["nvidia.com/gpu=0"]

    restarted = DevicePolicy(Registry([spec_dir]), installers={installer.kind: installer})
    listed = [(i.name, i.auto_allow, i.on_demand) for i in restarted.list_devices()]
    assert listed == [
        ("nvidia.com/gpu=0", True, False),
        (f"nvidia.com/gpu={gpu_uuid(0)}", True, False),
        ("nvidia.com/gpu=all", True, False),
    ]


@requires_root
def test_nvidia_precondition_failure_has_buildkits_text(tmp_path: Path) -> None:
    host = tmp_path / "host"
    (host / "sys/bus/pci/devices").mkdir(parents=True)
    installer = NvidiaInstaller(str(host), spec_dir=str(tmp_path / "cdi"))
    policy = DevicePolicy(Registry([tmp_path / "cdi"]), installers={installer.kind: installer})
    assert policy.list_devices() == []
    with pytest.raises(InstallerError) as caught:
        policy.prepare([DeviceRequest("nvidia.com/gpu")])
    assert str(caught.value) == (
        "failed to find preconditions for nvidia.com/gpu device: no NVIDIA devices found"
    )


def _wsl_host(root: Path) -> Path:
    """A WSL2 host: NVIDIA's driver store, the WSL library folder and ``/dev/dxg``."""
    store = root / "usr/lib/wsl/drivers/nv_dispi.inf_amd64_7e4d2c3b1a0f9e8d"
    for name in ("libcuda.so.1.1", "libcuda_loader.so", "libnvidia-ml.so.1", "nvcubins.bin"):
        write_file(store / name, b"\x7fELF")
    write_file(store / "nvidia-smi", b"\x7fELF", mode=0o755)
    # Not loadable: the generator falls back to finding the store by its contents.
    write_file(root / "usr/lib/wsl/lib/libdxcore.so", b"not an ELF object")
    make_char_device(root / "dev/dxg", 10, 63)
    (root / "sys/bus/pci/devices").mkdir(parents=True)
    return root


@requires_root
def test_nvidia_run_on_wsl_mounts_the_wsl_folder(tmp_path: Path) -> None:
    host, spec_dir = _wsl_host(tmp_path / "host"), tmp_path / "cdi"
    installer = NvidiaInstaller(str(host), spec_dir=str(spec_dir))
    installer.validate()
    lines: list[str] = []
    installer.run(lines.append)
    spec = cdi.parse_spec((spec_dir / "nvidia.yaml").read_bytes())
    assert [device.name for device in spec.devices] == ["all"]
    first = spec.container_edits.mounts[0]
    assert (first.host_path, first.container_path) == (f"{host}/usr/lib/wsl", "/usr/lib/wsl")
    assert "ro" in first.options
    assert spec.annotations[AUTOALLOW_ANNOTATION] == "true"
    assert lines[-1] == f"Generated CDI spec with version {spec.cdi_version}"


def test_driver_root_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    installer = NvidiaInstaller(str(tmp_path), spec_dir=str(tmp_path / "cdi"))
    options = installer.options()
    assert (options.mode, options.driver_root, options.dev_root) == (
        "auto",
        str(tmp_path),
        str(tmp_path),
    )
    assert (options.sysfs_root, options.procfs_root) == (f"{tmp_path}/sys", f"{tmp_path}/proc")
    monkeypatch.setenv("NVIDIA_CTK_DRIVER_ROOT", "/run/nvidia/driver")
    assert installer.options().driver_root == "/run/nvidia/driver"
    assert installer.options().dev_root == str(tmp_path)


def test_hook_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_hook_path() == HOOK
    monkeypatch.delenv(HOOK_PATH_ENV)
    found = write_file(tmp_path / "bin/cdi-hook", "#!/bin/sh\n", mode=0o755)
    monkeypatch.setenv("PATH", str(found.parent))
    assert default_hook_path() == str(found)


def test_hook_path_beside_the_interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HOOK_PATH_ENV)
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr("cdi.generate.hooks.HOOK_SEARCH_DIRS", ())
    python = write_file(tmp_path / "venv/bin/python", "", mode=0o755)
    monkeypatch.setattr("sys.executable", str(python))
    assert default_hook_path() == "/usr/bin/nvidia-cdi-hook"  # NVIDIA's default
    beside = write_file(tmp_path / "venv/bin/cdi-hook", "#!/bin/sh\n", mode=0o755)
    assert default_hook_path() == str(beside)


# -- Venus run -------------------------------------------------------------------------------


def test_venus_run_writes_the_fixed_spec(tmp_path: Path) -> None:
    host, spec_dir = tmp_path / "host", tmp_path / "cdi"
    for name in ("card0", "renderD128"):
        write_file(host / "dev/dri" / name)
    installer = VenusInstaller(str(host), spec_dir=str(spec_dir), kernel_release=lambda: LINUXKIT)
    installer.run(lambda line: None)
    path = spec_dir / "venus.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    spec = cdi.parse_spec(path.read_bytes())
    assert (spec.cdi_version, spec.kind) == ("0.6.0", "docker.com/gpu")
    assert dict(spec.annotations) == {"cdi.device.name": "Virtio-GPU Venus (Docker Desktop)"}
    assert [device.name for device in spec.devices] == ["venus"]
    nodes = spec.devices[0].container_edits.device_nodes
    assert [(n.path, n.host_path) for n in nodes] == [
        ("/dev/dri/card0", f"{host}/dev/dri/card0"),
        ("/dev/dri/renderD128", f"{host}/dev/dri/renderD128"),
    ]


def test_venus_spec_on_the_real_root_is_buildkits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installer = VenusInstaller("/", spec_dir=str(tmp_path), kernel_release=lambda: LINUXKIT)
    monkeypatch.setattr(installer, "validate", lambda: None)  # this host has no DRI nodes
    installer.run(lambda line: None)
    spec = cdi.parse_spec((tmp_path / "venus.yaml").read_bytes())
    nodes = spec.devices[0].container_edits.device_nodes
    assert [(n.path, n.host_path) for n in nodes] == [
        ("/dev/dri/card0", ""),
        ("/dev/dri/renderD128", ""),
    ]


def test_venus_run_validates_again(tmp_path: Path) -> None:
    installer = VenusInstaller(
        str(tmp_path), spec_dir=str(tmp_path / "cdi"), kernel_release=lambda: "6.8.0"
    )
    with pytest.raises(InstallerError, match="requires a linuxkit kernel"):
        installer.run(lambda line: None)
    assert not (tmp_path / "cdi").exists()


# -- wiring ----------------------------------------------------------------------------------


def test_default_installers(tmp_path: Path) -> None:
    installers = default_installers(str(tmp_path), "/etc/buildkit/cdi")
    assert sorted(installers) == ["docker.com/gpu", "nvidia.com/gpu"]
    for kind, installer in installers.items():
        assert installer.kind == kind
        assert isinstance(installer, NvidiaInstaller | VenusInstaller)
        assert (installer.host_root, installer.spec_dir) == (str(tmp_path), "/etc/buildkit/cdi")


def test_from_config_writes_into_the_highest_priority_directory(tmp_path: Path) -> None:
    low, high = tmp_path / "low", tmp_path / "high"
    config = PolicyConfig(spec_dirs=(str(low), str(high)))
    policy = DevicePolicy.from_config(config, host_root=str(tmp_path))
    assert policy is not None
    installer = policy._installers["nvidia.com/gpu"]
    assert isinstance(installer, NvidiaInstaller)
    assert (installer.host_root, installer.spec_path) == (str(tmp_path), f"{high}/nvidia.yaml")


def test_nothing_on_demand_on_this_host(tmp_path: Path) -> None:
    """The real host of the test run: listed only where it has an NVIDIA driver or GPU."""
    policy = DevicePolicy.from_config(PolicyConfig(spec_dirs=(str(tmp_path),)))
    assert policy is not None
    try:
        NvidiaInstaller("/", spec_dir=str(tmp_path)).validate()
        expected = [("nvidia.com/gpu", True, True)]
    except InstallerError:
        expected = []
    assert [(i.name, i.auto_allow, i.on_demand) for i in policy.list_devices()] == expected


@requires_root
def test_inspect_lists_the_on_demand_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = _gpu_host(tmp_path)
    spec_dir = str(tmp_path / "cdi")
    runner = CliRunner()
    text = runner.invoke(main, ["--spec-dir", spec_dir, "inspect", "--host-root", str(host)])
    assert text.exit_code == 0, text.output
    assert text.output == "Devices:\n Name:      nvidia.com/gpu\n On-Demand: true\n"
    monkeypatch.setenv("CDI_HOST_ROOT", str(host))
    as_json = runner.invoke(main, ["--spec-dir", spec_dir, "inspect", "-o", "json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output) == [
        {"name": "nvidia.com/gpu", "autoAllow": True, "onDemand": True, "annotations": {}}
    ]


def test_inspect_on_a_host_without_gpus(tmp_path: Path) -> None:
    host = tmp_path / "host"
    (host / "sys/bus/pci/devices").mkdir(parents=True)
    result = CliRunner().invoke(
        main, ["--spec-dir", str(tmp_path / "cdi"), "inspect", "--host-root", str(host)]
    )
    assert result.exit_code == 0, result.output
    assert result.output == "No devices.\n"


# -- on-demand rules (ondemand.yaml) ---------------------------------------------------------


class FakeInstaller:
    """Writes a spec as the real installers do: devices of the kind, the auto-allow
    annotation when persisting; counts its runs."""

    def __init__(self, kind: str, spec_dir: Path, settings: Mapping[str, Any]) -> None:
        self.kind = kind
        self.spec_dir = spec_dir
        self.host_ok = settings.get("host_ok", True)
        self.devices = settings.get("devices", ["0", "GPU-4f2a", "all"])
        self.persist = settings.get("persist", True)
        self.fail = settings.get("fail")
        self.runs = 0

    def validate(self) -> None:
        if not self.host_ok:
            raise InstallerError("no NVIDIA devices found")

    def run(self, progress: ProgressCallback) -> None:
        self.runs += 1
        if self.fail:
            raise InstallerError(self.fail)
        devices = tuple(
            Device(name, container_edits=ContainerEdits(env=(f"DEVICE={name}",)))
            for name in self.devices
        )
        annotations = {AUTOALLOW_ANNOTATION: "true"} if self.persist else {}
        spec = Spec(cdi_version="", kind=self.kind, annotations=annotations, devices=devices)
        spec = Spec(
            cdi_version=minimum_version(spec),
            kind=self.kind,
            annotations=annotations,
            devices=devices,
        )
        write_spec(spec, self.spec_dir, self.kind.replace("/", "-") + ".yaml")


def _pairs(requests: list[DeviceRequest]) -> list[list[Any]]:
    return [[request.name, request.optional] for request in requests]


@cases("policy/ondemand.yaml")
def test_on_demand(case: dict[str, Any], tmp_path: Path) -> None:
    spec_dir = tmp_path / "cdi"
    kinds = case.get("kinds", {"nvidia.com/gpu": {}})
    installers = {kind: FakeInstaller(kind, spec_dir, kinds[kind] or {}) for kind in kinds}

    def new_policy() -> DevicePolicy:
        return DevicePolicy(Registry([spec_dir]), installers=installers)

    policy = new_policy()
    for number, step in enumerate(case["steps"], 1):
        where = f"step {number}"
        if step.get("restart"):
            policy = new_policy()
        if "list" in step:
            listed = [[i.name, i.auto_allow, i.on_demand] for i in policy.list_devices()]
            assert listed == step["list"], where
        requests = [DeviceRequest(name, optional) for name, optional in step["requests"]]
        entitlements = parse_entitlements(step["allow"]) if "allow" in step else None
        if "error" in step:
            with pytest.raises(CDIError) as caught:
                policy.authorize(requests, entitlements)
            assert str(caught.value) == step["error"], where
            continue
        authorized = policy.authorize(requests, entitlements)
        assert _pairs(authorized) == step["authorized"], where
        before = {kind: installer.runs for kind, installer in installers.items()}
        if "prepare_error" in step:
            with pytest.raises(CDIError) as caught:
                policy.prepare(authorized)
            assert str(caught.value) == step["prepare_error"], where
            continue
        policy.prepare(authorized)
        installed = [kind for kind, i in sorted(installers.items()) if i.runs > before[kind]]
        assert installed == step.get("installs", []), where
        assert policy.find_devices(authorized) == step["resolved"], where
