"""Fingerprints of what a generator reads: cheap to take every few seconds, and different as
soon as one of its inputs changed.

A generator's inputs are paths under its roots: the driver module's sysfs directory and
version file, the sysfs directories it scans, the ``/dev`` directories that hold its nodes.
The fingerprint of a path is its ``lstat`` data (type, inode, mode, owner, device numbers,
and the mtime of files and directories), a link's target, a directory's entries (each name
with its own ``lstat`` data and link target) and, for a small regular file such as a
``version`` attribute, its content: a module reloaded, a node renumbered or re-permissioned,
a device bound to another driver all show.

Polling keeps the dependencies short (no inotify) and also works on sysfs, whose attributes
inotify does not report. Everything is read through a :class:`~cdi.generate.subtree.Subtree`
standing for ``/sys`` or ``/dev``, as the generators read it: links are followed inside the
given directory only (an absolute ``/sys/...`` link in a fake sysfs stays in the fake tree),
and a link that leads out is recorded as such, never followed. A missing path is simply
absent from the fingerprint, so its appearance changes it.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterable
from dataclasses import dataclass

from cdi.generate.subtree import Subtree, SubtreeError

__all__ = ["CONTENT_LIMIT", "Fingerprint", "Watched", "fingerprint"]

#: How much of a regular file goes into the fingerprint: sysfs attributes are one page.
CONTENT_LIMIT = 4096

Fingerprint = tuple[object, ...]


@dataclass(frozen=True)
class Watched:
    """A path a generator reads: *pattern* (relative, glob magic allowed) in the directory
    *root* that stands for *mount_point* (``/sys`` or ``/dev``)."""

    root: str
    mount_point: str
    pattern: str

    def describe(self) -> str:
        """The host spelling of the pattern, for messages."""
        return Subtree(self.root, self.mount_point).spelt(self.pattern)


def fingerprint(watched: Iterable[Watched]) -> Fingerprint:
    """The state of every path *watched* names, as a value that compares equal exactly when
    nothing observable about them changed. Reads afresh every time."""
    parts: list[object] = []
    for item in watched:
        tree = Subtree(item.root, item.mount_point)
        try:
            matches = tree.glob(item.pattern)
        except SubtreeError as err:  # a link out of the tree, a loop: the generator says so
            parts.append((item, "error", str(err)))
            continue
        parts.append((item, tuple(_path_state(tree, path) for path in matches)))
    return tuple(parts)


def _path_state(tree: Subtree, path: str) -> tuple[object, ...]:
    """One matched path: its own ``lstat`` data (a link's target), then what it leads to."""
    parent, name = posixpath.split(path)
    try:
        host = posixpath.join(tree.resolve(parent), name) if name else tree.root
        final = tree.resolve(path)
    except SubtreeError as err:
        return (path, "error", str(err))
    info = _lstat(host)
    if info is None:
        return (path, None)
    own = _entry_state(host, info)
    if final != host:
        info = _lstat(final)
        if info is None:
            return (path, own, None)
    if stat.S_ISDIR(info.st_mode):
        return (path, own, _listing(final))
    if stat.S_ISREG(info.st_mode):
        return (path, own, _entry_state(final, info), _content(final))
    return (path, own, _entry_state(final, info))


def _lstat(host: str) -> os.stat_result | None:
    try:
        return os.lstat(host)
    except OSError:
        return None


def _entry_state(host: str, info: os.stat_result) -> tuple[object, ...]:
    kind = stat.S_IFMT(info.st_mode)
    link = _readlink(host) if kind == stat.S_IFLNK else None
    # A device node's mtime moves when it is written to (ttys): not a change of the node.
    mtime = None if kind in (stat.S_IFCHR, stat.S_IFBLK) else info.st_mtime_ns
    return (kind, info.st_ino, info.st_mode, info.st_uid, info.st_gid, info.st_rdev, mtime, link)


def _readlink(host: str) -> str | None:
    try:
        return os.readlink(host)
    except OSError:
        return None


def _listing(host: str) -> tuple[object, ...]:
    """The entries of the directory *host*, sorted by name, each with its ``lstat`` data."""
    found: list[tuple[str, tuple[object, ...]]] = []
    try:
        with os.scandir(host) as entries:
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue  # gone between the listing and the stat: the next poll sees it
                found.append((entry.name, _entry_state(entry.path, info)))
    except OSError:
        return ()
    found.sort()
    return tuple(found)


def _content(host: str) -> bytes | None:
    """The first :data:`CONTENT_LIMIT` bytes of the regular file *host* (already resolved
    inside the root); ``None`` when it cannot be read (a write-only attribute)."""
    try:
        fd = os.open(host, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, CONTENT_LIMIT)
    except OSError:
        return None
    finally:
        os.close(fd)
