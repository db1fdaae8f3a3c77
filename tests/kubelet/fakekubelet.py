"""A fake kubelet for the device plugin tests: it serves ``Registration`` on a
``kubelet.sock``, records what plugins register, and dials them back as the kubelet does.

It speaks the wire contract as the reference states it: the method paths below are written
out here (not taken from the generated stubs the plugin uses), so a wrong service, package
or method name in our ``.proto`` fails these tests; the message classes are shared.

Restarting it (:meth:`FakeKubelet.restart`) does what a kubelet restart does to the device
plugin directory: ``kubelet.sock`` is removed and made again, and the plugins' sockets are
deleted.
"""

from __future__ import annotations

import os
import queue
import stat
import threading
import time
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Any

import grpc

from cdi.kubelet.wire import deviceplugin_v1beta1_pb2 as pb

REGISTRATION_SERVICE = "v1beta1.Registration"
DEVICE_PLUGIN = "/v1beta1.DevicePlugin/"
KUBELET_SOCKET = "kubelet.sock"
#: Generous: the machine is shared, and a wait ends as soon as its condition holds.
DEADLINE = 30.0


class FakeKubelet:
    """The kubelet's side of the device plugin API, on ``<plugin_dir>/kubelet.sock``."""

    def __init__(self, plugin_dir: str) -> None:
        self.plugin_dir = plugin_dir
        self.socket = os.path.join(plugin_dir, KUBELET_SOCKET)
        self.requests: list[pb.RegisterRequest] = []
        self._registered = threading.Condition()
        self._server: Any = None

    def start(self) -> None:
        os.makedirs(self.plugin_dir, exist_ok=True)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        handler = grpc.method_handlers_generic_handler(
            REGISTRATION_SERVICE,
            {
                "Register": grpc.unary_unary_rpc_method_handler(
                    self._register,
                    request_deserializer=pb.RegisterRequest.FromString,
                    response_serializer=pb.Empty.SerializeToString,
                )
            },
        )
        server.add_generic_rpc_handlers((handler,))
        server.add_insecure_port("unix://" + self.socket)
        server.start()
        self._server = server

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop(None).wait()
        if os.path.lexists(self.socket):
            os.unlink(self.socket)

    def restart(self, *, remove_plugin_sockets: bool = True) -> None:
        """Stop, remove the plugins' sockets (as a starting kubelet does), start again."""
        self.stop()
        if remove_plugin_sockets:
            for name in os.listdir(self.plugin_dir):
                path = os.path.join(self.plugin_dir, name)
                if stat.S_ISSOCK(os.lstat(path).st_mode):
                    os.unlink(path)
        self.start()

    def _register(self, request: pb.RegisterRequest, context: Any) -> pb.Empty:
        with self._registered:
            self.requests.append(request)
            self._registered.notify_all()
        return pb.Empty()

    def wait_for_registrations(self, count: int, timeout: float = DEADLINE) -> list[Any]:
        """The first *count* RegisterRequests, once that many have come."""
        with self._registered:
            arrived = self._registered.wait_for(lambda: len(self.requests) >= count, timeout)
            assert arrived, f"expected {count} registrations, got {len(self.requests)}"
            return list(self.requests[:count])

    def dial(self, endpoint: str) -> PluginClient:
        """A client for the plugin that registered *endpoint* (a file name in our dir)."""
        return PluginClient(os.path.join(self.plugin_dir, endpoint))


class PluginClient:
    """Calls a device plugin's methods by their wire paths."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._channel = grpc.insecure_channel("unix://" + path)
        grpc.channel_ready_future(self._channel).result(timeout=DEADLINE)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> PluginClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _unary(self, method: str, request: Any, response_type: Any) -> Any:
        call = self._channel.unary_unary(
            DEVICE_PLUGIN + method,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_type.FromString,
        )
        return call(request, timeout=DEADLINE)

    def options(self) -> Any:
        return self._unary("GetDevicePluginOptions", pb.Empty(), pb.DevicePluginOptions)

    def allocate(self, *containers: Sequence[str]) -> Any:
        request = pb.AllocateRequest(
            container_requests=[pb.ContainerAllocateRequest(devices_ids=ids) for ids in containers]
        )
        return self._unary("Allocate", request, pb.AllocateResponse)

    def preferred(self, available: Sequence[str], must_include: Sequence[str], size: int) -> Any:
        request = pb.PreferredAllocationRequest(
            container_requests=[
                pb.ContainerPreferredAllocationRequest(
                    available_deviceIDs=available,
                    must_include_deviceIDs=must_include,
                    allocation_size=size,
                )
            ]
        )
        return self._unary("GetPreferredAllocation", request, pb.PreferredAllocationResponse)

    def pre_start(self, device_ids: Sequence[str]) -> Any:
        request = pb.PreStartContainerRequest(devices_ids=device_ids)
        return self._unary("PreStartContainer", request, pb.PreStartContainerResponse)

    def list_and_watch(self) -> DeviceStream:
        call = self._channel.unary_stream(
            DEVICE_PLUGIN + "ListAndWatch",
            request_serializer=pb.Empty.SerializeToString,
            response_deserializer=pb.ListAndWatchResponse.FromString,
        )
        return DeviceStream(call(pb.Empty()))


Devices = dict[str, str]  # device ID -> health, as one ListAndWatch message says


class DeviceStream:
    """A ``ListAndWatch`` stream read in the background, one message at a time."""

    def __init__(self, call: Any) -> None:
        self._call = call
        self._messages: queue.Queue[Any] = queue.Queue()
        self.ended: BaseException | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for message in self._call:
                self._messages.put(message)
        except grpc.RpcError as err:
            self.ended = err
        self._messages.put(None)

    def next(self, timeout: float = DEADLINE) -> Devices:
        """The next message's devices, in the order sent, as ``{ID: health}``."""
        message = self._messages.get(timeout=timeout)
        assert message is not None, f"the stream ended: {self.ended}"
        return {device.ID: device.health for device in message.devices}

    def wait_for(self, wanted: Callable[[Devices], bool], timeout: float = DEADLINE) -> Devices:
        """The first message (from now on) whose devices satisfy *wanted*."""
        seen: list[Devices] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                devices = self.next(timeout=0.5)
            except queue.Empty:
                continue
            if wanted(devices):
                return devices
            seen.append(devices)
        raise AssertionError(f"no such message within {timeout}s; got {seen}")

    def end_seen(self, timeout: float = DEADLINE) -> bool:
        """Whether the stream ends (the plugin stopped) within *timeout*, skipping messages."""
        try:
            while self._messages.get(timeout=timeout) is not None:
                pass
        except queue.Empty:
            return False
        return True

    def cancel(self) -> None:
        self._call.cancel()
