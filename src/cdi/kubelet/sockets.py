"""Unix sockets the kubelet talks to: their paths, checked and cleaned before serving.

A socket path must fit ``sockaddr_un`` (107 bytes and the terminating NUL), or binding fails
with an unhelpful error. A file left at the path by an earlier run is removed only when it is
a socket: a regular file or directory there is someone else's, and an error.
"""

from __future__ import annotations

import contextlib
import os
import stat

from cdi.errors import CDIError

#: The longest path ``sockaddr_un`` holds (108 bytes with the NUL).
MAX_SOCKET_PATH = 107


class SocketPathError(CDIError):
    """A socket path that cannot be served on."""


def unix_address(path: str) -> str:
    """The gRPC address of the socket at *path* (``unix:///abs/path``)."""
    return "unix://" + os.path.abspath(path)


def check_socket_path(path: str) -> str:
    """*path*, absolute, when a socket can be bound there; else :class:`SocketPathError`."""
    absolute = os.path.abspath(path)
    if len(os.fsencode(absolute)) > MAX_SOCKET_PATH:
        raise SocketPathError(
            f"socket path {absolute} is {len(os.fsencode(absolute))} bytes long: a unix "
            f"socket path holds at most {MAX_SOCKET_PATH}"
        )
    return absolute


def prepare_socket_path(path: str, *, directory_mode: int = 0o750) -> str:
    """Make *path* ready to bind: its directory created (*directory_mode*), a stale socket
    removed. Returns the absolute path; raises :class:`SocketPathError`."""
    absolute = check_socket_path(path)
    parent = os.path.dirname(absolute)
    try:
        os.makedirs(parent, mode=directory_mode, exist_ok=True)
        info = os.lstat(absolute)
    except FileNotFoundError:
        return absolute
    except OSError as exc:
        raise SocketPathError(f"cannot use {absolute}: {exc.strerror or exc}") from exc
    if not stat.S_ISSOCK(info.st_mode):
        raise SocketPathError(f"{absolute} exists and is not a socket: not removing it")
    try:
        os.unlink(absolute)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise SocketPathError(f"cannot remove the stale socket {absolute}: {exc.strerror}") from exc
    return absolute


def remove_socket(path: str) -> None:
    """Remove the socket at *path* if it is still one (shutting down)."""
    with contextlib.suppress(OSError):
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
