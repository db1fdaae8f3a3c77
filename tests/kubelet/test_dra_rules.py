"""The DRA plugin's rules as tables: names (``kubelet/dra_names.yaml``, ``dra_driver_names``)
and what preparing a claim answers and writes (``kubelet/dra_prepare.yaml``)."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from dratools import DRIVER, short_dir

import cdi
from cdi.kubelet.claimplan import ClaimRef, PreparedDevice
from cdi.kubelet.claims import StaticClaimSource
from cdi.kubelet.claimspecs import (
    ClaimSpecs,
    DriverNameError,
    check_driver_name,
    claim_device_id,
    claim_device_name,
    claim_spec_file,
    resource_claim_env,
)
from cdi.kubelet.dra import DRAPlugin
from cdi.kubelet.log import AgentLog
from tables import cases, load_table

#: The node's spec of the prepare table, unless a case gives its own ``node_spec``.
NODE_SPEC: dict[str, Any] = {
    "cdiVersion": "0.6.0",
    "kind": "vendor.com/gpu",
    "containerEdits": {"env": ["VENDOR_DRIVER=1"]},
    "devices": [
        {"name": "gpu0", "containerEdits": {"env": ["GPU=gpu0"]}},
        {
            "name": "gpu1",
            "containerEdits": {
                "env": ["GPU=gpu1"],
                "deviceNodes": [{"path": "/dev/gpu1", "hostPath": "/dev/null"}],
                "mounts": [
                    {"hostPath": "/opt/gpu1", "containerPath": "/gpu", "options": ["ro", "bind"]}
                ],
            },
        },
        {"name": "gpu-2", "containerEdits": {"env": ["GPU=gpu-2"]}},
        {"name": "GPU_3", "containerEdits": {"env": ["GPU=GPU_3"]}},
    ],
}


@cases("kubelet/dra_names.yaml")
def test_claim_spec_names(case: dict[str, Any]) -> None:
    driver, uid, device = case["driver"], case["uid"], case["device"]
    assert claim_spec_file(driver, uid) == case["file"]
    assert claim_device_name(uid, device) == case["device_name"]
    assert claim_device_id(driver, uid, device) == case["id"]
    assert resource_claim_env(device, uid) == case["env"]


@cases("kubelet/dra_driver_names.yaml")
def test_driver_names(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(DriverNameError) as raised:
            check_driver_name(case["driver"])
        assert str(raised.value) == case["error"]
    else:
        assert check_driver_name(case["driver"]) == case["driver"]


@pytest.fixture
def root() -> Iterator[Path]:
    found = short_dir()
    try:
        yield found
    finally:
        shutil.rmtree(found, ignore_errors=True)


def _device(device: PreparedDevice) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "request_names": list(device.request_names),
        "pool_name": device.pool_name,
        "device_name": device.device_name,
        "cdi_device_ids": list(device.cdi_device_ids),
    }
    if device.share_id is not None:
        entry["share_id"] = device.share_id
    return entry


@cases("kubelet/dra_prepare.yaml")
def test_prepare(case: dict[str, Any], root: Path) -> None:
    spec_dir, cdi_root = root / "s", root / "c"
    spec = cdi.parse_spec(json.dumps(case.get("node_spec", NODE_SPEC)))
    cdi.write_spec(spec, spec_dir, "node.yaml")
    claim = case.get("claim")
    metadata = (claim or {}).get("metadata", {})
    named = {
        "namespace": metadata.get("namespace", "default"),
        "uid": metadata.get("uid", ""),
        "name": metadata.get("name"),
    }
    ref = ClaimRef(**(named | case.get("ref", {})))
    plugin = DRAPlugin(
        driver=case.get("driver", DRIVER),
        kind=case.get("kind", "vendor.com/gpu"),
        registry=cdi.Registry([spec_dir]),
        claims=StaticClaimSource([claim] if claim else []),
        specs=ClaimSpecs(cdi_root, case.get("driver", DRIVER)),
        log=AgentLog(stream=io.StringIO()),
    )
    answer = plugin.prepare([ref])
    assert list(answer) == [ref.uid]
    got = answer[ref.uid]
    files = sorted(path.name for path in cdi_root.iterdir()) if cdi_root.exists() else []
    if "error" in case:
        assert got.error == case["error"]
        assert got.devices == ()
        assert files == []
        return
    assert got.error == ""
    assert [_device(device) for device in got.devices] == case["response"]
    if case["spec"] is None:
        assert files == []
        return
    assert files == [claim_spec_file(plugin.driver, ref.uid)]
    written = yaml.safe_load((cdi_root / files[0]).read_text())
    assert written == case["spec"]
    # The spec is valid, and what the kubelet gets resolves in it.
    cdi.load_spec(cdi_root / files[0])
    registry = cdi.Registry([cdi_root])
    for device in got.devices:
        for cdi_id in device.cdi_device_ids:
            assert registry.get_device(cdi_id) is not None


#: The keys each table's loader reads: a misspelt one would be ignored silently.
TABLE_KEYS = {
    "kubelet/dra_names.yaml": {
        "name",
        "driver",
        "uid",
        "device",
        "file",
        "device_name",
        "id",
        "env",
    },
    "kubelet/dra_driver_names.yaml": {"name", "driver", "error"},
    "kubelet/dra_prepare.yaml": {
        *("name", "node_spec", "driver", "kind", "claim", "ref"),
        *("error", "response", "spec"),
    },
    "kubelet/dra_claims_file.yaml": {"name", "file", "content", "claims", "error"},
    "kubelet/dra_cli.yaml": {"name", "args", "files", "env", "status", "error"},
}


@pytest.mark.parametrize("table", sorted(TABLE_KEYS))
def test_every_case_has_only_keys_its_loader_reads(table: str) -> None:
    for case in load_table(table):
        assert set(case) <= TABLE_KEYS[table], case["name"]


def test_every_prepare_case_expects_something() -> None:
    for case in load_table("kubelet/dra_prepare.yaml"):
        assert ("error" in case) != ("response" in case and "spec" in case), case["name"]
