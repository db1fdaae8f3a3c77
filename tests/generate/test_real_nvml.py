"""The real NVML path without a GPU: pynvml loading a stand-in libnvidia-ml.so.1.

``examples/gpu-host/libnvidia-ml.c`` implements the NVML calls the generator makes, answering
from a file beside the library. Installed in a fixture driver root as
``libnvidia-ml.so.<version>`` (with its ``libnvidia-ml.so.1`` link), it is found, loaded and
called exactly as NVIDIA's library would be: ``cdi generate nvidia`` runs as a process of its
own, nothing patched, and must print the same spec as the library with the tests' fake NVML
of the same GPUs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cdi.generate.nvidia import generate
from cdi.generate.options import Options
from cdi.generate.output import render
from generate.fakenvml import (
    DEFAULT_CUDA,
    DEFAULT_DRIVER,
    DEFAULT_NAME,
    FakeNvml,
    gpu_uuid,
    raw_bus_id,
)
from generate.nvidiaroot import build_nvidia_root
from needs import unavailable

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the fixture's nodes need mknod")
SOURCE = Path(__file__).parents[2] / "examples" / "gpu-host" / "libnvidia-ml.c"


def install_libnvidia_ml(library: Path, gpus: int) -> None:
    """Compile the stand-in over *library* and describe *gpus* GPUs as FakeNvml does."""
    if shutil.which("cc") is None:
        unavailable("no C compiler to build the stand-in libnvidia-ml")
    library.unlink(missing_ok=True)
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-O2", "-o", str(library), str(SOURCE), "-ldl"], check=True
    )
    lines = [f"driver {DEFAULT_DRIVER}", f"cuda {DEFAULT_CUDA}"]
    lines += [f"gpu {gpu_uuid(i)} {i} {raw_bus_id(i)} {DEFAULT_NAME}" for i in range(gpus)]
    Path(f"{library}.conf").write_text("\n".join(lines) + "\n")
    link = library.with_name("libnvidia-ml.so.1")
    if not link.is_symlink():
        link.symlink_to(library.name)


HOOK = "/usr/local/bin/cdi-hook"


def cdi_generate(root: str, *flags: str) -> subprocess.CompletedProcess[str]:
    """``cdi generate nvidia`` as a process of its own, for the fixture host at *root* (its
    ``sys/`` and ``proc/`` standing for the host's), with nothing patched."""
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "cdi"),
            "generate",
            "nvidia",
            f"--driver-root={root}",
            f"--sysfs-root={root}/sys",
            f"--procfs-root={root}/proc",
            *flags,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={"PATH": os.environ["PATH"]},
    )


def fake_spec(root: str, gpus: int) -> str:
    """What the library prints for the same host with the tests' fake NVML."""
    options = Options(
        driver_root=root, sysfs_root=f"{root}/sys", procfs_root=f"{root}/proc", hook_path=HOOK
    )
    return render(generate(options, nvml=FakeNvml.with_gpus(gpus)), "yaml").decode()


@pytest.mark.parametrize("gpus", [1, 2])
def test_cli_through_pynvml_matches_the_fake(tmp_path: Path, gpus: int) -> None:
    info = build_nvidia_root(tmp_path / "root", gpus=gpus, library_set="full")
    install_libnvidia_ml(info.host(f"{info.lib_dir}/libnvidia-ml.so.{info.version}"), gpus)
    result = cdi_generate(info.driver_root, f"--hook-path={HOOK}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == fake_spec(info.driver_root, gpus)


def test_an_out_of_range_device_id_is_nvmls_error(tmp_path: Path) -> None:
    info = build_nvidia_root(tmp_path / "root", gpus=1)
    install_libnvidia_ml(info.host(f"{info.lib_dir}/libnvidia-ml.so.{info.version}"), 1)
    result = cdi_generate(info.driver_root, "--device-id=3")
    assert result.returncode == 1
    last = result.stderr.splitlines()[-1]
    assert last == "Error: failed to get device handle from index: ERROR_INVALID_ARGUMENT"


def test_the_built_in_table_matches_the_fake(tmp_path: Path) -> None:
    """The fixture GPU host's stand-in has its table compiled in (a container mounts only
    the library): the spec generated through it is the fake NVML's, with no file beside it."""
    from gpuhost import build_gpu_host

    host = build_gpu_host(tmp_path / "host", gpus=2)
    assert not Path(f"{host.nvml_library}.conf").exists()
    result = cdi_generate(str(host.root), f"--hook-path={HOOK}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == fake_spec(str(host.root), 2)
