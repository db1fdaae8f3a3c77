"""The kubelet's side of a DRA driver, for tests: its plugin watcher, then its DRA calls.

The kubelet's plugin watcher finds ``<driver>-reg.sock`` in its plugins_registry, asks it
``GetInfo`` and answers ``NotifyRegistrationStatus``; the kubelet then dials the endpoint the
info names and calls ``NodePrepareResources`` / ``NodeUnprepareResources`` there, of the API
version it speaks. :class:`FakeWatcher` does the same over the real wire, through the
generated stubs (the contract both sides are built from), with generous deadlines.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

import grpc

from cdi.kubelet.sockets import unix_address
from cdi.kubelet.wire import (
    dra_v1_pb2,
    dra_v1_pb2_grpc,
    dra_v1beta1_pb2,
    dra_v1beta1_pb2_grpc,
    pluginregistration_v1_pb2,
    pluginregistration_v1_pb2_grpc,
)

#: Seconds a call may take (the kubelet's own deadline is shorter; tests share a slow CPU).
DEADLINE = 60.0

#: API version -> (messages, stubs), as the kubelet names the versions.
VERSIONS: dict[str, tuple[Any, Any]] = {
    "v1": (dra_v1_pb2, dra_v1_pb2_grpc),
    "v1beta1": (dra_v1beta1_pb2, dra_v1beta1_pb2_grpc),
}

Claim = tuple[str, str, str]  # (namespace, uid, name)


def wait_for_socket(path: str, timeout: float = DEADLINE) -> None:
    """Wait until a socket exists at *path* (an agent in another process started)."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert time.monotonic() < deadline, f"no socket at {path} after {timeout} s"
        time.sleep(0.05)


class DRAClient:
    """The kubelet's DRA calls of one API *version* on the socket at *endpoint*."""

    def __init__(self, endpoint: str, version: str = "v1") -> None:
        self.messages, stubs = VERSIONS[version]
        self._channel = grpc.insecure_channel(unix_address(endpoint))
        self._stub = stubs.DRAPluginStub(self._channel)

    def _claims(self, claims: Iterable[Claim]) -> list[Any]:
        return [self.messages.Claim(namespace=ns, uid=uid, name=name) for ns, uid, name in claims]

    def prepare(self, claims: Iterable[Claim]) -> Any:
        request = self.messages.NodePrepareResourcesRequest(claims=self._claims(claims))
        return self._stub.NodePrepareResources(request, timeout=DEADLINE, wait_for_ready=True)

    def unprepare(self, claims: Iterable[Claim]) -> Any:
        request = self.messages.NodeUnprepareResourcesRequest(claims=self._claims(claims))
        return self._stub.NodeUnprepareResources(request, timeout=DEADLINE, wait_for_ready=True)

    def close(self) -> None:
        self._channel.close()


class FakeWatcher:
    """The kubelet's plugin watcher for the registration socket at *path*."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._channel = grpc.insecure_channel(unix_address(path))
        stubs: Any = pluginregistration_v1_pb2_grpc  # generated, untyped
        self._stub = stubs.RegistrationStub(self._channel)
        self._clients: list[DRAClient] = []

    def get_info(self) -> Any:
        return self._stub.GetInfo(
            pluginregistration_v1_pb2.InfoRequest(), timeout=DEADLINE, wait_for_ready=True
        )

    def notify(self, registered: bool = True, error: str = "") -> None:
        status = pluginregistration_v1_pb2.RegistrationStatus(
            plugin_registered=registered, error=error
        )
        self._stub.NotifyRegistrationStatus(status, timeout=DEADLINE, wait_for_ready=True)

    def register(self, version: str = "v1") -> DRAClient:
        """What the kubelet does with a new plugin socket: ``GetInfo``, check that the plugin
        serves *version* (``v1.DRAPlugin``...), ``NotifyRegistrationStatus(true)``; then the
        DRA client for the endpoint the info names."""
        info = self.get_info()
        assert info.type == "DRAPlugin", info
        assert f"{version}.DRAPlugin" in info.supported_versions, info
        self.notify(True)
        client = DRAClient(info.endpoint, version)
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._channel.close()
