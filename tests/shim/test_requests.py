"""Device requests in a config.json (``tests/vectors/shim/requests.yaml``)."""

from __future__ import annotations

from typing import Any

import pytest

from cdi.errors import AnnotationError
from cdi.shim.config import ShimConfig
from cdi.shim.requests import requested_devices
from tables import cases


@cases("shim/requests.yaml")
def test_requests(case: dict[str, Any]) -> None:
    config = ShimConfig()
    for name, value in case.get("config", {}).items():
        assert hasattr(config, name), name
        setattr(config, name, value)
    if "error" in case:
        with pytest.raises(AnnotationError) as raised:
            requested_devices(case["spec"], config)
        assert str(raised.value) == case["error"]
        return
    found = requested_devices(case["spec"], config)
    assert found.devices == case["devices"]
    assert found.ignored == case.get("ignored", [])
