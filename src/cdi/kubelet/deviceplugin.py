"""The kubelet device plugin (API v1beta1): the ``DevicePlugin`` service and the plugin's life.

:class:`DevicePlugin.serve` serves ``v1beta1.DevicePlugin`` on ``<plugin dir>/<socket>``,
then registers with the kubelet on ``<plugin dir>/kubelet.sock``, and keeps both up until
told to stop. Each round of its loop (every ``kubelet_poll`` seconds):

- our socket gone or replaced (the kubelet removes plugin sockets when it starts): serve
  again on a fresh one, and register again;
- ``kubelet.sock`` a different file than the one registered with (the kubelet restarted:
  it deletes and recreates it; told apart by device, inode and change time, since a new
  file may get the old inode number): register again;
- ``kubelet.sock`` missing, or registering fails: try again next round, with a log line
  every ``kubelet_timeout`` seconds (the kubelet may start after us; never a reason to exit);
- every ``health_interval`` seconds: re-check the devices' health.

Spec file changes reach the device list through the registry's own watcher, without waiting
for a round. Stopping stops the server (streams end), removes our socket and logs
``stopping``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from cdi.injection import StatDevice
from cdi.kubelet import allocation
from cdi.kubelet.devicelist import DEBOUNCE_SECONDS, DeviceList
from cdi.kubelet.health import DeviceStatus
from cdi.kubelet.log import AgentLog
from cdi.kubelet.pluginnames import (
    DEFAULT_PLUGIN_DIR,
    KUBELET_SOCKET,
    check_annotation_prefix,
    check_kind,
    check_resource_name,
    check_socket_name,
    default_socket_name,
)
from cdi.kubelet.sockets import SocketPathError, check_socket_path, unix_address
from cdi.kubelet.unixserver import UnixServer
from cdi.kubelet.wire import deviceplugin_v1beta1_pb2 as pb
from cdi.kubelet.wire import deviceplugin_v1beta1_pb2_grpc as pb_grpc

API_VERSION = "v1beta1"

# The generated service module is untyped: what is used of it goes through these names.
_add_device_plugin_servicer: Any = pb_grpc.add_DevicePluginServicer_to_server
_RegistrationStub: Any = pb_grpc.RegistrationStub

#: How long a ListAndWatch stream waits before checking that its call is still alive.
_STREAM_CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class DevicePluginConfig:
    """What one device plugin serves, where, and how often it looks around."""

    kind: str
    resource_name: str
    strategies: tuple[str, ...] = (allocation.CDI_CRI,)
    spec_dirs: tuple[str, ...] | None = None  # None: the registry's defaults
    plugin_dir: str = DEFAULT_PLUGIN_DIR
    socket_name: str = ""  # "": default_socket_name(resource_name)
    annotation_prefix: str = allocation.DEFAULT_ANNOTATION_PREFIX
    health_interval: float = 10.0
    kubelet_poll: float = 1.0
    kubelet_timeout: float = 30.0
    register_timeout: float = 10.0
    debounce: float = DEBOUNCE_SECONDS

    def __post_init__(self) -> None:
        # The command checks these as usage errors; a library caller gets them here.
        check_kind(self.kind)
        check_resource_name(self.resource_name)
        if self.socket_name:
            check_socket_name(self.socket_name)
        check_annotation_prefix(self.annotation_prefix)
        object.__setattr__(self, "strategies", allocation.check_strategies(self.strategies))

    @property
    def endpoint(self) -> str:
        """Our socket's file name, as the kubelet gets it."""
        return self.socket_name or default_socket_name(self.resource_name)

    @property
    def socket_path(self) -> str:
        return os.path.join(self.plugin_dir, self.endpoint)

    @property
    def kubelet_socket(self) -> str:
        return os.path.join(self.plugin_dir, KUBELET_SOCKET)

    def check_paths(self) -> None:
        """Raise :class:`~cdi.kubelet.sockets.SocketPathError` for a socket path too long."""
        check_socket_path(self.socket_path)
        check_socket_path(self.kubelet_socket)


def plugin_options() -> pb.DevicePluginOptions:
    """The options we register with and report: preferred allocations, no pre-start call."""
    return pb.DevicePluginOptions(pre_start_required=False, get_preferred_allocation_available=True)


