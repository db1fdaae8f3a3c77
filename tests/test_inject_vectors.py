"""Injection against the data-driven tables in tests/vectors/inject/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import cdi
from cdi.spec.plain import to_plain
from registry_scenario import FakeHost, Scenario
from tables import cases


def edits_from(document: dict[str, Any]) -> cdi.ContainerEdits:
    """CDI containerEdits in wire form, validated as a spec's own edits are."""
    spec = cdi.parse_spec(
        json.dumps(
            {
                "cdiVersion": "1.1.0",
                "kind": "vendor.com/test",
                "containerEdits": document,
                "devices": [{"name": "unused", "containerEdits": {"env": ["UNUSED=1"]}}],
            }
        )
    )
    return spec.container_edits


@cases("inject/apply.yaml")
def test_apply(case: dict[str, Any]) -> None:
    oci = case["oci"]
    before = json.dumps(oci, sort_keys=True)
    host = FakeHost(case.get("host_devices"))
    edits = edits_from(case["edits"])
    try:
        result = cdi.inject(oci, edits, stat_device=host)
    except cdi.InjectionError as err:
        assert "error" in case, f"unexpected error {err}"
        assert str(err) == case["error"]
    else:
        assert "error" not in case, f"expected error {case['error']!r}, got {result}"
        assert result == case["expect"]
        assert result is not oci
    assert json.dumps(oci, sort_keys=True) == before  # deviation: never edited in place


@cases("inject/append.yaml")
def test_append(case: dict[str, Any]) -> None:
    merged = cdi.merge_edits(edits_from(document) for document in case["edits"])
    assert to_plain(merged) == case["expect"]


@cases("inject/devices.yaml")
def test_inject_devices(case: dict[str, Any], tmp_path: Path) -> None:
    Scenario(case, tmp_path, "manual").run()


def test_every_apply_case_checks_something() -> None:
    from tables import load_table

    for case in load_table("inject/apply.yaml"):
        assert ("expect" in case) != ("error" in case), case["name"]


@pytest.mark.parametrize("table", ["inject/devices.yaml"])
def test_every_inject_step_checks_something(table: str) -> None:
    from tables import load_table

    for case in load_table(table):
        for step in case.get("steps", []):
            if "inject" in step:
                request = step["inject"]
                assert ("expect" in request) != ("error" in request), case["name"]
