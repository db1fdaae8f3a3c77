"""What the device plugin's answer gives a container under real runc.

A fake kubelet asks the plugin to allocate; the CDI names it answers are injected, as a
runtime would, with :meth:`cdi.Registry.inject` into a busybox spec, and the container must
see the device's node and environment -- and nothing of the device it was not given.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakekubelet import FakeKubelet
from pluginrun import RunningPlugin

import cdi
from cdi.annotations import parse_annotations
from cdi.kubelet.deviceplugin import DevicePluginConfig
from cdi.runtime import default_oci_spec
from runctools import run_for_output

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("require_runtime")]

# Host /dev/null stands in for the hardware: a character device (1, 3) on every host.
SPEC = """\
cdiVersion: 0.5.0
kind: example.com/accel
containerEdits:
  env: [ACCEL_DRIVER=fake]
devices:
  - name: accel0
    containerEdits:
      env: [ACCEL_VISIBLE=0]
      deviceNodes: [{path: /dev/accel0, hostPath: /dev/null}]
  - name: accel1
    containerEdits:
      env: [ACCEL_VISIBLE=1]
      deviceNodes: [{path: /dev/accel1, hostPath: /dev/null}]
"""


@pytest.fixture
def short_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="k", dir="/tmp"))  # socket paths must be short
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_allocated_names_give_the_container_its_device(
    short_root: Path, fresh_rootfs: Path, tmp_path: Path
) -> None:
    spec_dir, plugin_dir = short_root / "cdi", short_root / "dp"
    spec_dir.mkdir()
    (spec_dir / "accel.yaml").write_text(SPEC, encoding="utf-8")
    kubelet = FakeKubelet(str(plugin_dir))
    kubelet.start()
    plugin = RunningPlugin(
        DevicePluginConfig(
            kind="example.com/accel",
            resource_name="example.com/accel",
            strategies=("cdi-cri", "cdi-annotations"),
            spec_dirs=(str(spec_dir),),
            plugin_dir=str(plugin_dir),
            kubelet_poll=0.05,
        )
    )
    try:
        (request,) = kubelet.wait_for_registrations(1)
        with kubelet.dial(request.endpoint) as client:
            assert client.list_and_watch().next() == {"accel0": "Healthy", "accel1": "Healthy"}
            (answer,) = client.allocate(["accel1"]).container_responses
    finally:
        plugin.stop()
        kubelet.stop()
    names = [device.name for device in answer.cdi_devices]
    assert names == ["example.com/accel=accel1"]
    # The annotation path asks for the same device.
    assert parse_annotations(dict(answer.annotations))[1] == names

    with cdi.Registry([spec_dir]) as registry:
        oci = registry.inject(
            default_oci_spec(
                [
                    "sh",
                    "-c",
                    "stat -c '%F %t %T' /dev/accel1;"
                    " [ -e /dev/accel0 ] && echo accel0 || echo no accel0;"
                    " echo $ACCEL_DRIVER $ACCEL_VISIBLE",
                ]
            ),
            names,
        )
    status, lines = run_for_output(oci, fresh_rootfs, tmp_path)
    assert status == 0, lines
    assert lines == ["character special file 1 3", "no accel0", "fake 1"]
