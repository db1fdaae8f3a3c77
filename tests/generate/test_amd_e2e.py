"""A generated AMD spec used for real: injected by the registry and run under runc.

The fake host has real character device nodes with an AMD GPU's numbers (renderD128 is
226:128, ``/dev/kfd`` a dynamic major); a container started with ``amd.com/gpu=0`` must see
both nodes with those numbers, and not the other GPU's.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import cdi
from cdi.generate.amd import generate_amd
from cdi.generate.output import write_output
from cdi.runtime import default_oci_spec
from generate.amdtree import KFD_MAJOR, build_case
from runctools import run_for_output

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.usefixtures("require_runtime"),
    pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root"),
]


def test_container_sees_the_generated_gpu_nodes(tmp_path: Path, fresh_rootfs: Path) -> None:
    tree = build_case(
        tmp_path / "host",
        {
            "gpus": [
                {"pci": "0000:03:00.0", "drm": ["card1", "renderD128"]},
                {"pci": "0000:83:00.0", "drm": ["card2", "renderD129"]},
            ]
        },
    )
    spec_dir = tmp_path / "cdi"
    spec = generate_amd(sysfs_root=str(tree.sysfs), dev_root=str(tree.dev))
    write_output(spec, str(spec_dir / "amd.json"), "json")

    with cdi.Registry([spec_dir]) as registry:
        assert "amd.com/gpu=0" in registry.list_devices()
        oci = registry.inject(
            default_oci_spec(
                [
                    "sh",
                    "-c",
                    "stat -c '%t %T' /dev/dri/renderD128 /dev/kfd;"
                    " test -e /dev/dri/renderD129 || echo no renderD129",
                ]
            ),
            ["amd.com/gpu=0"],
        )
    status, lines = run_for_output(oci, fresh_rootfs, tmp_path)
    assert status == 0, lines
    assert lines == ["e2 80", f"{KFD_MAJOR:x} 0", "no renderD129"]
