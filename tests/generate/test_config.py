"""The default driver root from the toolkit's config.toml (cdi.generate.config)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cdi.cli.main import main
from cdi.generate import nvml as nvml_module
from cdi.generate.config import ConfigError, config_path, configured_driver_root
from generate.fakenvml import FakeNvml
from generate.nvidiaroot import build_nvidia_root


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    assert configured_driver_root(str(tmp_path / "config.toml")) == ""


@pytest.mark.parametrize(
    ("text", "root"),
    [
        ('[nvidia-container-cli]\nroot = "/run/nvidia/driver"\n', "/run/nvidia/driver"),
        ('[nvidia-container-cli]\nldconfig = "@/sbin/ldconfig"\n', ""),
        ('disable-require = false\n[nvidia-container-runtime]\nmode = "cdi"\n', ""),
    ],
)
def test_root_setting(tmp_path: Path, text: str, root: str) -> None:
    (tmp_path / "config.toml").write_text(text)
    assert configured_driver_root(str(tmp_path / "config.toml")) == root


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[nvidia-container-cli\n", "failed to load config {path}: Expected ']' at the end of"),
        ("[nvidia-container-cli]\nroot = 1\n", "nvidia-container-cli.root is not a string"),
    ],
)
def test_bad_files_are_errors(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        configured_driver_root(str(path))
    assert error.format(path=path) in str(caught.value)


def test_path_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NVIDIA_CTK_CONFIG", raising=False)
    assert config_path() == "/etc/nvidia-container-runtime/config.toml"
    monkeypatch.setenv("NVIDIA_CTK_CONFIG", "/etc/toolkit.toml")
    assert config_path() == "/etc/toolkit.toml"
    assert config_path("/given.toml") == "/given.toml"


@pytest.mark.skipif(os.geteuid() != 0, reason="the fixture's nodes need mknod")
def test_the_command_takes_the_driver_root_from_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = build_nvidia_root(tmp_path / "driver", gpus=1)
    config = tmp_path / "config.toml"
    config.write_text(f'[nvidia-container-cli]\nroot = "{info.driver_root}"\n')
    fake = FakeNvml.with_gpus(1)
    monkeypatch.setattr(nvml_module, "open_nvml", lambda *_args: fake)
    args = ["generate", "nvidia", f"--config={config}", f"--sysfs-root={info.sysfs_root}"]
    result = CliRunner().invoke(main, [*args, "--disable-hook=all", "--format=json"])
    assert result.exit_code == 0, result.stderr
    assert f'"hostPath":"{info.driver_root}/dev/nvidia0"' in result.stdout
    # An explicit --driver-root wins over the configuration.
    result = CliRunner().invoke(main, [*args, "--driver-root", str(tmp_path / "empty")])
    assert result.exit_code == 1
    assert (
        f"no libcuda.so.999.88.77 or libnvidia-ml.so.999.88.77 in {tmp_path}/empty" in result.stderr
    )
