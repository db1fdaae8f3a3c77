"""The build cache on disk: where it lives, its entries, and how entries appear and go.

Layout of a cache directory::

    backend        "overlay" or "copy": how step results are stored here (chosen once)
    lock           flock(2): every build holds it shared, a prune holds it exclusively
    tmp/           entries are assembled here and renamed into place when complete
    bases/KEY/     a base image's (or directory context's) root filesystem: root/, info.json
    steps/KEY/     a step's result, info.json and either diff/ (overlay: the step's upper
                   directory, to stack on its parent's) or root/ (copy: the whole tree)

An entry directory appears with one ``rename(2)`` of a complete directory, so a build never
sees half an entry, and two builds that make the same entry at once both end up using the one
that was renamed first. An entry is removed by renaming it into ``tmp/`` first, then deleting
it there. The mtime of ``info.json`` is when the entry was last used (by a hit, or as the
parent of one): what ``prune`` goes by.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import time
from pathlib import Path

from cdi.build.cache.mounts import MountError, mount_overlay, unmount
from cdi.build.errors import BuildError
from cdi.build.fs import private_dir
from cdi.jsonout import dumps_indent
from cdi.spec.record import record

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

#: Overrides the default cache directory (tests give each its own).
CACHE_ENV = "CDI_BUILD_CACHE"
#: The cache directory of root.
SYSTEM_DIR = "/var/cache/cdi/build"
OVERLAY = "overlay"
COPY = "copy"
BASES = "bases"
STEPS = "steps"
INFO = "info.json"
#: The payload directory of an entry, by kind of entry and backend.
ROOT = "root"
DIFF = "diff"


class CacheError(BuildError):
    """The cache directory cannot be used."""


def default_cache_dir() -> Path:
    """``$CDI_BUILD_CACHE``; else ``/var/cache/cdi/build`` for root, else the user's
    ``$XDG_CACHE_HOME/cdi/build`` (``~/.cache/cdi/build``)."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    if os.geteuid() == 0:
        return Path(SYSTEM_DIR)
    base = os.environ.get("XDG_CACHE_HOME") or ""
    if not os.path.isabs(base):  # the XDG spec: a relative path is to be ignored
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cdi" / "build"


@record
class EntryInfo:
    """What ``info.json`` of an entry says."""

    #: ``bases`` or ``steps``.
    kind: str
    key: str
    #: The entry this one stacks on (``steps/KEY`` or ``bases/KEY``); None for a base.
    parent: str | None
    #: What made it (``FROM busybox``, ``RUN make``), for listings.
    description: str
    #: Seconds since the epoch.
    created: float
    #: Bytes on disk of the payload.
    size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "parent": self.parent,
            "description": self.description,
            "created": self.created,
            "size": self.size,
        }


