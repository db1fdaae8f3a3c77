"""``disable-device-node-modification``: show the container a driver that does not make nodes.

With ``ModifyDeviceFiles: 1`` in ``/proc/driver/nvidia/params`` the NVIDIA user-space
libraries create or fix ``/dev/nvidia*`` nodes themselves, which in a container either fails
or gives it devices it was not granted. The hook covers the container's view of that file
with a copy saying ``ModifyDeviceFiles: 0``; when the host's file says anything else, or does
not exist, it does nothing.

How, inside the container's mount namespace (runc runs ``createContainer`` hooks there):

1. a fresh directory ``/run/cdi-hook-<random>`` is made inside the root and a small tmpfs is
   mounted on it, through ``/proc/self/fd/N`` of the directory's descriptor (never a path
   the container could swap for a link);
2. ``nvct-params`` (0444) is written into the tmpfs and bind-mounted over the container's
   ``/proc/driver/nvidia/params``, again descriptor to descriptor;
3. the bind is remounted read-only, ``nodev,nosuid,noexec`` (and ``nosymfollow`` where the
   kernel has it). ``mount(2)`` ignores ``MS_RDONLY`` when it creates a bind, so
   nvidia-cdi-hook's single bind call leaves the file writable; the remount is the fix;
4. the staging tmpfs is detached and its directory removed: the bind keeps the file alive.

``mount``/``umount2`` are called through ctypes (imported only by this subcommand).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import stat
from typing import TYPE_CHECKING, Any

from cdi.hooks.errors import HookError
from cdi.hooks.rootfs import proc_fd_path

if TYPE_CHECKING:
    from cdi.hooks.rootfs import ContainerRoot

FLAGS: dict[str, str] = {}

#: The host file read (a module constant so that tests can point it elsewhere).
PARAMS_PATH = "/proc/driver/nvidia/params"
#: Where the copy is mounted in the container.
CONTAINER_PARAMS = "/proc/driver/nvidia/params"
STAGING_PARENT = "/run"
STAGED_NAME = "nvct-params"
_MAX_PARAMS = 1 << 20

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOSYMFOLLOW = 0x100
MS_BIND = 0x1000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2
_O_DIR_PATH = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_ONLY = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NODEV | MS_NOSUID | MS_NOEXEC


class DeviceNodeModificationError(HookError):
    """The params copy could not be mounted (*errno*: the system call's error, or 0)."""

    def __init__(self, message: str, *, errno: int = 0) -> None:
        super().__init__(message)
        self.errno = errno


def run(root: ContainerRoot, options: dict[str, Any]) -> None:
    modified = modified_params(_read_host_params(PARAMS_PATH))
    if modified is not None:
        mount_params(root, modified)


def modified_params(text: bytes | None) -> bytes | None:
    """*text* with ``ModifyDeviceFiles: 1`` set to 0; ``None`` when there is nothing to do
    (no file, no such line, or already 0)."""
    if text is None:
        return None
    lines = text.split(b"\n")
    changed = False
    for index, line in enumerate(lines):
        if line.strip() == b"ModifyDeviceFiles: 1":
            lines[index] = line.replace(b"ModifyDeviceFiles: 1", b"ModifyDeviceFiles: 0")
            changed = True
    return b"\n".join(lines) if changed else None


def _read_host_params(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read(_MAX_PARAMS)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DeviceNodeModificationError(f"cannot read {path}: {exc.strerror}") from None


def mount_params(root: ContainerRoot, data: bytes) -> None:
    """Mount a read-only file holding *data* over the container's params file."""
    try:
        target = root.resolve(CONTAINER_PARAMS)
    except OSError as exc:
        message = f"cannot open {CONTAINER_PARAMS} in the container: {exc.strerror}"
        raise DeviceNodeModificationError(message, errno=exc.errno or 0) from None
    try:
        if not stat.S_ISREG(os.fstat(target).st_mode):
            raise DeviceNodeModificationError(f"{CONTAINER_PARAMS} is not a regular file")
        staged_dev = _staged_bind(root, data, target)
    finally:
        os.close(target)
    # Only a new lookup reaches the bind: the earlier descriptor is the file beneath it.
    with root.opened(CONTAINER_PARAMS) as bound:
        if os.fstat(bound).st_dev != staged_dev:
            raise DeviceNodeModificationError(f"{CONTAINER_PARAMS} is not the bind just made")
        path = proc_fd_path(bound)
        try:
            _mount(None, path, None, MS_PRIVATE, "make the params bind private")
            _remount_read_only(path)
        except DeviceNodeModificationError:
            # Never leave a writable copy behind: take the bind away again.
            with contextlib.suppress(DeviceNodeModificationError):
                _umount(path, "detach the params bind")
            raise


def _remount_read_only(path: str) -> None:
    try:
        _mount(None, path, None, _READ_ONLY | MS_NOSYMFOLLOW, "remount the params read-only")
    except DeviceNodeModificationError as exc:
        if exc.errno != errno.EINVAL:  # kernels before 5.10 know no MS_NOSYMFOLLOW
            raise
        _mount(None, path, None, _READ_ONLY, "remount the params read-only")


def _staged_bind(root: ContainerRoot, data: bytes, target: int) -> int:
    """Write *data* into a staging tmpfs inside the root and bind it onto *target*; the
    device number of the tmpfs."""
    name = f"cdi-hook-{os.urandom(8).hex()}"
    parent = root.makedirs(STAGING_PARENT, 0o755)
    try:
        try:
            # mkdirat fails if anything is there: the directory is ours and fresh.
            os.mkdir(name, 0o700, dir_fd=parent)
            directory = os.open(name, _O_DIR_PATH, dir_fd=parent)
        except OSError as exc:
            message = f"cannot create {STAGING_PARENT}/{name}: {exc.strerror}"
            raise DeviceNodeModificationError(message, errno=exc.errno or 0) from None
        try:
            return _bind_from_tmpfs(parent, name, directory, data, target)
        finally:
            os.close(directory)
            with contextlib.suppress(OSError):
                os.rmdir(name, dir_fd=parent)
    finally:
        os.close(parent)


def _bind_from_tmpfs(parent: int, name: str, directory: int, data: bytes, target: int) -> int:
    options = "size=64k,mode=0700"
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    _mount(
        "tmpfs", proc_fd_path(directory), "tmpfs", flags, "mount the staging tmpfs", data=options
    )
    # The descriptor still names the directory beneath; a new lookup enters the tmpfs.
    mounted = os.open(name, _O_DIR_PATH, dir_fd=parent)
    try:
        staged_dev = os.fstat(mounted).st_dev
        if staged_dev == os.fstat(directory).st_dev:
            raise DeviceNodeModificationError(f"{STAGING_PARENT}/{name} is not the tmpfs mounted")
        fd = os.open(
            STAGED_NAME,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=mounted,
        )
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            os.fchmod(handle.fileno(), 0o444)
        source = os.open(STAGED_NAME, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=mounted)
        try:
            _mount(proc_fd_path(source), proc_fd_path(target), None, MS_BIND, "bind the params")
        finally:
            os.close(source)
        return staged_dev
    finally:
        # The bind holds the tmpfs; the staging mount itself is not needed any more.
        with contextlib.suppress(DeviceNodeModificationError):
            _umount(proc_fd_path(mounted), "detach the staging tmpfs")
        os.close(mounted)


@functools.cache
def _libc() -> Any:
    """libc with mount and umount2 typed (ctypes is imported by this subcommand only)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    text = ctypes.c_char_p
    libc.mount.argtypes = (text, text, text, ctypes.c_ulong, text)
    libc.umount2.argtypes = (text, ctypes.c_int)
    return libc


def _ctypes_errno() -> int:
    import ctypes

    return ctypes.get_errno()


def _mount(
    source: str | None,
    target: str,
    fstype: str | None,
    flags: int,
    what: str,
    *,
    data: str | None = None,
) -> None:
    def encoded(text: str | None) -> bytes | None:
        return None if text is None else os.fsencode(text)

    mount = _libc().mount
    if mount(encoded(source), encoded(target), encoded(fstype), flags, encoded(data)) != 0:
        number = _ctypes_errno()
        raise DeviceNodeModificationError(f"cannot {what}: {os.strerror(number)}", errno=number)


def _umount(target: str, what: str) -> None:
    if _libc().umount2(os.fsencode(target), MNT_DETACH) != 0:
        number = _ctypes_errno()
        message = f"cannot {what}: {os.strerror(number)}"
        raise DeviceNodeModificationError(message, errno=number)
