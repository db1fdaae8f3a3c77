"""``transform root``: tests/vectors/generate/transform_root.yaml."""

from __future__ import annotations

from typing import Any

import pytest

from cdi.generate.reroot import RerootError, move_path, reroot
from cdi.spec.load import validate_spec
from generate.wire import spec_from_wire, wire
from tables import cases


@cases("generate/transform_root.yaml")
def test_transform_root(case: dict[str, Any]) -> None:
    if case["op"] == "move_path":
        assert move_path(case["path"], case["from"], case["to"]) == case["expected"]
        return
    assert case["op"] == "reroot"
    spec = spec_from_wire(case["spec"])
    if "error" in case:
        with pytest.raises(RerootError) as raised:
            reroot(spec, case["from"], case["to"], case["relative_to"])
        assert str(raised.value) == case["error"]
        return
    moved = reroot(spec, case["from"], case["to"], case["relative_to"])
    assert wire(moved) == case["expected"]
    validate_spec(moved)  # what comes out can be written


def test_default_is_relative_to_host() -> None:
    spec = spec_from_wire(
        {
            "cdiVersion": "0.3.0",
            "devices": [
                {
                    "name": "a",
                    "containerEdits": {"mounts": [{"hostPath": "/r/x", "containerPath": "/r/x"}]},
                }
            ],
        }
    )
    mount = reroot(spec, "/r", "/").devices[0].container_edits.mounts[0]
    assert (mount.host_path, mount.container_path) == ("/x", "/r/x")
