"""A spec from the generic generator used for real: injected by the registry, run under runc.

The fake dev tree holds a real character device node; a container started with
``example.com/fpga=0`` must see a node of the same numbers at ``/dev/fpga0``, and the spec's
own edits (an environment entry and a read-only bind mount) must reach it too.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import cdi
from cdi.generate.devices import generate_devices
from cdi.generate.output import write_output
from cdi.runtime import default_oci_spec
from generate.fixtures import make_char_device
from runctools import run_for_output

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.usefixtures("require_runtime"),
    pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root"),
]


def test_container_sees_the_generated_fpga_node(tmp_path: Path, fresh_rootfs: Path) -> None:
    dev = tmp_path / "dev"
    make_char_device(dev / "fpga0", 240, 7)
    make_char_device(dev / "fpga1", 240, 8)
    tools = tmp_path / "xrt"
    tools.mkdir()
    (tools / "version").write_text("2.16\n")
    spec = generate_devices(
        "example.com/fpga",
        device_globs=["/dev/fpga*"],
        env=["XILINX_XRT=/opt/xilinx/xrt"],
        mounts=[f"{tools}:/opt/xilinx/xrt"],
        dev_root=str(dev),
        sysfs_root=str(tmp_path / "sys"),
    )
    spec_dir = tmp_path / "cdi"
    write_output(spec, str(spec_dir / "fpga.yaml"), "yaml")

    with cdi.Registry([spec_dir]) as registry:
        assert registry.list_devices() == ["example.com/fpga=0", "example.com/fpga=1"]
        oci = registry.inject(
            default_oci_spec(
                [
                    "sh",
                    "-c",
                    "stat -c '%F %t %T' /dev/fpga0;"
                    " [ -e /dev/fpga1 ] && echo fpga1 || echo no fpga1;"
                    " echo $XILINX_XRT; cat /opt/xilinx/xrt/version;"
                    " touch /opt/xilinx/xrt/x 2>/dev/null || echo read-only",
                ]
            ),
            ["example.com/fpga=0"],
        )
    status, lines = run_for_output(oci, fresh_rootfs, tmp_path)
    assert status == 0, lines
    assert lines == [
        "character special file f0 7",  # stat prints the numbers in hex
        "no fpga1",  # only the device asked for
        "/opt/xilinx/xrt",
        "2.16",
        "read-only",
    ]
