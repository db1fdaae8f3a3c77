"""All access of a hook to a container's root filesystem, confined to that root.

The container root is hostile: anything in it may be a symbolic link to a host path, a chain
of ``..``, or be swapped for a link while a hook runs (CVE-2024-0132 was exactly such a
race). So no path inside the root is ever handed to the kernel as a string from the host's
``/``. A path is resolved from a descriptor of the root, one component at a time, with links
and ``..`` interpreted as if the root were ``/`` (``openat2(RESOLVE_IN_ROOT)`` where the kernel
has it, else the same walk done here with ``O_PATH|O_NOFOLLOW`` descriptors), and every
create, rename, chmod and write then happens relative to the descriptor of the directory
found. Whatever the container does meanwhile, it can only change *which* object inside the
root we reach, never lead us out of it.

Error messages name the container path, never a host path reached through the container.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from types import TracebackType

from cdi.hooks import resolve

_NAME_MAX = 255


def _temporary_name(name: str) -> str:
    """A fresh hidden name next to *name*, for building an entry before renaming it over."""
    suffix = os.urandom(8).hex()  # not the secrets module: its import costs start time
    candidate = f".{name}-{suffix}"
    return candidate if len(candidate) <= _NAME_MAX else f".cdi-hook-{suffix}"


def proc_fd_path(fd: int) -> str:
    """The /proc path of descriptor *fd*, for calls (mount, chmod) that take no descriptor."""
    return f"/proc/self/fd/{fd}"


class ContainerRoot:
    """A container's root filesystem, opened once; every path given to it is inside it.

    Container paths are absolute or relative to the root's ``/``. With *use_openat2* left
    ``None`` the kernel's openat2 is used when it works; ``False`` forces the descriptor walk.
    """

    def __init__(self, path: str, *, use_openat2: bool | None = None) -> None:
        # The root itself is a trusted host path (from the OCI state), so it may be followed.
        self._fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self._host_path = path
        self._openat2 = resolve.openat2_works() if use_openat2 is None else use_openat2

    @property
    def host_path(self) -> str:
        """The host path the root was opened from (trusted: it came from the runtime)."""
        return self._host_path

    @property
    def fd(self) -> int:
        """The O_PATH descriptor of the root (owned by this object)."""
        return self._fd

    @property
    def uses_openat2(self) -> bool:
        """Whether resolution goes through the kernel's openat2 (else the descriptor walk)."""
        return self._openat2

    proc_fd_path = staticmethod(proc_fd_path)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> ContainerRoot:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- resolution -------------------------------------------------------------------------

    def resolve(self, path: str, *, follow_last: bool = True) -> int:
        """An O_PATH descriptor (the caller closes it) of *path* resolved inside the root.

        With *follow_last* false a final symbolic link is not followed (the link itself).
        Raises FileNotFoundError, NotADirectoryError or OSError(ELOOP) naming *path*.
        """
        return resolve.resolve(self._fd, path, follow_last=follow_last, kernel=self._openat2)

    @contextlib.contextmanager
    def opened(self, path: str, *, follow_last: bool = True) -> Iterator[int]:
        """:meth:`resolve` as a context manager that closes the descriptor."""
        fd = self.resolve(path, follow_last=follow_last)
        try:
            yield fd
        finally:
            os.close(fd)

    # -- queries ----------------------------------------------------------------------------

    def _stat(self, path: str, follow: bool) -> os.stat_result | None:
        try:
            fd = self.resolve(path, follow_last=follow)
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            return os.fstat(fd)
        finally:
            os.close(fd)

    def lstat(self, path: str) -> os.stat_result | None:
        """The status of *path* (a final link itself, not its target), None if missing."""
        return self._stat(path, False)

    def stat(self, path: str) -> os.stat_result | None:
        """The status of *path* with links followed inside the root, None if missing."""
        return self._stat(path, True)

    def exists(self, path: str, *, follow_symlinks: bool = True) -> bool:
        return self._stat(path, follow_symlinks) is not None

    def is_regular_file(self, path: str) -> bool:
        """Whether *path*, links followed inside the root, is a regular file."""
        status = self._stat(path, True)
        return status is not None and stat.S_ISREG(status.st_mode)

    def readlink(self, path: str) -> str | None:
        """The verbatim target of the link *path*; None if missing or not a link."""
        try:
            fd = self.resolve(path, follow_last=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            if not stat.S_ISLNK(os.fstat(fd).st_mode):
                return None
            return os.readlink("", dir_fd=fd)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _directory(self, path: str) -> Iterator[int]:
        """A readable descriptor of the directory *path* (links followed inside the root)."""
        with self.opened(path) as fd:
            try:
                # "." of the descriptor we hold: exactly the object resolved, not a name.
                directory = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
            except OSError as exc:
                raise resolve.error(exc.errno, path) from None
        try:
            yield directory
        finally:
            os.close(directory)

    def listdir(self, path: str) -> list[str]:
        """The sorted entry names of the directory *path*."""
        with self._directory(path) as fd:
            return sorted(os.listdir(fd))

    def entries(self, path: str) -> list[tuple[str, os.stat_result]]:
        """The sorted entries of the directory *path*, each with its lstat."""
        result = []
        with self._directory(path) as fd:
            for name in sorted(os.listdir(fd)):
                with contextlib.suppress(FileNotFoundError):  # removed since listed
                    result.append((name, os.stat(name, dir_fd=fd, follow_symlinks=False)))
        return result

    def read_file(self, path: str, limit: int) -> bytes:
        """The content of the regular file *path* (a final link is refused), at most *limit*."""
        return self._read(path, limit, follow=False)

    def _read(self, path: str, limit: int, *, follow: bool) -> bytes:
        with self.opened(path, follow_last=follow) as fd:
            mode = os.fstat(fd).st_mode
            if stat.S_ISLNK(mode):
                raise resolve.error(errno.ELOOP, path, "is a symbolic link")
            if not stat.S_ISREG(mode):
                raise resolve.error(errno.EINVAL, path, "not a regular file")
            # Reopen the inode we checked (never a device or FIFO: no open side effects).
            try:
                handle = os.open(proc_fd_path(fd), os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY)
            except OSError as exc:
                raise resolve.error(exc.errno, path) from None
        with os.fdopen(handle, "rb") as file:
            data = file.read(limit + 1)
        if len(data) > limit:
            raise resolve.error(errno.EFBIG, path, f"larger than {limit} bytes")
        return data

    # -- changes ----------------------------------------------------------------------------

    def makedirs(self, path: str, mode: int = 0o755) -> int:
        """A readable descriptor of the directory *path*, creating missing ones with *mode*.

        Links among the components are followed inside the root; each missing directory is
        created with mkdirat relative to its parent's descriptor. The caller closes it.
        """
        parts = resolve.split(path)
        try:
            fd = self.resolve(path)
        except FileNotFoundError:
            fd = resolve.walk(self._fd, parts, path, create_mode=mode)
        try:
            return os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
        except OSError as exc:
            raise resolve.error(exc.errno, path) from None
        finally:
            os.close(fd)

    def _rename_into(self, dir_fd: int, temporary: str, name: str, path: str) -> None:
        """Rename *temporary* over *name* in *dir_fd*; remove it if that fails."""
        try:
            os.rename(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=dir_fd)
            if exc.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
                raise resolve.error(
                    errno.EISDIR, path, "is a directory; refusing to replace it"
                ) from None
            raise resolve.error(exc.errno, path) from None

    def replace_symlink(self, path: str, target: str, *, parent_mode: int = 0o755) -> bool:
        """Make *path* a link to the verbatim *target*; False if it already was one.

        Missing parents are created; any existing entry but a directory is replaced
        atomically (a temporary link renamed over it). The target is not interpreted here.
        """
        if not target or "\0" in target:
            raise resolve.error(errno.EINVAL, path, "invalid link target")
        parent, name = resolve.split_parent(path)
        dir_fd = self.makedirs(parent, parent_mode)
        try:
            with contextlib.suppress(OSError):
                if os.readlink(name, dir_fd=dir_fd) == target:
                    return False
            temporary = _temporary_name(name)
            try:
                os.symlink(target, temporary, dir_fd=dir_fd)
            except OSError as exc:
                raise resolve.error(exc.errno, path) from None
            self._rename_into(dir_fd, temporary, name, path)
            return True
        finally:
            os.close(dir_fd)

    def write_file(
        self,
        path: str,
        data: bytes,
        mode: int,
        *,
        parent_mode: int = 0o755,
        exclusive: bool = False,
    ) -> None:
        """Replace *path* atomically by a regular file with *data* and exactly *mode*.

        Never writes through a link at *path*: the link itself is replaced, or with
        *exclusive* any existing entry is an error (FileExistsError).
        """
        parent, name = resolve.split_parent(path)
        dir_fd = self.makedirs(parent, parent_mode)
        try:
            temporary = _temporary_name(name)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                fd = os.open(temporary, flags, 0o600, dir_fd=dir_fd)
            except OSError as exc:
                raise resolve.error(exc.errno, path) from None
            try:
                with os.fdopen(fd, "wb") as handle:
                    os.fchmod(handle.fileno(), mode)
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                if exclusive:
                    # link() fails atomically if anything (even a dangling link) is there.
                    os.link(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                    os.unlink(temporary, dir_fd=dir_fd)
                    return
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.unlink(temporary, dir_fd=dir_fd)
                raise resolve.error(exc.errno, path) from None
            self._rename_into(dir_fd, temporary, name, path)
        finally:
            os.close(dir_fd)

    def append_file(self, path: str, data: bytes, *, limit: int = 1 << 20) -> None:
        """Add *data* at the end of *path* (created 0644 if missing), replacing it atomically.

        A final link is read through (inside the root) and replaced by a regular file.
        """
        status = self.stat(path)
        existing = b"" if status is None else self._read(path, limit, follow=True)
        if existing and not existing.endswith(b"\n"):
            existing += b"\n"
        mode = 0o644 if status is None else stat.S_IMODE(status.st_mode)
        self.write_file(path, existing + data, mode)

    def chmod(self, path: str, mode: int) -> bool:
        """Set the mode of *path* (links followed inside the root); False if it had it."""
        with self.opened(path) as fd:
            current = os.fstat(fd).st_mode
            if stat.S_IMODE(current) == mode:
                return False
            if stat.S_ISLNK(current):  # cannot happen after following; never chmod through one
                raise resolve.error(errno.ELOOP, path)
            try:
                if stat.S_ISDIR(current):
                    directory = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
                    try:
                        os.fchmod(directory, mode)
                    finally:
                        os.close(directory)
                else:
                    # fchmod does not take an O_PATH descriptor; its /proc magic link names
                    # exactly the inode resolved (a non-link), whatever happened to the name.
                    os.chmod(proc_fd_path(fd), mode)
            except OSError as exc:
                raise resolve.error(exc.errno, path) from None
            return True
