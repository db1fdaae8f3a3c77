"""Device names per strategy and device identifiers (cdi.generate.naming)."""

from __future__ import annotations

from typing import Any

import pytest

from cdi.errors import CDIError
from cdi.generate.naming import (
    DeviceId,
    DeviceIdError,
    DeviceNameStrategyError,
    IdKind,
    check_strategies,
    device_names,
    is_uuid,
    mig_device_names,
    parse_device_id,
)
from cdi.generate.options import DEFAULT_NAME_STRATEGIES, NAME_STRATEGIES
from tables import cases


def _names(case: dict[str, Any]) -> list[str]:
    if "mig" in case:
        return mig_device_names(case["strategies"], case["gpu"], case["mig"], case["uuid"])
    return device_names(case["strategies"], case["gpu"], case["uuid"])


@cases("generate/naming.yaml")
def test_naming_vectors(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(DeviceNameStrategyError) as caught:
            _names(case)
        assert str(caught.value) == case["error"]
    else:
        assert _names(case) == case["names"]


@cases("generate/device_ids.yaml")
def test_device_id_vectors(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(DeviceIdError) as caught:
            parse_device_id(case["id"])
        assert str(caught.value) == case["error"]
        return
    parsed = parse_device_id(case["id"])
    assert parsed == DeviceId(IdKind(case["kind"]), case["id"], case.get("gpu"), case.get("mig"))


def test_strategies_match_the_options_module() -> None:
    assert check_strategies(NAME_STRATEGIES) == NAME_STRATEGIES
    assert check_strategies(DEFAULT_NAME_STRATEGIES) == ("index", "uuid")


def test_errors_are_cdi_errors() -> None:
    with pytest.raises(CDIError):
        check_strategies(["nope"])
    with pytest.raises(CDIError):
        parse_device_id("nope")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("b1028956-cfa2-0990-bf4a-5da9abb51763", True),
        ("URN:UUID:b1028956-cfa2-0990-bf4a-5da9abb51763", True),
        ("{b1028956-cfa2-0990-bf4a-5da9abb51763", False),
        ("b1028956-cfa2-0990-bf4a-5da9abb5176z", False),
        ("", False),
    ],
)
def test_is_uuid(text: str, expected: bool) -> None:
    assert is_uuid(text) is expected
