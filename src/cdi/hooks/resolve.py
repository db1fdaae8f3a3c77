"""Resolving a path inside a container root, as if that root were ``/``.

Two implementations with one meaning: the kernel's ``openat2(RESOLVE_IN_ROOT |
RESOLVE_NO_MAGICLINKS)`` through ctypes where it works, and otherwise a walk done here, one
component at a time with ``O_PATH|O_NOFOLLOW`` descriptors. In both, an absolute link target
restarts at the root, ``..`` never climbs above it, and no component is ever looked up by a
host path string, so a container swapping links meanwhile only changes which object *inside*
the root is reached. :class:`cdi.hooks.rootfs.ContainerRoot` is the interface; this module is
its engine.
"""

from __future__ import annotations

import errno
import functools
import os
import stat

TYPE_CHECKING = False  # a hook starts on every container start: no typing import
if TYPE_CHECKING:
    from typing import Any


# The kernel's own limit on links followed in one resolution (MAXSYMLINKS).
MAX_LINKS = 40
O_PATH = os.O_PATH | os.O_CLOEXEC
_OPENAT2_SYSCALL = 437  # the same number on x86-64 and aarch64 (the generic syscall table)
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_IN_ROOT = 0x10
# openat2 answers EAGAIN when a concurrent rename might have let ".." escape; retry, then
# fall back to the walk, which never asks the kernel to resolve "..".
_EAGAIN_RETRIES = 16


def error(number: int | None, path: str, detail: str | None = None) -> OSError:
    """An OSError (of the subclass for *number*) naming the container *path*."""
    number = number or errno.EIO
    return OSError(number, detail or os.strerror(number), path)


def split(path: str) -> list[str]:
    """The components of a container *path*, without empty ones and ``.``."""
    if "\0" in path:
        raise error(errno.EINVAL, path.replace("\0", "\\0"), "path contains a NUL byte")
    return [part for part in path.split("/") if part not in ("", ".")]


def split_parent(path: str) -> tuple[str, str]:
    """(parent path, final name) of a container *path* that must name an entry."""
    parts = split(path)
    if not parts or parts[-1] == "..":
        raise error(errno.EINVAL, path, "path does not end in a file name")
    return "/" + "/".join(parts[:-1]), parts[-1]


@functools.cache
def _syscall() -> Any:
    """(ctypes, libc syscall, open_how type); ctypes is imported only here (start time)."""
    import ctypes

    class OpenHow(ctypes.Structure):
        _fields_ = (
            ("flags", ctypes.c_uint64),
            ("mode", ctypes.c_uint64),
            ("resolve", ctypes.c_uint64),
        )

    return ctypes, ctypes.CDLL(None, use_errno=True).syscall, OpenHow


def openat2(dir_fd: int, path: str, flags: int) -> tuple[int, int]:
    """(fd, 0) or (-1, errno) of ``openat2(dir_fd, path, flags, IN_ROOT|NO_MAGICLINKS)``."""
    ctypes, syscall, open_how = _syscall()
    how = open_how(flags, 0, _RESOLVE_IN_ROOT | _RESOLVE_NO_MAGICLINKS)
    result = syscall(
        ctypes.c_long(_OPENAT2_SYSCALL),
        ctypes.c_int(dir_fd),
        ctypes.c_char_p(os.fsencode(path)),
        ctypes.byref(how),
        ctypes.c_size_t(ctypes.sizeof(how)),
    )
    return (result, 0) if result >= 0 else (-1, ctypes.get_errno())


@functools.cache
def openat2_works() -> bool:
    """Whether openat2 works here; probed once (old kernels: ENOSYS, seccomp: EPERM)."""
    if os.uname().machine not in ("x86_64", "aarch64"):
        return False
    root = os.open("/", O_PATH | os.O_DIRECTORY)
    try:
        fd, _ = openat2(root, ".", O_PATH)
    finally:
        os.close(root)
    if fd < 0:
        return False
    os.close(fd)
    return True


def resolve(root_fd: int, path: str, *, follow_last: bool = True, kernel: bool = True) -> int:
    """An O_PATH descriptor of container *path* resolved inside the root *root_fd*.

    *kernel* chooses openat2 (the caller checked :func:`openat2_works`) over the walk.
    """
    parts = split(path)
    if kernel:
        flags = O_PATH if follow_last else O_PATH | os.O_NOFOLLOW
        for _ in range(_EAGAIN_RETRIES):
            fd, number = openat2(root_fd, "/".join(parts) or ".", flags)
            if fd >= 0:
                return fd
            if number != errno.EAGAIN:
                raise error(number, path)
    return walk(root_fd, parts, path, follow_last=follow_last)


def walk(
    root_fd: int,
    parts: list[str],
    path: str,
    *,
    follow_last: bool = True,
    create_mode: int | None = None,
) -> int:
    """Resolve *parts* (of container *path*) one component at a time from *root_fd*.

    ``..`` pops the stack of directories walked (never above the root) instead of asking the
    kernel for a parent, an absolute link target restarts at the root, and each component is
    opened O_NOFOLLOW relative to the descriptor of its parent. With *create_mode*, missing
    components are created as directories with exactly that mode.
    """
    pending = parts[::-1]
    dirs: list[int] = []  # owned descriptors below the root, outermost first
    links = 0
    try:
        while pending:
            name = pending.pop()
            if name == "..":
                if dirs:
                    os.close(dirs.pop())
                continue
            fd = _open_component(dirs[-1] if dirs else root_fd, name, create_mode)
            dirs.append(fd)
            mode = os.fstat(fd).st_mode
            if stat.S_ISLNK(mode) and (pending or follow_last):
                dirs.pop()
                try:
                    target = os.readlink("", dir_fd=fd)  # the link we hold, not a name
                finally:
                    os.close(fd)
                links += 1
                if links > MAX_LINKS:
                    raise error(errno.ELOOP, path)
                if target.startswith("/"):
                    while dirs:
                        os.close(dirs.pop())
                pending.extend(split(target)[::-1])
            elif pending and not stat.S_ISDIR(mode):
                raise error(errno.ENOTDIR, path)
        return dirs.pop() if dirs else os.dup(root_fd)
    except OSError as exc:
        raise error(exc.errno, path) from None
    finally:
        for fd in dirs:
            os.close(fd)


def _open_component(dir_fd: int, name: str, create_mode: int | None) -> int:
    try:
        return os.open(name, O_PATH | os.O_NOFOLLOW, dir_fd=dir_fd)
    except FileNotFoundError:
        if create_mode is None:
            raise
    try:
        os.mkdir(name, create_mode, dir_fd=dir_fd)
    except FileExistsError:  # created meanwhile: take whatever is there now
        return os.open(name, O_PATH | os.O_NOFOLLOW, dir_fd=dir_fd)
    # O_NOFOLLOW: if the new directory was swapped for a link meanwhile, fail.
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(name, flags, dir_fd=dir_fd)
    try:
        os.fchmod(fd, create_mode)  # exactly the mode asked for, whatever the umask
    except OSError:
        os.close(fd)
        raise
    return fd
