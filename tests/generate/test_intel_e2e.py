"""A generated Intel GPU spec used for real: injected by the registry and run under runc.

The fake host has an i915 GPU with real DRM nodes (226:1 and 226:128) and udev's by-path
links; a container started with ``intel.com/gpu=card1`` must see both nodes with those
numbers, and the by-path names bound to the same nodes (the ``type: none`` bind mounts).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import cdi
from cdi.generate.intel import generate_intel
from cdi.generate.output import write_output
from cdi.runtime import default_oci_spec
from generate.inteltree import IntelTree
from runctools import run_for_output

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.usefixtures("require_runtime"),
    pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root"),
]

BY_PATH = "/dev/dri/by-path/pci-0000:03:00.0"


def test_container_sees_the_generated_gpu_nodes(tmp_path: Path, fresh_rootfs: Path) -> None:
    tree = IntelTree(tmp_path / "host")
    tree.pci("0000:03:00.0", drm=["card1", "renderD128"], by_path=True)
    (spec,) = generate_intel("gpu", sysfs_root=str(tree.sys), dev_root=str(tree.dev))
    spec_dir = tmp_path / "cdi"
    write_output(spec, str(spec_dir / "intel.com-gpu.yaml"), "yaml")

    with cdi.Registry([spec_dir]) as registry:
        assert registry.list_devices() == ["intel.com/gpu=card1"]
        oci = registry.inject(
            default_oci_spec(
                [
                    "sh",
                    "-c",
                    "stat -c '%n %F %t %T' /dev/dri/card1 /dev/dri/renderD128"
                    f" {BY_PATH}-card {BY_PATH}-render",
                ]
            ),
            ["intel.com/gpu=card1"],
        )
    status, lines = run_for_output(oci, fresh_rootfs, tmp_path)
    assert status == 0, lines
    assert lines == [
        "/dev/dri/card1 character special file e2 1",
        "/dev/dri/renderD128 character special file e2 80",
        f"{BY_PATH}-card character special file e2 1",
        f"{BY_PATH}-render character special file e2 80",
    ]
