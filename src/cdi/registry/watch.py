"""Watching spec directories with inotify, from one background thread.

The thread collects events until they stop for a moment (debouncing a producer that writes
many files), then calls back once. It never reads files itself: the registry's incremental
refresh does that. Readers need not wait for the debounce: :attr:`Watcher.consumed` and
:meth:`Watcher.readable` tell them that events arrived which no refresh has covered yet, so a
registry can refresh on access and never serve a view older than a finished write.

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
from collections.abc import Callable, Sequence

from inotify_simple import INotify, flags  # type: ignore[import-untyped]

from cdi.registry.scan import SPEC_SUFFIXES, SpecDirError

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
        self._lock = threading.Lock()
        self._watches: dict[int, list[str]] = {}
        self._unwatched: dict[str, SpecDirError] = {}
        #: Incremented before each batch of events is read; see the module docstring.
        self.consumed = 0
        self.alive = True
        self._inotify = INotify(nonblocking=True)
        try:
            self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            self._inotify.close()
            raise
        for directory in self._dirs:
            self._add(directory)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="cdi-registry-watch", daemon=True)
        self._thread.start()

    def errors(self) -> dict[str, SpecDirError]:
        """Directories not watched now, with the reason."""
        with self._lock:
            return dict(self._unwatched)

    def readable(self) -> bool:
        """Whether events are waiting to be read (a change not yet seen by anyone)."""
        try:
            poller = select.poll()
            poller.register(self._inotify.fileno(), select.POLLIN)
            return bool(poller.poll(0))
        except (OSError, ValueError):  # closed under us
            return False

    def has_unwatched(self) -> bool:
        return bool(self._unwatched)

    def retry(self) -> tuple[bool, bool]:
        """Try to watch the unwatched directories again.

        Returns ``(added, unwatchable)``: whether one is watched now, and whether one exists
        but still cannot be watched (its changes must then be found by rescanning).
        """
        added = unwatchable = False
        with self._lock:
            pending = list(self._unwatched)
        for directory in pending:
            if self._add(directory):
                added = True
            elif os.path.isdir(directory):
                unwatchable = True
        return added, unwatchable

    def _add(self, directory: str) -> bool:
        with self._lock:
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
            self._unwatched.pop(directory, None)
            return True

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

    def _run(self) -> None:
        try:
            while not self._stopping:
                timeout = self._retry_interval if self._unwatched else None
                events, stop = self._wait(timeout)
                if stop:
                    return
                relevant = self._drain() if events else False
                if events:
                    deadline = time.monotonic() + _MAX_DELAY
                    while time.monotonic() < deadline:
                        more, stop = self._wait(self._debounce)
                        if stop:
                            return
                        if not more:
                            break
                        relevant = self._drain() or relevant
                if self._unwatched:
                    added, _ = self.retry()
                    relevant = relevant or added
                if relevant:
                    try:
                        self._on_change()
                    except Exception:  # the thread must survive a failing refresh
                        _log.exception("refreshing the CDI registry failed")
        except Exception:  # pragma: no cover - defensive: fall back to refresh on access
            _log.exception("the CDI spec directory watcher stopped")
        finally:
            self.alive = False

    def _drain(self) -> bool:
        """Read the pending events; whether any concerns spec files or the directories."""
        self.consumed += 1
        relevant = False
        try:
            events = self._inotify.read(timeout=0)
        except OSError:
            return True
        for event in events:
            if event.mask & flags.Q_OVERFLOW:
                relevant = True
            elif event.mask & _GONE:
                self._forget(event.wd, event.mask)
                relevant = True
            elif event.name.endswith(SPEC_SUFFIXES):
                relevant = True
        return relevant

    def _forget(self, wd: int, mask: int) -> None:
        with self._lock:
            dirs = self._watches.pop(wd, [])
            for directory in dirs:
                self._unwatched[directory] = SpecDirError("directory removed", directory)
        if not mask & flags.IGNORED:
            # A moved directory keeps its watch, but this path no longer names it.
            with contextlib.suppress(OSError):
                self._inotify.rm_watch(wd)
