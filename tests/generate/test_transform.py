"""The post-processing of generated specs: tests/vectors/generate/transforms.yaml."""

from __future__ import annotations

from typing import Any

from cdi.generate import transform
from cdi.spec.model import ContainerEdits, Device, Hook
from generate.wire import devices_from_wire, edits_from_wire, wire
from tables import cases, load_table


@cases("generate/transforms.yaml")
def test_transforms(case: dict[str, Any]) -> None:
    op = case["op"]
    common = edits_from_wire(case.get("common"))
    result: Any
    if op == "dedupe":
        result = transform.dedupe(edits_from_wire(case["edits"]))
    elif op == "simplify":
        result = transform.simplify(devices_from_wire(case["devices"]), common)
    elif op == "sort_edits":
        result = transform.sort_edits(edits_from_wire(case["edits"]))
    elif op == "sort_devices":
        result = transform.sort_devices(devices_from_wire(case["devices"]))
    elif op == "merged_all":
        result = transform.merged_all_device(devices_from_wire(case["devices"]), common)
    elif op == "assemble":
        result = transform.assemble(
            case["kind"], devices_from_wire(case["devices"]), common, add_all=case["add_all"]
        )
    else:
        raise AssertionError(f"unknown op {op!r}")
    assert wire(result) == case["expected"]


def test_transforms_cover_every_step() -> None:
    ops = {case["op"] for case in load_table("generate/transforms.yaml")}
    assert ops == {"dedupe", "simplify", "sort_edits", "sort_devices", "merged_all", "assemble"}


def test_merged_all_takes_another_name() -> None:
    devices = devices_from_wire([{"name": "a", "containerEdits": {"env": ["A=1"]}}])
    merged = transform.merged_all_device(devices, name="everything")
    assert merged.name == "everything"
    assert merged.container_edits.env == ("A=1",)


def test_assemble_keeps_device_annotations() -> None:
    device = Device("a", {"k": "v"}, edits_from_wire({"env": ["A=1"]}))
    spec = transform.assemble("example.com/device", [device], edits_from_wire({}), add_all=False)
    assert dict(spec.devices[0].annotations) == {"k": "v"}
    assert spec.cdi_version == "0.6.0"


def test_hooks_keep_discovery_order_in_common_edits() -> None:
    # create-symlinks must run before update-ldcache: the transforms never reorder hooks.
    hooks = tuple(Hook("createContainer", "/hook", args=("hook", name)) for name in "zyx")
    spec = transform.assemble(
        "example.com/device",
        devices_from_wire([{"name": "0", "containerEdits": {"env": ["A=1"]}}]),
        ContainerEdits(hooks=hooks),
        add_all=True,
    )
    assert spec.container_edits.hooks == hooks
