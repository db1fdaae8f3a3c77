"""Where the DRA agent's sockets are: one per agent, or per pod UID in a rolling update."""

from __future__ import annotations

from typing import Any

from cdi.kubelet.draagent import dra_socket
from cdi.kubelet.registration import registration_socket
from cdi.kubelet.sockets import MAX_SOCKET_PATH
from tables import cases


@cases("kubelet/dra_sockets.yaml")
def test_socket_names(case: dict[str, Any]) -> None:
    registration = registration_socket(case["registry"], case["driver"], case["instance"])
    assert registration == case["registration"]
    assert len(registration.encode()) <= MAX_SOCKET_PATH
    assert dra_socket(case["plugin_dir"], case["instance"]) == case["dra"]
