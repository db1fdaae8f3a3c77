"""The ids a prepare returns, injected as a container runtime would, under real runc: the
container gets the device's edits and the claim's ``RESOURCE_CLAIM`` variable.

The kubelet hands the ids to containerd or CRI-O in the CRI request; they resolve them in the
CDI root with the Go library and edit the OCI spec. Here ``cdi.Registry`` over the same CDI
root does the resolving (the two agree on spec files: the project's principle 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dratools import DRIVER, KIND, Node, claim, new_node, new_watcher, result, write_device_spec
from fakewatcher import FakeWatcher

import cdi
from cdi.runtime import default_oci_spec
from runctools import run_for_output

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("require_runtime")]

UID = "3e5c2b7a-8d1f-4f0e-b9a6-2c4d6e8f0a1b"


@pytest.fixture
def node() -> Iterator[Node]:
    with new_node() as found:
        # A device whose edits the container can see: env and a bind-mounted file.
        data = found.root / "gpu0-info"
        data.write_text("gpu0 of node-1\n")
        write_device_spec(
            found.spec_dir,
            {
                "cdiVersion": "0.6.0",
                "kind": KIND,
                "containerEdits": {"env": ["VENDOR_DRIVER=1"]},
                "devices": [
                    {
                        "name": "gpu0",
                        "containerEdits": {
                            "env": ["GPU=gpu0"],
                            "mounts": [
                                {
                                    "hostPath": str(data),
                                    "containerPath": "/run/gpu-info",
                                    "options": ["ro", "bind"],
                                }
                            ],
                        },
                    },
                    {"name": "gpu1", "containerEdits": {"env": ["GPU=gpu1"]}},
                ],
            },
        )
        yield found


@pytest.fixture
def watcher(node: Node) -> Iterator[FakeWatcher]:
    with new_watcher(node) as found:
        yield found


def test_prepared_ids_give_the_container_its_device(
    node: Node, watcher: FakeWatcher, fresh_rootfs: Path, tmp_path: Path
) -> None:
    node.claims.put(claim("one", UID, [result("gpu0")]))
    response = watcher.register("v1").prepare([("default", UID, "one")])
    assert response.claims[UID].error == ""
    ids = [i for device in response.claims[UID].devices for i in device.cdi_device_ids]
    assert ids == [f"k8s.{DRIVER}/claim={UID}-gpu0"]

    registry = cdi.Registry([node.cdi_root])
    oci = registry.inject(default_oci_spec(["sh", "-c", "env | sort; cat /run/gpu-info"]), ids)
    status, lines = run_for_output(oci, fresh_rootfs, tmp_path)
    assert status == 0, lines
    assert {"VENDOR_DRIVER=1", "GPU=gpu0", f"GPU0_RESOURCE_CLAIM={UID}"} <= set(lines)
    assert "GPU=gpu1" not in lines
    assert lines[-1] == "gpu0 of node-1"

    # Unprepared, the ids resolve no more: a container of the claim can no longer start.
    assert watcher.register("v1").unprepare([("default", UID, "one")]).claims[UID].error == ""
    registry.refresh()
    with pytest.raises(cdi.UnresolvableDevicesError):
        registry.inject(default_oci_spec(["true"]), ids)
