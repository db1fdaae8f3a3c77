"""Device policy: on-demand installers, injection through the policy, buildkitd config."""

from __future__ import annotations

from pathlib import Path

import pytest

import cdi
from cdi.policy import (
    DEFAULT_SPEC_DIRS,
    DevicePolicy,
    DeviceRequest,
    InjectionFailedError,
    InstallerError,
    PolicyConfig,
    ProgressCallback,
    load_config,
)
from cdi.policy.config import ConfigError
from cdi.registry import Registry

GPU = "example.com/gpu"


class SpecWritingInstaller:
    """An on-demand installer that writes a spec with devices 0 and all into a registry."""

    def __init__(self, registry: Registry, host_ok: bool = True, fails: bool = False) -> None:
        self.kind = GPU
        self.registry = registry
        self.host_ok = host_ok
        self.fails = fails
        self.runs = 0

    def validate(self) -> None:
        if not self.host_ok:
            raise InstallerError("no example GPUs found")

    def run(self, progress: ProgressCallback) -> None:
        self.runs += 1
        progress("> generating example.com/gpu spec")
        if self.fails:
            raise InstallerError("generator exited 1")
        edits = cdi.ContainerEdits(env=("GPU=0",))
        spec = cdi.Spec(
            "0.5.0",
            GPU,
            devices=(
                cdi.Device("0", container_edits=edits),
                cdi.Device("all", container_edits=edits),
            ),
        )
        cdi.write_spec(spec, self.registry.spec_dirs()[-1], "example-gpu.yaml")


def _policy(tmp_path: Path, **installer_options: bool) -> tuple[DevicePolicy, SpecWritingInstaller]:
    registry = Registry([tmp_path / "etc", tmp_path / "run"])
    installer = SpecWritingInstaller(registry, **installer_options)
    return DevicePolicy(registry, installers={GPU: installer}), installer


def test_on_demand_kind_is_listed_until_installed(tmp_path: Path) -> None:
    policy, installer = _policy(tmp_path)
    assert [(d.name, d.on_demand, d.auto_allow) for d in policy.list_devices()] == [
        (GPU, True, True)
    ]
    lines: list[str] = []
    policy.prepare([DeviceRequest(GPU)], lines.append)
    assert lines == ["preparing device example.com/gpu", "> generating example.com/gpu spec"]
    assert installer.runs == 1
    # Installed: the devices are listed, auto-allowed (in memory), and the kind is no longer
    # offered on demand.
    listed = policy.list_devices()
    assert [(d.name, d.on_demand, d.auto_allow) for d in listed] == [
        (f"{GPU}=0", False, True),
        (f"{GPU}=all", False, True),
    ]
    policy.prepare([DeviceRequest(f"{GPU}=all")], lines.append)
    assert installer.runs == 1


def test_optional_on_demand_request_builds_after_prepare(tmp_path: Path) -> None:
    policy, _ = _policy(tmp_path)
    step = policy.authorize([DeviceRequest(f"{GPU}=all", optional=True)], None)
    assert step == [DeviceRequest(GPU)]
    policy.prepare(step)
    injected = policy.inject({"process": {"env": ["PATH=/bin"]}}, step)
    assert injected["process"]["env"] == ["PATH=/bin", "GPU=0"]


def test_installer_host_check_failure(tmp_path: Path) -> None:
    policy, installer = _policy(tmp_path, host_ok=False)
    assert policy.list_devices() == []
    with pytest.raises(InstallerError) as caught:
        policy.prepare([DeviceRequest(GPU)])
    assert str(caught.value) == (
        "failed to find preconditions for example.com/gpu device: no example GPUs found"
    )
    assert installer.runs == 0


def test_installer_run_failure(tmp_path: Path) -> None:
    policy, _ = _policy(tmp_path, fails=True)
    with pytest.raises(InstallerError) as caught:
        policy.prepare([DeviceRequest(GPU)])
    assert str(caught.value) == "failed to create example.com/gpu device: generator exited 1"
    assert policy.registry.list_devices() == []


def test_inject_resolves_requests_and_leaves_the_input_alone(tmp_path: Path) -> None:
    spec_dir = tmp_path / "cdi"
    edits = cdi.ContainerEdits(env=("FOO=injected",))
    spec = cdi.Spec(
        "0.3.0", "vendor1.com/device", devices=(cdi.Device("foo", container_edits=edits),)
    )
    cdi.write_spec(spec, spec_dir)
    policy = DevicePolicy(Registry([spec_dir]))
    oci = {"process": {"env": ["A=1"]}}
    result = policy.inject(oci, [DeviceRequest("vendor1.com/device")])
    assert result["process"]["env"] == ["A=1", "FOO=injected"]
    assert oci == {"process": {"env": ["A=1"]}}
    untouched = policy.inject(oci, [DeviceRequest("vendor2.com/device=x", optional=True)])
    assert untouched == oci and untouched is not oci
    with pytest.raises(InjectionFailedError) as caught:
        policy.inject(oci, [DeviceRequest("vendor2.com/device=x")])
    assert str(caught.value) == (
        'CDI device injection failed: required device "vendor2.com/device=x" is not registered'
    )


def test_config_from_buildkitd_toml(tmp_path: Path) -> None:
    path = tmp_path / "buildkitd.toml"
    path.write_text(
        'debug = true\n[cdi]\n  specDirs = ["/a", "/b"]\n  autoAllowed = ["vendor1.com/device"]\n'
    )
    assert load_config(path) == PolicyConfig(False, ("/a", "/b"), ("vendor1.com/device",))
    path.write_text("[cdi]\n  disabled = true\n  specDirs = []\n")
    assert load_config(path) == PolicyConfig(True, DEFAULT_SPEC_DIRS, ())
    path.write_text("[worker.oci]\n  enabled = true\n")
    assert load_config(path) == PolicyConfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[cdi]\nspecDirs = '/etc/cdi'\n", "[cdi] specDirs must be a list of strings"),
        ("[cdi]\ndisabled = 'yes'\n", "[cdi] disabled must be true or false"),
        ("cdi = 1\n", "[cdi] must be a table"),
        ("[cdi\n", "failed to parse"),
    ],
)
def test_config_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "buildkitd.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(path)


def test_policy_from_config(tmp_path: Path) -> None:
    assert DevicePolicy.from_config(PolicyConfig(disabled=True)) is None
    with pytest.raises(cdi.CDIError, match="no CDI specification directories specified"):
        DevicePolicy.from_config(PolicyConfig(spec_dirs=()))
    policy = DevicePolicy.from_config(PolicyConfig(spec_dirs=(str(tmp_path),)))
    assert policy is not None and policy.registry.spec_dirs() == [str(tmp_path)]