def _entries(path: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every entry of the tree at *path* with its ``lstat`` (links not followed). A
    directory is listed only after the caller has had it, so it may open it up first."""
    pending = [str(path)]
    while pending:
        current = pending.pop()
        try:
            info = os.lstat(current)
        except OSError:
            continue
        yield current, info
        if stat.S_ISDIR(info.st_mode):
            with contextlib.suppress(OSError):
                pending.extend(os.path.join(current, name) for name in os.listdir(current))


def disk_usage(path: Path) -> int:
    """Bytes allocated to the tree at *path* (links not followed)."""
    return sum(info.st_blocks * 512 for _, info in _entries(path))


def remove_tree(path: Path) -> None:
    """Delete *path*, a tree of ours, also where its modes forbid it: a build may leave a
    ``chmod 0`` directory behind, which its owner can neither list nor empty until it is
    opened up again. (Only trees nobody else changes meanwhile: entries renamed into
    ``tmp/``, staging directories. Links are never followed.)"""
    for current, info in _entries(path):
        if stat.S_ISDIR(info.st_mode) and info.st_mode & 0o700 != 0o700:
            with contextlib.suppress(OSError):
                os.chmod(current, stat.S_IMODE(info.st_mode) | 0o700)
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path)


class BuildCache:
    """A cache directory, opened by one build (or a prune) for the time it runs."""

    def __init__(self, path: Path) -> None:
        self.path = path.absolute()
        self.backend = COPY
        self._lock_fd: int | None = None

    # --- opening -------------------------------------------------------------------------------

    def open(self, *, exclusive: bool = False, wait: bool = True) -> BuildCache:
        """Create the layout if missing, take the lock, and read (or choose) the backend.

        Raises :class:`CacheError`; with ``wait=False``, ``BlockingIOError`` when another
        process holds the lock the other way.
        """
        import fcntl

        try:
            os.makedirs(self.path, mode=0o700, exist_ok=True)
            for name in ("tmp", BASES, STEPS):
                os.makedirs(self.path / name, mode=0o700, exist_ok=True)
            for directory in (self.path, self.path / "tmp", self.path / BASES, self.path / STEPS):
                _check_private(directory)
            fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise CacheError(f"cannot use the build cache {self.path}: {_reason(exc)}") from exc
        operation = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(fd, operation if wait else operation | fcntl.LOCK_NB)
        except BaseException:
            os.close(fd)
            raise
        self._lock_fd = fd
        self.backend = self._backend()
        return self

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    def _backend(self) -> str:
        """The backend recorded in the cache, else the best this host allows (recorded)."""
        recorded = self.path / "backend"
        with contextlib.suppress(FileNotFoundError):
            text = recorded.read_text(encoding="utf-8").strip()
            if text in (OVERLAY, COPY):
                return text
        chosen = OVERLAY if self._overlay_works() else COPY
        staged = self.staging()
        (staged / "backend").write_text(chosen + "\n", encoding="utf-8")
        try:
            # A link never replaces: a build that chose at the same time and recorded its
            # choice first has won (two backends in one cache would miss each other).
            os.link(staged / "backend", recorded)
        except FileExistsError:
            if recorded.read_text(encoding="utf-8").strip() not in (OVERLAY, COPY):
                os.replace(staged / "backend", recorded)
        finally:
            remove_tree(staged)
        return recorded.read_text(encoding="utf-8").strip()

    def _overlay_works(self) -> bool:
        """Whether an overlay mount with its upper directory in this cache works here.

        It needs root, and a file system for the upper directory that overlayfs accepts
        (not an overlay itself, as in many containers).
        """
        if os.geteuid() != 0:
            return False
        probe = self.staging()
        try:
            for name in ("lower", "upper", "work", "merged"):
                os.mkdir(probe / name)
            mount_overlay(probe / "merged", [probe / "lower"], probe / "upper", probe / "work")
        except (MountError, OSError):
            return False
        else:
            unmount(probe / "merged")
            return True
        finally:
            remove_tree(probe)

    # --- entries -------------------------------------------------------------------------------

    def payload_name(self, kind: str) -> str:
        return DIFF if kind == STEPS and self.backend == OVERLAY else ROOT

    def entry(self, kind: str, key: str) -> Path:
        return self.path / kind / key

    def lookup(self, kind: str, key: str) -> Path | None:
        """The payload directory of entry *kind*/*key*, marked as used now; None if absent."""
        entry = self.entry(kind, key)
        payload = entry / self.payload_name(kind)
        try:
            os.utime(entry / INFO)
        except FileNotFoundError:
            return None
        return payload if payload.is_dir() else None

    def touch(self, payload: Path) -> None:
        """Mark the entry of *payload* as used now (a parent of an entry that was hit)."""
        with contextlib.suppress(OSError):
            os.utime(payload.parent / INFO)

    def staging(self) -> Path:
        """A new, empty directory to assemble an entry in."""
        return private_dir(self.path / "tmp", "new-")

    def publish(
        self, staged: Path, kind: str, key: str, *, parent: str | None, description: str
    ) -> Path:
        """Make the assembled *staged* directory entry *kind*/*key*; its payload directory.

        If another build published the same entry first, *staged* is deleted and theirs is
        used: equal keys mean equal contents.
        """
        payload_name = self.payload_name(kind)
        info = EntryInfo(
            kind=kind,
            key=key,
            parent=parent,
            description=description,
            created=time.time(),
            size=disk_usage(staged / payload_name),
        )
        (staged / INFO).write_text(dumps_indent(info.to_json()) + "\n", encoding="utf-8")
        entry = self.entry(kind, key)
        try:
            os.rename(staged, entry)
        except OSError:
            if (entry / INFO).is_file() and (entry / payload_name).is_dir():
                remove_tree(staged)  # another build's, complete: the same content
                return entry / payload_name
            # A damaged entry (someone removed part of it) would make the step run on every
            # build and never be stored: it is moved aside and replaced.
            trash = private_dir(self.path / "tmp", "removing-")
            os.rename(entry, trash / key)
            os.rename(staged, entry)
            remove_tree(trash)
        return entry / payload_name


def _check_private(directory: Path) -> None:
    """Refuse a cache directory someone else could have put entries in: a build would take
    their files for its own results (and run as root, often)."""
    info = os.stat(directory)
    if info.st_uid != os.geteuid():
        raise CacheError(
            f"refusing to use the build cache {directory}: it belongs to uid {info.st_uid}, "
            f"not to this user ({os.geteuid()})"
        )
    if info.st_mode & 0o022:
        raise CacheError(
            f"refusing to use the build cache {directory}: group or others may write to it "
            f"(mode {info.st_mode & 0o7777:04o})"
        )


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
