"""Plugin registration: how the kubelet finds the DRA plugin (``pluginregistration`` API).

The plugin serves ``Registration`` on ``<plugins_registry>/<driver>-reg.sock``. The kubelet's
plugin watcher notices the socket, asks ``GetInfo`` (type ``DRAPlugin``, the driver name, the
absolute path of the DRA socket, the DRA versions served) and then reports with
``NotifyRegistrationStatus`` whether it took the plugin. Removing the socket deregisters.

A refusal (``plugin_registered = false``) is logged as an error and the plugin keeps serving:
the kubelet asks again when it sees the socket anew (its restart, or ours), and an agent that
exited would only be restarted into the same refusal by its DaemonSet. The Go helper returns
an error from the call instead, which the kubelet only logs.
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Any

from cdi.kubelet.log import AgentLog
from cdi.kubelet.sockets import MAX_SOCKET_PATH
from cdi.kubelet.wire import pluginregistration_v1_pb2 as wire
from cdi.kubelet.wire import pluginregistration_v1_pb2_grpc as wire_grpc

DRA_PLUGIN_TYPE = "DRAPlugin"
#: The kubelet's names for the DRA API versions (not the protobuf service names).
DRA_SUPPORTED_VERSIONS = ("v1.DRAPlugin", "v1beta1.DRAPlugin")


def registration_socket(registry_dir: str, driver: str, instance: str | None = None) -> str:
    """``<registry_dir>/<driver>-reg.sock``; with an *instance* (the pod UID: two agents
    on one node during a rolling update), ``<driver>-<instance>-reg.sock``, or -- when that
    path would not fit a unix socket address -- ``<32 hex digits of its SHA-256>-reg.sock``."""
    if instance is None:
        return os.path.join(registry_dir, f"{driver}-reg.sock")
    path = os.path.join(registry_dir, f"{driver}-{instance}-reg.sock")
    if len(os.fsencode(os.path.abspath(path))) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(f"{driver}-{instance}".encode()).hexdigest()[:32]
    return os.path.join(registry_dir, f"{digest}-reg.sock")


class RegistrationStatus:
    """What the kubelet last said: ``None`` until it has, then registered or not (and why);
    :meth:`wait` lets a caller (a test, a health check) wait for the first answer."""

    def __init__(self) -> None:
        self._answered = threading.Event()
        self.registered: bool | None = None
        self.error = ""

    def set(self, registered: bool, error: str) -> None:
        self.registered, self.error = registered, error
        self._answered.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._answered.wait(timeout)


class RegistrationServicer:
    """``pluginregistration.Registration`` for one plugin."""

    def __init__(
        self,
        *,
        name: str,
        endpoint: str,
        log: AgentLog,
        plugin_type: str = DRA_PLUGIN_TYPE,
        versions: tuple[str, ...] = DRA_SUPPORTED_VERSIONS,
    ) -> None:
        self.info = wire.PluginInfo(
            type=plugin_type,
            name=name,
            endpoint=os.path.abspath(endpoint),
            supported_versions=list(versions),
        )
        self.status = RegistrationStatus()
        self._log = log

    def GetInfo(self, request: wire.InfoRequest, context: Any) -> wire.PluginInfo:
        self._log.debug("kubelet asked for plugin info", endpoint=self.info.endpoint)
        return self.info

    def NotifyRegistrationStatus(
        self, request: wire.RegistrationStatus, context: Any
    ) -> wire.RegistrationStatusResponse:
        self.status.set(request.plugin_registered, request.error)
        if request.plugin_registered:
            self._log.info("registered with the kubelet", driver=self.info.name)
        else:
            self._log.error(
                "the kubelet refused the registration; still serving",
                driver=self.info.name,
                error=request.error,
            )
        return wire.RegistrationStatusResponse()

    def add_to(self, server: Any) -> None:
        add: Any = wire_grpc.add_RegistrationServicer_to_server  # generated, untyped
        add(self, server)
