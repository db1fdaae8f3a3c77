"""A directory that stands for one fixed place of the host's tree (``/sys``, ``/dev``).

``--sysfs-root /tmp/fake/sys`` means "read ``/tmp/fake/sys`` where you would read ``/sys``".
Sysfs is a web of links (``/sys/module/amdgpu/drivers/pci:amdgpu`` leads to
``/sys/bus/pci/drivers/amdgpu``, whose entries lead into ``/sys/devices``), so links have to be
followed, but never out of the given directory: a generator run on a fake tree must not read
the host's own ``/sys`` or ``/dev``. A :class:`Subtree` resolves every link itself:

* a relative target is followed, and ``..`` may climb up to the subtree's top but not above;
* an absolute target inside the place the subtree stands for (``/sys/devices/...`` in a sysfs
  subtree) is taken from the subtree (a fake tree made with absolute links works, and reads
  only itself);
* any other target (``/etc/...``, ``../../..`` above the top) is refused with
  :class:`OutsideTreeError`: reading it would read the host.

This differs from :mod:`cdi.generate.rootview`, whose roots stand for ``/``: there a link to
``/sys/x`` means ``{root}/sys/x``; here the subtree *is* ``/sys``.

Paths given to a subtree are relative to its top (``module/amdgpu/drivers``).
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat

from cdi.generate.errors import GenerateError
from cdi.generate.rootview import normalize_root
from cdi.globs import compile_pattern, has_magic

__all__ = ["MAX_LINKS", "OutsideTreeError", "Subtree", "SubtreeError"]

#: Links followed in one resolution before giving up (the kernel's own limit).
MAX_LINKS = 40
#: The most bytes read from one attribute file; sysfs attributes are one page at most.
MAX_READ = 64 * 1024


class SubtreeError(GenerateError):
    """A path in a subtree cannot be resolved (a link loop)."""


class OutsideTreeError(SubtreeError):
    """A link in a subtree leads out of it; following it would read the host."""


class Subtree:
    """Reads of host directory *root* as the place *mount_point* (``/sys``, ``/dev``)."""

    def __init__(self, root: str, mount_point: str) -> None:
        self.root = normalize_root(root)
        self.mount_point = normalize_root(mount_point)

    def spelt(self, path: str) -> str:
        """The host path of *path* as written, links not resolved (for messages)."""
        path = path.strip("/")
        if not path:
            return self.root
        return f"{self.root.rstrip('/')}/{path}"

    def resolve(self, path: str) -> str:
        """The host path of *path* with every link on the way resolved inside the subtree.

        Components that do not exist are kept as written, so opening the result fails as
        the path would. Raises :class:`OutsideTreeError` for a link (or a ``..``) that
        leads out, :class:`SubtreeError` after :data:`MAX_LINKS` links.
        """
        done: list[str] = []
        pending = path.split("/")[::-1]
        links = 0
        followed = ""  # the last link followed, to name in an error
        while pending:
            part = pending.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if not done:
                    raise OutsideTreeError(
                        f"{followed or self.spelt(path)} leads outside {self.root}"
                    )
                done.pop()
                continue
            current = self.spelt("/".join([*done, part]))
            try:
                info = os.lstat(current)
            except OSError:
                done.append(part)
                continue
            if not stat.S_ISLNK(info.st_mode):
                done.append(part)
                continue
            links += 1
            if links > MAX_LINKS:
                raise SubtreeError(f"{self.spelt(path)}: {os.strerror(errno.ELOOP)}")
            try:
                target = os.readlink(current)
            except OSError:  # replaced since the lstat: take it as it is now
                done.append(part)
                continue
            followed = f"{current} (a link to {target})"
            if target.startswith("/"):
                target = self._inside(current, target)
                done = []
            pending.extend(reversed(target.split("/")))
        return self.spelt("/".join(done))

    def _inside(self, link: str, target: str) -> str:
        """The absolute link *target* relative to the subtree's top; refused when it names
        a place outside the one the subtree stands for."""
        # Compared component by component, not normalised: a ".." after the top is resolved
        # by the walk (links before it count), never lexically.
        parts = [part for part in target.split("/") if part not in ("", ".")]
        top = [part for part in self.mount_point.split("/") if part]
        if parts[: len(top)] == top:
            return "/".join(parts[len(top) :])
        raise OutsideTreeError(f"{link} (a link to {target}) leads outside {self.root}")

    def is_dir(self, path: str) -> bool:
        try:
            return stat.S_ISDIR(os.lstat(self.resolve(path)).st_mode)
        except OSError:
            return False

    def listdir(self, path: str) -> list[str]:
        """The names in directory *path*, in byte order; empty when it is no directory."""
        host = self.resolve(path)
        try:
            names = os.listdir(host)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as error:
            raise SubtreeError(f"cannot read {host}: {error.strerror}") from error
        return sorted(names)

    def glob(self, pattern: str) -> list[str]:
        """The paths (as written, relative) matching *pattern*, Go's ``filepath.Glob``
        rules per component and its order: byte order within each directory. A directory
        whose link leads out of the tree (``/dev/fd`` on a real host) is passed over; a last
        component that does is returned, for the caller to resolve and report."""
        found = [""]
        parts = [part for part in pattern.split("/") if part]
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            following: list[str] = []
            for directory in found:
                try:
                    names = self.listdir(directory)
                except OutsideTreeError:
                    names = []
                if has_magic(part):
                    regex = compile_pattern(part)
                    names = [name for name in names if regex.fullmatch(name)]
                else:
                    names = [part] if part in names else []
                for name in names:
                    path = posixpath.join(directory, name)
                    if last or self._searchable(path):
                        following.append(path)
            found = following
        return found

    def _searchable(self, path: str) -> bool:
        """Whether a glob goes on below *path*: a directory of this tree."""
        try:
            return self.is_dir(path)
        except SubtreeError:
            return False

    def exists(self, path: str) -> bool:
        """Whether *path* exists (a link: whether its target does)."""
        try:
            os.lstat(self.resolve(path))
        except OSError:
            return False
        return True

    def read_text(self, path: str) -> str:
        """The text of the regular file *path* (at most :data:`MAX_READ` bytes). Never blocks
        on a FIFO, and a link swapped in after the resolution is not followed. Raises
        :class:`OSError`."""
        host = self.resolve(path)
        fd = os.open(host, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EINVAL, "not a regular file", host)
            data = os.read(fd, MAX_READ)
        finally:
            os.close(fd)
        return data.decode("utf-8", errors="replace")