def register_request(config: DevicePluginConfig) -> pb.RegisterRequest:
    return pb.RegisterRequest(
        version=API_VERSION,
        endpoint=config.endpoint,
        resource_name=config.resource_name,
        options=plugin_options(),
    )


def list_response(statuses: Sequence[DeviceStatus]) -> pb.ListAndWatchResponse:
    return pb.ListAndWatchResponse(
        devices=[pb.Device(ID=status.id, health=status.health) for status in statuses]
    )


def allocate_response(answers: Sequence[allocation.ContainerAllocation]) -> pb.AllocateResponse:
    return pb.AllocateResponse(
        container_responses=[
            pb.ContainerAllocateResponse(
                cdi_devices=[pb.CDIDevice(name=name) for name in answer.cdi_devices],
                annotations=dict(answer.annotations),
            )
            for answer in answers
        ]
    )


class DevicePluginService:
    """``v1beta1.DevicePlugin`` over a :class:`DeviceList` (methods named as on the wire)."""

    def __init__(
        self,
        config: DevicePluginConfig,
        devices: DeviceList,
        log: AgentLog,
        *,
        request_id: Callable[[], str] = allocation.new_request_id,
    ) -> None:
        self._config = config
        self._devices = devices
        self._log = log
        self._request_id = request_id

    def add_to(self, server: Any) -> None:
        _add_device_plugin_servicer(self, server)

    def GetDevicePluginOptions(self, request: pb.Empty, context: Any) -> pb.DevicePluginOptions:
        return plugin_options()

    def ListAndWatch(self, request: pb.Empty, context: Any) -> Iterator[pb.ListAndWatchResponse]:
        # The full list at once, then again on every change: each message replaces the last.
        context.add_callback(self._devices.wake)  # an ended call stops waiting at once
        seen: int | None = None
        while context.is_active() and not self._devices.closed:
            current = self._devices.wait(seen, _STREAM_CHECK_SECONDS)
            if current is None:
                continue
            seen, statuses = current
            yield list_response(statuses)

    def GetPreferredAllocation(
        self, request: pb.PreferredAllocationRequest, context: Any
    ) -> pb.PreferredAllocationResponse:
        order = self._devices.device_ids()
        return pb.PreferredAllocationResponse(
            container_responses=[
                pb.ContainerPreferredAllocationResponse(
                    deviceIDs=allocation.preferred_allocation(
                        list(wanted.available_deviceIDs),
                        list(wanted.must_include_deviceIDs),
                        wanted.allocation_size,
                        order,
                    )
                )
                for wanted in request.container_requests
            ]
        )

    def Allocate(self, request: pb.AllocateRequest, context: Any) -> pb.AllocateResponse:
        requests = [list(container.devices_ids) for container in request.container_requests]
        known = {d for ids in requests for d in ids if self._devices.has_device(d)}
        try:
            answers = allocation.allocate(
                self._config.kind,
                requests,
                known,
                self._config.strategies,
                annotation_prefix=self._config.annotation_prefix,
                request_id=self._request_id,
            )
        except allocation.AllocationError as err:
            self._log.warning("allocate failed", containers=requests, error=str(err))
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
            raise  # not reached: abort raises
        self._log.info(
            "allocate",
            containers=requests,
            cdi_devices=[list(answer.cdi_devices) for answer in answers],
            annotations=[dict(answer.annotations) for answer in answers],
        )
        return allocate_response(answers)

    def PreStartContainer(
        self, request: pb.PreStartContainerRequest, context: Any
    ) -> pb.PreStartContainerResponse:
        return pb.PreStartContainerResponse()


def register(config: DevicePluginConfig) -> None:
    """Call the kubelet's ``Register``; raises :class:`grpc.RpcError`."""
    with grpc.insecure_channel(unix_address(config.kubelet_socket)) as channel:
        stub = _RegistrationStub(channel)
        stub.Register(register_request(config), timeout=config.register_timeout)


