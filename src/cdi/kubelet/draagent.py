"""The DRA node agent: its two sockets, and the ResourceSlices it keeps current.

Started in order: the DRA service on ``<plugin_dir>/dra.sock`` first, then the registration
service on ``<plugins_registry>/<driver>-reg.sock`` -- the kubelet dials the DRA socket as
soon as it sees the registration one, so that one appears last -- then slice publishing.
Stopped the other way round: removing the registration socket deregisters the plugin, then
the DRA socket goes. The ResourceSlices are not withdrawn on the way out: an agent stops to
be restarted (an upgrade, a node drain ending) far more often than for good, and withdrawn
slices would make the scheduler stop placing pods here meanwhile.
"""

from __future__ import annotations

import os

from cdi.kubelet.dra import DRAPlugin, add_dra_services
from cdi.kubelet.log import AgentLog
from cdi.kubelet.registration import RegistrationServicer, RegistrationStatus, registration_socket
from cdi.kubelet.slicesync import SliceSync
from cdi.kubelet.unixserver import UnixServer

DRA_SOCKET = "dra.sock"


def dra_socket(plugin_dir: str, instance: str | None = None) -> str:
    """``<plugin_dir>/dra.sock``; with an *instance* (the pod UID), ``dra-<instance>.sock``."""
    return os.path.join(plugin_dir, DRA_SOCKET if instance is None else f"dra-{instance}.sock")


class DRAAgent:
    """Serves *plugin* to the kubelet through *registry_dir* (its ``plugins_registry``) and
    *plugin_dir*; *slices*, if given, publishes the node's devices while it runs. *instance*
    (the pod UID) names the sockets of this agent apart from another's on the same node."""

    def __init__(
        self,
        plugin: DRAPlugin,
        *,
        registry_dir: str,
        plugin_dir: str,
        log: AgentLog,
        slices: SliceSync | None = None,
        instance: str | None = None,
    ) -> None:
        self.plugin = plugin
        self.log = log
        self.slices = slices
        # Sockets of their own per instance: in a rolling update the old agent's stop must
        # not remove the new one's (gRPC unlinks its socket path when it stops).
        self.dra_socket = os.path.abspath(dra_socket(plugin_dir, instance))
        self.registration_socket = os.path.abspath(
            registration_socket(registry_dir, plugin.driver, instance)
        )
        self._registration = RegistrationServicer(
            name=plugin.driver, endpoint=self.dra_socket, log=log
        )
        # The kubelet runs as root; nobody else needs into the plugin's own directory.
        self._dra = UnixServer(
            self.dra_socket, lambda server: add_dra_services(server, plugin), directory_mode=0o750
        )
        self._reg = UnixServer(self.registration_socket, self._registration.add_to)

    @property
    def registration(self) -> RegistrationStatus:
        """What the kubelet said about the registration."""
        return self._registration.status

    def start(self) -> None:
        """Serve; raises :class:`~cdi.kubelet.sockets.SocketPathError` (nothing left
        running)."""
        try:
            self._dra.start()
            self._reg.start()
        except BaseException:
            self.stop()
            raise
        self.log.info(
            "serving",
            driver=self.plugin.driver,
            kind=self.plugin.kind,
            dra_socket=self.dra_socket,
            registration_socket=self.registration_socket,
            cdi_root=self.plugin.specs.root,
            prepared_claims=len(self.plugin.specs.list()),
        )
        if self.slices is not None:
            self.slices.start()

    def stop(self) -> None:
        """Deregister, stop serving, stop publishing; both sockets are gone afterwards."""
        self._reg.stop()
        self._dra.stop()
        if self.slices is not None:
            self.slices.stop()
        self.log.info("stopped", driver=self.plugin.driver)
