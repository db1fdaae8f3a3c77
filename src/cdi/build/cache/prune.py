"""Removing entries from a build cache: what ``cdi build prune`` does.

A prune holds the cache's lock exclusively, so no build runs meanwhile: whatever is in
``tmp/`` then was left by a build that was killed, and goes. Entries are chosen by when they
were last used (the mtime of their ``info.json``) and by size, as
:mod:`cdi.build.cache.selection` decides; damaged entries (no readable ``info.json``, no
payload) always go. With the overlay backend a step's entry is only the changes on top of
its parent's layers, so entries stack; with the copy backend each is a whole tree.

An entry is removed by renaming it into ``tmp/`` first, so no build ever sees half of one;
entries stacked on others go before what they stack on. Nothing below a mount point is
deleted: such an entry is reported and kept.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from cdi.build.cache.selection import LEFTOVER, TMP, Entry, Removal, select
from cdi.build.cache.store import (
    BASES,
    DIFF,
    INFO,
    OVERLAY,
    ROOT,
    STEPS,
    BuildCache,
    CacheError,
    disk_usage,
    remove_tree,
)
from cdi.spec.record import record

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


@record
class PruneResult:
    """What a prune removed (or, for a dry run, would remove), and what it could not do."""

    path: Path
    #: ``overlay`` or ``copy``; None when there was no cache.
    backend: str | None
    dry_run: bool
    removed: list[Removal]
    #: One line each: entries that could not be read or removed (the prune went on).
    errors: list[str]

    @property
    def total(self) -> int:
        return sum(removal.entry.size for removal in self.removed)

    def to_json(self) -> dict[str, Any]:
        return {
            "cache": str(self.path),
            "backend": self.backend,
            "dry_run": self.dry_run,
            "removed": [removal.to_json() for removal in self.removed],
            "total": self.total,
            "errors": list(self.errors),
        }


def prune(
    path: Path,
    *,
    keep_duration: float | None = None,
    keep_storage: int | None = None,
    dry_run: bool = False,
    on_wait: Callable[[], None] | None = None,
    now: float | None = None,
) -> PruneResult:
    """Remove entries from the cache at *path* (see the module's description).

    *on_wait* is called once when builds hold the cache and the prune waits for them. A
    missing cache is left missing. Raises :class:`~cdi.build.cache.store.CacheError` when
    the cache cannot be opened; every later problem is in the result's ``errors``.
    """
    path = path.absolute()
    if not _is_cache(path):
        return PruneResult(path=path, backend=None, dry_run=dry_run, removed=[], errors=[])
    cache = _open_exclusive(path, on_wait)
    try:
        entries, leftovers, errors = scan(cache)
        stacked = cache.backend == OVERLAY
        chosen = select(
            entries,
            now=time.time() if now is None else now,
            keep_duration=keep_duration,
            keep_storage=keep_storage,
            stacked=stacked,
        )
        removals = [Removal(entry=leftover, reason=LEFTOVER) for leftover in leftovers] + chosen
        if not dry_run:
            removals = _remove(cache, removals, stacked=stacked, errors=errors)
    finally:
        cache.close()
    return PruneResult(
        path=path, backend=cache.backend, dry_run=dry_run, removed=removals, errors=errors
    )


def _open_exclusive(path: Path, on_wait: Callable[[], None] | None) -> BuildCache:
    cache = BuildCache(path)
    try:
        try:
            cache.open(exclusive=True, wait=False)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            cache.open(exclusive=True, wait=True)
    except OSError as exc:  # flock(2) refused, or the backend could not be recorded
        raise CacheError(f"cannot use the build cache {path}: {_reason(exc)}") from exc
    return cache


def _is_cache(path: Path) -> bool:
    """Whether *path* is a cache (False: there is none). Raises ``CacheError`` for a path
    that holds something else: pruning its ``tmp/`` would delete files that are not ours."""
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise CacheError(f"cannot use the build cache {path}: {_reason(exc)}") from exc
    if "lock" in names:
        return True
    if names:
        raise CacheError(f"{path} is not a build cache (it has no lock file): not pruning it")
    return False


# --- reading the cache ---------------------------------------------------------------------------


def scan(cache: BuildCache) -> tuple[list[Entry], list[Entry], list[str]]:
    """The entries of *cache*, the leftovers in its ``tmp/``, and the directories that could
    not be listed."""
    entries: list[Entry] = []
    errors: list[str] = []
    for kind in (BASES, STEPS):
        for name in _listing(cache.path / kind, errors):
            entries.append(_read_entry(cache, kind, name))
    leftovers = [
        _unrecorded(cache.path / TMP / name, TMP, name, problem=None)
        for name in _listing(cache.path / TMP, errors)
    ]
    return entries, leftovers, errors


def _listing(directory: Path, errors: list[str]) -> list[str]:
    try:
        return sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    except OSError as exc:
        errors.append(f"cannot read {directory}: {_reason(exc)}")
        return []


def _read_entry(cache: BuildCache, kind: str, name: str) -> Entry:
    directory = cache.path / kind / name
    problem = None
    try:
        info_path = directory / INFO
        fields = _info_fields(info_path.read_text(encoding="utf-8"))
        last_used = os.lstat(info_path).st_mtime
    except FileNotFoundError:
        problem = f"no {INFO}"
    except NotADirectoryError:
        problem = "not a directory"
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"unreadable {INFO}: {exc.strerror if isinstance(exc, OSError) else exc}"
    except ValueError as exc:
        problem = f"invalid {INFO}: {exc}"
    if problem is None:
        payload = DIFF if kind == STEPS and cache.backend == OVERLAY else ROOT
        if not os.path.isdir(directory / payload):
            problem = f"no {payload}/"
        elif kind == STEPS and cache.backend == OVERLAY and fields["parent"] is None:
            problem = f"its {INFO} names no parent"
    if problem is not None:
        return _unrecorded(directory, kind, name, problem=problem)
    return Entry(
        kind=kind,
        key=name,
        parent=fields["parent"],
        description=fields["description"],
        last_used=last_used,
        size=fields["size"],
    )


def _info_fields(text: str) -> dict[str, Any]:
    """The fields of an ``info.json`` that a prune uses; ValueError when they are not there."""
    import json

    data = json.loads(text)  # a JSONDecodeError is a ValueError
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    parent, description, size = data.get("parent"), data.get("description"), data.get("size")
    if not (parent is None or isinstance(parent, str)):
        raise ValueError("parent is not a string")
    if not isinstance(description, str):
        raise ValueError("description is not a string")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError("size is not a number of bytes")
    return {"parent": parent, "description": description, "size": size}


def _unrecorded(path: Path, kind: str, name: str, *, problem: str | None) -> Entry:
    """An entry known by its directory only: measured, dated by its mtime."""
    try:
        last_used = os.lstat(path).st_mtime
    except OSError:
        last_used = 0.0
    return Entry(
        kind=kind,
        key=name,
        parent=None,
        description="",
        last_used=last_used,
        size=disk_usage(path),
        problem=problem,
    )


# --- removing ------------------------------------------------------------------------------------


def _remove(
    cache: BuildCache, removals: list[Removal], *, stacked: bool, errors: list[str]
) -> list[Removal]:
    """Remove what *removals* name, in order; the removals that were done."""
    mounts = _mount_points()
    stacked_on: dict[str, list[str]] = {}
    if stacked:
        for removal in removals:
            if removal.entry.parent is not None:
                stacked_on.setdefault(removal.entry.parent, []).append(removal.entry.name)
    failed: set[str] = set()
    done: list[Removal] = []
    for removal in removals:
        entry = removal.entry
        directory = cache.path / entry.kind / entry.key
        staying = [name for name in stacked_on.get(entry.name, ()) if name in failed]
        if staying:
            problem: str | None = f"{staying[0]}, stacked on it, could not be removed"
        else:
            problem = _mounted_in(directory, mounts) or _delete(cache, directory, entry)
        if problem is None:
            done.append(removal)
        else:
            failed.add(entry.name)
            errors.append(f"cannot remove {entry.name}: {problem}")
    return done


def _mounted_in(directory: Path, mounts: list[str]) -> str | None:
    """Why *directory* must not be deleted, if something is mounted in it (deleting would
    delete the mounted files)."""
    real = os.path.realpath(directory)  # mountinfo has real paths
    for mount in mounts:
        if mount == real or mount.startswith(real + os.sep):
            return f"{mount} is a mount point (unmount it first)"
    return None


def _delete(cache: BuildCache, directory: Path, entry: Entry) -> str | None:
    """Delete one entry (moved into ``tmp/`` first) or leftover; why not, if it failed."""
    import tempfile

    try:
        if entry.kind == TMP:
            target = directory
        else:
            # A new directory of our own to move it into: whatever it is (a directory, or
            # the file or link that damaged entries can be), it leaves the cache in one step.
            target = Path(tempfile.mkdtemp(prefix="removing-", dir=cache.path / TMP))
            try:
                os.rename(directory, target / entry.key)
            except OSError:
                with contextlib.suppress(OSError):
                    os.rmdir(target)
                raise
        if target.is_dir() and not target.is_symlink():
            remove_tree(target)  # never follows links
        else:
            os.unlink(target)
    except OSError as exc:
        return _reason(exc)
    return None


def _mount_points() -> list[str]:
    """The mount points of this process's mount namespace (none when that cannot be read)."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return []
    points = []
    for line in lines:
        fields = line.split(" ")
        if len(fields) > 4:
            points.append(_unescape_octal(fields[4]))
    return points


def _unescape_octal(text: str) -> str:
    """A mountinfo field: the kernel writes space, tab, newline and backslash as ``\\NNN``."""
    if "\\" not in text:
        return text
    parts = text.split("\\")
    out = [parts[0]]
    for part in parts[1:]:
        if len(part) >= 3 and all(char in "01234567" for char in part[:3]):
            out.append(chr(int(part[:3], 8)) + part[3:])
        else:
            out.append("\\" + part)
    return "".join(out)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
