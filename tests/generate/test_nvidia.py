"""The generator as a whole (cdi.generate.nvidia): mode resolution, NVML's lifetime, the
8-GPU host, and that every mode's spec loads and validates.

Byte-for-byte output is pinned by test_golden.py; these tests state the rules that hold
for any host.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import cdi
from cdi.generate import nvidia
from cdi.generate.nvidia import generate, resolve_mode
from cdi.generate.nvml import NvmlError
from cdi.generate.options import Options
from cdi.generate.output import render
from generate.fakenvml import FakeNvml, gpu_uuid
from generate.fixtures import write_file
from generate.nvidiaroot import build_nvidia_root

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the fixture's nodes need mknod")


def options_for(root: Path, **changes: object) -> Options:
    return Options(
        driver_root=str(root), sysfs_root=f"{root}/sys", procfs_root=f"{root}/proc", **changes
    )  # type: ignore[arg-type]


def test_eight_gpus_full_library_set(tmp_path: Path) -> None:
    info = build_nvidia_root(tmp_path / "root", gpus=8, library_set="full")
    nvml = FakeNvml.with_gpus(8)
    spec = generate(options_for(tmp_path / "root"), nvml=nvml)

    names = [device.name for device in spec.devices]
    assert names == sorted(names)  # byte order: "0" < ... < "7" < "GPU-..." < "all"
    assert set(names) == {str(i) for i in range(8)} | {gpu_uuid(i) for i in range(8)} | {"all"}
    for index in range(8):
        by_index, by_uuid = spec.get_device(str(index)), spec.get_device(gpu_uuid(index))
        assert by_index is not None and by_uuid is not None
        assert by_index.container_edits == by_uuid.container_edits
        paths = [node.path for node in by_index.container_edits.device_nodes]
        card, render_node = info.drm_nodes[index]
        assert paths == [f"/dev/nvidia{index}", f"/dev/dri/{card}", f"/dev/dri/{render_node}"]
    everything = spec.get_device("all")
    assert everything is not None
    assert len(everything.container_edits.device_nodes) == 8 * 3
    mounted = {mount.container_path for mount in spec.container_edits.mounts}
    # Every 64-bit library file of the install but libnvidia-api.so.1, whose version is not
    # the driver's: nvidia-ctk mounts it only with enable-explicit-driver-libraries.
    assert set(info.libraries) - mounted == {f"{info.lib_dir}/libnvidia-api.so.1"}
    assert not any("i386" in path for path in mounted)  # and never the 32-bit copies
    assert set(info.binaries) <= mounted
    assert spec.cdi_version == "0.7.0"  # the cards' video group goes to additionalGids
    assert (nvml.init_count, nvml.shutdown_count) == (1, 1)
    assert cdi.parse_spec(render(spec, "yaml")) == spec
    assert cdi.parse_spec(render(spec, "json")) == spec


def test_nvml_is_shut_down_when_generation_fails(tmp_path: Path) -> None:
    build_nvidia_root(tmp_path / "root", gpus=1)
    nvml = FakeNvml.with_gpus(1)
    with pytest.raises(cdi.CDIError, match="failed to get device handle from index"):
        generate(options_for(tmp_path / "root", device_ids=("3",)), nvml=nvml)
    assert (nvml.init_count, nvml.shutdown_count) == (1, 1)


def test_nvml_that_fails_to_initialise(tmp_path: Path) -> None:
    build_nvidia_root(tmp_path / "root", gpus=1)
    nvml = FakeNvml.with_gpus(1, fail={"init": "ERROR_DRIVER_NOT_LOADED"})
    with pytest.raises(cdi.CDIError) as caught:
        generate(options_for(tmp_path / "root", mode="nvml"), nvml=nvml)
    assert str(caught.value) == "failed to initialize NVML: ERROR_DRIVER_NOT_LOADED"


def test_nvml_factory_gets_the_roots_own_library(tmp_path: Path) -> None:
    info = build_nvidia_root(tmp_path / "root", gpus=1, library_set="full")
    asked: list[tuple[str, list[str]]] = []

    def factory(root: str, paths: list[str]) -> FakeNvml:
        asked.append((root, paths))
        return FakeNvml.with_gpus(1)

    generate(options_for(tmp_path / "root"), nvml_factory=factory)
    library = f"{info.driver_root}{info.lib_dir}/libnvidia-ml.so.999.88.77"
    assert asked == [(info.driver_root, [library])]


class _Session:
    def __init__(self, nvml: FakeNvml | None) -> None:
        self.nvml = nvml

    def available(self) -> bool:
        return self.nvml is not None

    def get(self) -> FakeNvml:
        if self.nvml is None:
            raise NvmlError("ERROR_LIBRARY_NOT_FOUND")
        self.nvml.init()
        return self.nvml


@pytest.mark.parametrize(
    ("tegra", "nvml_names", "mode"),
    [
        (False, None, "nvml"),  # nothing found: nvml, with a warning
        (False, ["NVIDIA A100-SXM4-40GB"], "nvml"),
        (True, None, "csv"),  # Tegra without NVML
        (True, ["NVIDIA A100-SXM4-40GB"], "nvml"),  # Tegra files but a discrete GPU
        (True, ["Orin (nvgpu)"], "csv"),  # an integrated GPU
        (False, ["NVIDIA Thor"], "csv"),
    ],
)
def test_auto_mode(tmp_path: Path, tegra: bool, nvml_names: list[str] | None, mode: str) -> None:
    if tegra:
        write_file(tmp_path / "etc/nv_tegra_release", "# R36\n")
    nvml = None
    if nvml_names is not None:
        nvml = FakeNvml.with_gpus(len(nvml_names), names=dict(enumerate(nvml_names)))
    session = _Session(nvml)
    assert resolve_mode(options_for(tmp_path), session) == mode  # type: ignore[arg-type]


def test_auto_mode_picks_wsl_for_a_root_with_dxcore(tmp_path: Path) -> None:
    write_file(tmp_path / "usr/lib/wsl/lib/libdxcore.so")
    assert resolve_mode(options_for(tmp_path), _Session(None)) == "wsl"  # type: ignore[arg-type]


def test_an_explicit_mode_is_kept(tmp_path: Path) -> None:
    write_file(tmp_path / "usr/lib/wsl/lib/libdxcore.so")
    options = options_for(tmp_path, mode="management")
    assert resolve_mode(options, _Session(None)) == "management"  # type: ignore[arg-type]


def test_feature_flag_spellings(tmp_path: Path) -> None:
    options = nvidia.checked_options(
        options_for(tmp_path, feature_flags=frozenset({"disable-nvsandbox-utils"}))
    )
    assert options.feature_flags == frozenset({"disable-nvsandboxutils"})


def test_firmware_from_the_kernels_custom_path_and_sockets_under_var_run(tmp_path: Path) -> None:
    root = tmp_path / "root"
    build_nvidia_root(root, gpus=1)
    write_file(root / "sys/module/firmware_class/parameters/path", "/opt/firmware\n")
    write_file(root / "opt/firmware/nvidia/999.88.77/gsp_ga10x.bin")
    write_file(root / "var/run/nvidia-fabricmanager/socket")
    spec = generate(options_for(root, disabled_hooks=("all",)), nvml=FakeNvml.with_gpus(1))
    mounts = {mount.container_path: mount for mount in spec.container_edits.mounts}
    assert "/opt/firmware/nvidia/999.88.77/gsp_ga10x.bin" in mounts
    socket = mounts["/var/run/nvidia-fabricmanager/socket"]
    assert socket.options == ("nosuid", "nodev", "rbind", "rprivate", "noexec")  # writable