def _identity(path: str) -> tuple[int, int, int] | None:
    """What tells one socket file at *path* from another made there later; ``None`` when
    there is no socket."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino, info.st_ctime_ns


class _Every:
    """True once per *period* seconds (the first time at once)."""

    def __init__(self, period: float) -> None:
        self._period = period
        self._next = 0.0

    def due(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self._period
        return True

    def reset(self) -> None:
        self._next = time.monotonic() + self._period


class DevicePlugin:
    """One device plugin: *config*'s kind served to the kubelet until :meth:`serve` is told
    to stop."""

    def __init__(
        self,
        config: DevicePluginConfig,
        log: AgentLog,
        *,
        stat_device: StatDevice | None = None,
        request_id: Callable[[], str] = allocation.new_request_id,
    ) -> None:
        self.config = config
        self._log = log
        self._stat_device = stat_device
        self._request_id = request_id
        self.registrations = 0  # successful Register calls (for tests and metrics)

    def serve(self, stop: threading.Event) -> None:
        """Serve and register until *stop* is set (or an exception, such as
        :class:`KeyboardInterrupt`, ends the wait); always cleans up. Raises
        :class:`~cdi.kubelet.sockets.SocketPathError` when the socket cannot be served."""
        config = self.config
        config.check_paths()
        devices = DeviceList(
            config.kind,
            config.spec_dirs,
            self._log,
            stat_device=self._stat_device,
            debounce=config.debounce,
        )
        service = DevicePluginService(config, devices, self._log, request_id=self._request_id)
        server = UnixServer(config.socket_path, service.add_to, workers=8)
        try:
            server.start()
            ours = _identity(server.path)
            self._log.info(
                "serving",
                socket=server.path,
                resource=config.resource_name,
                kind=config.kind,
                devices=[status.id for status in devices.statuses],
            )
            self._loop(stop, server, ours, devices)
        finally:
            self._log.info("stopping", socket=server.path, resource=config.resource_name)
            devices.close()
            server.stop()

    def _loop(
        self,
        stop: threading.Event,
        server: UnixServer,
        ours: tuple[int, int, int] | None,
        devices: DeviceList,
    ) -> None:
        config = self.config
        registered: tuple[int, int, int] | None = None  # the kubelet.sock we registered with
        attempted: tuple[int, int, int] | None = None  # the last one we tried
        complain = _Every(config.kubelet_timeout)
        complain.reset()  # the first complaint only after a timeout's worth of trying
        health = _Every(config.health_interval)
        health.reset()  # the list was just computed
        while not stop.is_set():
            if ours is None or _identity(server.path) != ours:
                ours, registered = self._serve_again(server, ours), None
            kubelet = _identity(config.kubelet_socket)
            if ours is not None and kubelet is not None and kubelet != registered:
                if self.registrations and kubelet != attempted:
                    self._log.info("re-registering", kubelet=config.kubelet_socket)
                attempted = kubelet
                problem = self._try_register()
                if problem is None:
                    registered = kubelet
                    complain.reset()
                elif complain.due():
                    self._log.warning(
                        "register failed", kubelet=config.kubelet_socket, error=problem
                    )
            elif kubelet is None and complain.due():
                self._log.warning(
                    "waiting for kubelet",
                    kubelet=config.kubelet_socket,
                    timeout=config.kubelet_timeout,
                )
            if health.due():
                devices.update()
            stop.wait(config.kubelet_poll)

    def _serve_again(
        self, server: UnixServer, ours: tuple[int, int, int] | None
    ) -> tuple[int, int, int] | None:
        """Serve on a fresh socket; its identity, or ``None`` (tried again next round)."""
        if ours is not None:
            self._log.warning("socket removed", socket=server.path)
        server.stop()
        try:
            server.start()
        except SocketPathError as err:
            self._log.error("serve failed", socket=server.path, error=str(err))
            return None
        return _identity(server.path)

    def _try_register(self) -> str | None:
        """Register; ``None`` when that worked, else what went wrong."""
        try:
            register(self.config)
        except grpc.RpcError as err:
            details = err.details() if hasattr(err, "details") else None
            return str(details or err)
        self.registrations += 1
        self._log.info(
            "registered",
            kubelet=self.config.kubelet_socket,
            resource=self.config.resource_name,
            endpoint=self.config.endpoint,
        )
        return None
