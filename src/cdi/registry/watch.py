"""Watching spec directories with inotify, from one background thread.

The thread collects events until they stop for a moment (debouncing a producer that writes
many files), then calls back once. It never reads files itself: the registry's incremental
refresh does that. Readers need not wait for the debounce: :meth:`Watcher.sync` takes in
every event queued so far and returns the watcher's *generation*, a count of the changes it
has taken in, so a registry can compare it with the generation its last scan covered and
refresh on access.

Why a generation is enough (the registry's docstring states what it promises): inotify
queues an event before the system call that caused it returns, so when :meth:`sync` is
called the event of every finished write is still queued, or being taken in, or counted.
Taking events in (by the thread or by a reader) and counting them happen together under one
lock. Adding a watch counts as a change too, because files put into a directory before it
was watched made no event.

:meth:`sync` runs on every access, from any number of threads, so when nothing is pending
it takes no lock: a lock taken on every access makes threads queue up behind whichever one
the interpreter switched away from while it held it. Its lock-free checks are ordered so
that none can miss a change (see :meth:`sync`).

Directories that do not exist yet (or were removed) are retried about once a second and on
access; when one appears the callback runs. If inotify cannot be used at all, constructing
:class:`Watcher` raises :class:`OSError` and the registry falls back to refreshing on access.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from inotify_simple import INotify, flags  # type: ignore[import-untyped]

from cdi.registry.listing import SPEC_SUFFIXES
from cdi.registry.scan import SpecDirError

__all__ = ["Watcher"]

_log = logging.getLogger(__name__)

_DIR_EVENTS = (
    flags.CREATE
    | flags.DELETE
    | flags.MODIFY
    | flags.CLOSE_WRITE
    | flags.ATTRIB
    | flags.MOVED_FROM
    | flags.MOVED_TO
    | flags.DELETE_SELF
    | flags.MOVE_SELF
    | flags.ONLYDIR
)
_GONE = flags.DELETE_SELF | flags.MOVE_SELF | flags.IGNORED
#: Upper bound on how long a steady stream of events can postpone the callback.
_MAX_DELAY = 0.5


def _reason(err: OSError) -> str:
    text = err.strerror or str(err)
    return text[:1].lower() + text[1:]


class Watcher:
    """inotify watches on *dirs*; *on_change* runs in the watcher thread after changes."""

    def __init__(
        self,
        dirs: Sequence[str],
        on_change: Callable[[], None],
        *,
        debounce: float = 0.05,
        retry_interval: float = 1.0,
    ) -> None:
        self._dirs = list(dirs)
        self._on_change = on_change
        self._debounce = debounce
        self._retry_interval = retry_interval
        # One lock for the watches, the generation and every read of the event queue: a
        # reader that holds it sees no read half done, so "not queued" means "counted".
        # Re-entrant: a finalizer closing the watcher may run in a thread that holds it.
        self._lock = threading.RLock()
        self._watches: dict[int, list[str]] = {}
        self._unwatched: dict[str, SpecDirError] = {}
        self._generation = 0
        self._announced = 0  # the generation the thread last called back for
        self._busy = False  # under the lock, from before events leave the queue until counted
        self.alive = True
        self._inotify = INotify(nonblocking=True)
        try:
            self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            self._inotify.close()
            raise
        with self._busy_lock():
            for directory in self._dirs:
                self._add(directory)
            # The registry scans right after creating a watcher: nothing to announce yet.
            self._announced = self._generation
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="cdi-registry-watch", daemon=True)
        self._thread.start()

    def errors(self) -> dict[str, SpecDirError]:
        """Directories not watched now, with the reason."""
        with self._lock:
            return dict(self._unwatched)

    def sync(self) -> tuple[int, bool]:
        """Take in every event queued so far, and try the unwatched directories again.

        Returns ``(generation, unwatchable)``. Every change that finished before the call is
        counted in *generation* by the time it returns, unless it happened in a directory
        that exists but cannot be watched; *unwatchable* says there is one (its changes can
        only be found by rescanning).
        """
        # Without the lock, in this order: (1) nothing queued, so every finished write's
        # event has been read; (2) no one busy, so whoever read it has counted it (a read
        # starts after `_busy` is set, which is cleared after counting); (3) no unwatched
        # directory exists (one that is being added was counted before it left the list);
        # (4) the generation, read last, includes all of that. This relies on each thread's
        # reads and writes of these attributes taking effect in program order (the GIL's).
        if not self._queued() and not self._busy and not self._unwatched_exist():
            return self._generation, False
        with self._busy_lock():
            self._drain()
            # After draining: a directory removed just now is retried at once.
            unwatchable = self._retry() if self._unwatched else False
            return self._generation, unwatchable

    @contextlib.contextmanager
    def _busy_lock(self) -> Iterator[None]:
        """The lock, for work that reads events or adds watches (see :meth:`sync`)."""
        with self._lock:
            outer, self._busy = self._busy, True  # re-entered: the outer section still works
            try:
                yield
            finally:
                self._busy = outer

    def _queued(self) -> bool:
        try:
            # A poll object of its own: one shared by threads refuses concurrent polls.
            poller = select.poll()
            poller.register(self._inotify.fileno(), select.POLLIN)
            return bool(poller.poll(0))
        except (OSError, ValueError):  # closed under us: take the slow path, which tells
            return True

    def _unwatched_exist(self) -> bool:
        # A directory still missing holds nothing to see; one that exists must be watched
        # (or, if it cannot be, rescanned). tuple() copies the keys without a thread switch.
        return any(os.path.isdir(directory) for directory in tuple(self._unwatched))

    # -- under the lock ---------------------------------------------------------------------

    def _add(self, directory: str) -> bool:
        try:
            wd = self._inotify.add_watch(directory, _DIR_EVENTS)
        except (OSError, ValueError) as err:
            if (
                directory not in self._unwatched
                or not isinstance(err, OSError)
                or (err.errno not in (errno.ENOENT, errno.ENOTDIR))
            ):
                reason = _reason(err) if isinstance(err, OSError) else str(err)
                self._unwatched[directory] = SpecDirError(
                    f"failed to monitor for changes: {reason}", directory
                )
            return False
        dirs = self._watches.setdefault(wd, [])
        if directory not in dirs:
            dirs.append(directory)
        # Whatever the directory held before this moment made no event: count it as changed,
        # before it stops looking unwatched to the lock-free check in sync().
        self._generation += 1
        self._unwatched.pop(directory, None)
        return True

    def _retry(self) -> bool:
        """Try to watch the unwatched directories; whether one exists but still cannot be."""
        unwatchable = False
        for directory in list(self._unwatched):
            if not self._add(directory) and os.path.isdir(directory):
                unwatchable = True
        return unwatchable

    def _drain(self) -> None:
        """Read the queued events; count them as one change if any concerns spec files or
        the directories themselves (also their owner or mode)."""
        try:
            events = self._inotify.read(timeout=0)
        except (OSError, ValueError):  # unreadable or closed: anything may have changed
            self._generation += 1
            return
        relevant = False
        for event in events:
            if event.mask & flags.Q_OVERFLOW:
                relevant = True
            elif event.mask & _GONE:
                self._forget(event.wd, event.mask)
                relevant = True
            elif event.name.endswith(SPEC_SUFFIXES):
                relevant = True
            elif event.mask & flags.ATTRIB and not event.name:
                # The directory's own owner or mode: the trust policy judges its files by it.
                relevant = True
        if relevant:
            self._generation += 1

    def _forget(self, wd: int, mask: int) -> None:
        for directory in self._watches.pop(wd, []):
            self._unwatched[directory] = SpecDirError("directory removed", directory)
        if not mask & flags.IGNORED:
            # A moved directory keeps its watch, but this path no longer names it.
            with contextlib.suppress(OSError, ValueError):
                self._inotify.rm_watch(wd)

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the thread and release the inotify instance (idempotent)."""
        if self._stopping:
            return
        self._stopping = True
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"x")
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)
        self.alive = False
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)
        with self._lock:  # not while a reader is in sync()
            self._inotify.close()

    # -- the thread -------------------------------------------------------------------------

    def _wait(self, timeout: float | None) -> tuple[bool, bool]:
        """Block until events or a wake-up; returns ``(events, stop)``."""
        # poll, not select: descriptors may be numbered beyond select's FD_SETSIZE.
        try:
            poller = select.poll()
            poller.register(self._inotify.fileno(), select.POLLIN)
            poller.register(self._wake_read, select.POLLIN)
            ready = {fd for fd, _ in poller.poll(None if timeout is None else timeout * 1000)}
        except (OSError, ValueError):
            return False, True
        return self._inotify.fileno() in ready, self._stopping or self._wake_read in ready

    def _take(self) -> None:
        with self._busy_lock():
            self._drain()

    def _run(self) -> None:
        try:
            while not self._stopping:
                timeout = self._retry_interval if self._unwatched else None
                events, stop = self._wait(timeout)
                if stop:
                    return
                if events:
                    self._take()
                    deadline = time.monotonic() + _MAX_DELAY
                    while time.monotonic() < deadline:
                        more, stop = self._wait(self._debounce)
                        if stop:
                            return
                        if not more:
                            break
                        self._take()
                if self._unwatched:
                    with self._busy_lock():
                        self._retry()
                # Also for changes a reader took in: its refresh may not have run yet, and
                # the callback's refresh is a no-op when it did.
                generation = self._generation
                if generation != self._announced:
                    self._announced = generation
                    try:
                        self._on_change()
                    except Exception:  # the thread must survive a failing refresh
                        _log.exception("refreshing the CDI registry failed")
        except Exception:  # pragma: no cover - defensive: fall back to refresh on access
            _log.exception("the CDI spec directory watcher stopped")
        finally:
            self.alive = False
