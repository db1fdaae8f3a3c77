"""A gRPC server on one unix socket: bound after the path is checked, removed when it stops.

The kubelet finds plugins by their socket files, so the file must exist exactly while the
server answers: a stale one is removed before binding (:func:`~cdi.kubelet.sockets.
prepare_socket_path`), and stopping removes it, which is also how the kubelet learns that a
plugin has gone.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc

from cdi.kubelet.sockets import SocketPathError, prepare_socket_path, remove_socket, unix_address

#: Seconds a stopping server gives calls in progress to finish.
STOP_GRACE_SECONDS = 2.0


class UnixServer:
    """Serves what *add_services* adds to a ``grpc.Server`` on the socket at *path*."""

    def __init__(
        self,
        path: str,
        add_services: Callable[[Any], None],
        *,
        workers: int = 4,
        directory_mode: int = 0o750,
    ) -> None:
        self.path = path
        self._add_services = add_services
        self._workers = workers
        self._directory_mode = directory_mode
        self._server: Any = None

    def start(self) -> None:
        """Bind and serve; raises :class:`~cdi.kubelet.sockets.SocketPathError`."""
        self.path = prepare_socket_path(self.path, directory_mode=self._directory_mode)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=self._workers))
        self._add_services(server)
        try:
            server.add_insecure_port(unix_address(self.path))
        except RuntimeError as err:  # grpc reports a failed bind so, without the reason
            raise SocketPathError(f"cannot serve on {self.path}: {err}") from None
        server.start()
        self._server = server

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop serving (calls in progress get *grace* seconds) and remove the socket; again:
        nothing."""
        server, self._server = self._server, None
        if server is None:
            return  # never started: the socket at the path, if any, is not ours
        server.stop(grace).wait()
        remove_socket(self.path)
