"""The BuildKit device policy against the tables in tests/vectors/policy/."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from cdi.errors import CDIError
from cdi.policy import (
    DevicePolicy,
    DeviceRequest,
    EntitlementError,
    InstallerError,
    ProgressCallback,
    parse_entitlements,
)
from cdi.registry import Registry
from tables import VECTORS, cases

FIXTURES = VECTORS / "policy" / "fixtures"


class FakeInstaller:
    """An installer whose host check passes or fails as the table says."""

    def __init__(self, kind: str, host_ok: bool = True) -> None:
        self.kind = kind
        self.host_ok = host_ok

    def validate(self) -> None:
        if not self.host_ok:
            raise InstallerError("no such hardware here")

    def run(self, progress: ProgressCallback) -> None:
        raise AssertionError("not expected to run in these tables")


def _policy(tmp_path: Path, case: dict[str, Any]) -> DevicePolicy:
    spec_dir = tmp_path / "cdi"
    shutil.copytree(FIXTURES, spec_dir)
    on_demand = case.get("on_demand", {})
    if isinstance(on_demand, list):
        on_demand = dict.fromkeys(on_demand, True)
    installers = {kind: FakeInstaller(kind, ok) for kind, ok in on_demand.items()}
    return DevicePolicy(Registry([spec_dir]), case.get("auto_allowed", ()), installers)


def _requests(case: dict[str, Any]) -> list[DeviceRequest]:
    return [DeviceRequest(name, optional) for name, optional in case["requests"]]


def test_fixtures_load_cleanly(tmp_path: Path) -> None:
    registry = _policy(tmp_path, {}).registry
    assert registry.errors() == {}
    assert len(registry.list_devices()) == 15


@cases("policy/find_devices.yaml")
def test_find_devices(case: dict[str, Any], tmp_path: Path) -> None:
    policy = _policy(tmp_path, case)
    if "error" in case:
        with pytest.raises(CDIError) as caught:
            policy.find_devices(_requests(case))
        assert str(caught.value) == case["error"]
    else:
        assert policy.find_devices(_requests(case)) == case["expect"]


@cases("policy/authorize.yaml")
def test_authorize(case: dict[str, Any], tmp_path: Path) -> None:
    policy = _policy(tmp_path, case)
    entitlements = parse_entitlements(case["allow"]) if "allow" in case else None
    if "error" in case:
        with pytest.raises(CDIError) as caught:
            policy.authorize(_requests(case), entitlements)
        assert str(caught.value) == case["error"]
    else:
        result = policy.authorize(_requests(case), entitlements)
        assert [[r.name, r.optional] for r in result] == case["expect"]


@cases("policy/entitlements.yaml")
def test_entitlements(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(EntitlementError) as caught:
            parse_entitlements(case["allow"])
        assert str(caught.value) == case["error"]
        return
    parsed = parse_entitlements(case["allow"])
    expect = case["expect"]
    assert parsed.all_devices is expect["all"]
    assert dict(parsed.devices) == expect["devices"]
    assert sorted(parsed.other) == expect["other"]


@cases("policy/listing.yaml")
def test_listing(case: dict[str, Any], tmp_path: Path) -> None:
    policy = _policy(tmp_path, case)
    listed = policy.list_devices()
    if "only" in case:
        listed = [info for info in listed if info.name in case["only"]]
    assert [[i.name, i.auto_allow, i.on_demand] for i in listed] == case["expect"]
