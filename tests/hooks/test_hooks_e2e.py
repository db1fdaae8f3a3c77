"""A generated NVIDIA spec with all its hooks, under real runc, with cdi-hook as the hook.

The fixture driver root holds real shared objects with SONAMEs; the spec mounts them and
calls ``create-symlinks``, ``enable-cuda-compat``, ``update-ldcache``,
``disable-device-node-modification`` and ``update-application-profile`` through the static
launcher. In the container the SONAME and ``.so`` links exist, its ``/etc/ld.so.cache``
(read back and parsed with our own reader) lists the libraries, and the application profile
names the GPU.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import cdi
from cdi.generate.ldcache import parse_ldcache
from cdi.generate.nvidia import generate
from cdi.generate.options import Options
from cdi.generate.output import write_output
from cdi.runtime import default_oci_spec
from generate.fakenvml import FakeNvml
from generate.nvidiaroot import build_nvidia_root
from runctools import run_for_output

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.usefixtures("require_runtime"),
    pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root"),
]

SCRIPT = (
    "readlink {lib}/libcuda.so.1; readlink {lib}/libcuda.so; cat /etc/ld.so.cache > /cache.out;"
    " cat /etc/nvidia/nvidia-application-profiles-rc.d/10-container.conf"
)


@pytest.mark.parametrize("hook", ["launcher", "console script"])
def test_generated_hooks_run_under_runc(
    tmp_path: Path, fresh_rootfs: Path, hook: str, request: pytest.FixtureRequest
) -> None:
    if hook == "launcher":
        hook_path = request.getfixturevalue("hook_launcher")
    else:  # what `--hook-path $(which cdi-hook)` names in this environment
        hook_path = Path(sys.executable).parent / "cdi-hook"
    info = build_nvidia_root(tmp_path / "driver", gpus=1, library_set="full", drm=False)
    options = Options(
        driver_root=info.driver_root,
        sysfs_root=info.sysfs_root,
        procfs_root=info.procfs_root,
        hook_path=str(hook_path),
    )
    spec = generate(options, nvml=FakeNvml.with_gpus(1))
    assert {hook.args[1] for hook in spec.container_edits.hooks} == {
        "create-symlinks",
        "enable-cuda-compat",
        "update-ldcache",
        "disable-device-node-modification",
        "update-application-profile",
    }
    spec_dir = tmp_path / "cdi"
    write_output(spec, str(spec_dir / "nvidia.yaml"), "yaml")
    with cdi.Registry([spec_dir]) as registry:
        script = SCRIPT.format(lib=info.lib_dir)
        oci = registry.inject(default_oci_spec(["sh", "-c", script]), ["nvidia.com/gpu=0"])
    status, lines = run_for_output(oci, fresh_rootfs, tmp_path)
    assert status == 0, lines
    assert lines[:2] == ["libcuda.so.999.88.77", "libcuda.so.1"]
    assert '"EGLVisibleDGPUDevices"' in lines[2] and "0x1" in lines[2]
    cache = parse_ldcache((fresh_rootfs / "cache.out").read_bytes())
    cached = set(cache.libraries64)
    assert f"{info.lib_dir}/libcuda.so.1" in cached
    assert f"{info.lib_dir}/libnvidia-ml.so.1" in cached
