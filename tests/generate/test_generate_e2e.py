"""A generated NVIDIA spec used for real: injected by the registry and run under runc.

The fixture root holds real character device nodes with NVIDIA's numbers and a real shared
object; a container started with ``nvidia.com/gpu=0`` must see the same node (major and
minor) and the library's bytes at the container path the spec names.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

import cdi
from cdi.generate.nvidia import generate
from cdi.generate.options import Options
from cdi.generate.output import write_output
from cdi.runtime import default_oci_spec
from generate.fakenvml import FakeNvml
from generate.fixtures import make_char_device, write_shared_object
from runctools import run_for_output

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.usefixtures("require_runtime"),
    pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root"),
]

LIBDIR = "/usr/lib/x86_64-linux-gnu"
VERSION = "999.88.77"


def driver_root(base: Path) -> Path:
    root = base / "driver"
    library = write_shared_object(
        root / LIBDIR.lstrip("/") / f"libcuda.so.{VERSION}", "libcuda.so.1"
    )
    (library.parent / "libcuda.so.1").symlink_to(library.name)
    make_char_device(root / "dev/nvidia0", 195, 0)
    make_char_device(root / "dev/nvidiactl", 195, 255)
    return root


def test_container_sees_the_generated_devices_and_libraries(
    tmp_path: Path, fresh_rootfs: Path
) -> None:
    root = driver_root(tmp_path)
    options = Options(
        driver_root=str(root),
        sysfs_root=str(root / "sys"),
        procfs_root=str(root / "proc"),
        # The hook binaries are the next step; without them runc would fail the container.
        disabled_hooks=("all",),
    )
    spec_dir = tmp_path / "cdi"
    write_output(
        generate(options, nvml=FakeNvml.with_gpus(1)), str(spec_dir / "nvidia.yaml"), "yaml"
    )

    with cdi.Registry([spec_dir]) as registry:
        assert "nvidia.com/gpu=0" in registry.list_devices()
        oci = registry.inject(
            default_oci_spec(
                [
                    "sh",
                    "-c",
                    f"stat -c '%F %t %T' /dev/nvidia0 /dev/nvidiactl;"
                    f" md5sum {LIBDIR}/libcuda.so.{VERSION}; echo $NVIDIA_VISIBLE_DEVICES",
                ]
            ),
            ["nvidia.com/gpu=0"],
        )
    status, lines = run_for_output(oci, fresh_rootfs, tmp_path)
    assert status == 0, lines
    library = root / LIBDIR.lstrip("/") / f"libcuda.so.{VERSION}"
    assert lines == [
        "character special file c3 0",
        "character special file c3 ff",
        f"{hashlib.md5(library.read_bytes()).hexdigest()}  {LIBDIR}/libcuda.so.{VERSION}",
        "void",
    ]
