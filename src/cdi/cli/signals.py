"""Stopping a command cleanly on SIGINT and SIGTERM (no click: builds' fast path uses it).

Two ways: :func:`stop_on_signals` interrupts what runs (``KeyboardInterrupt``), for commands
whose clean-up is in ``finally`` blocks; :func:`stop_signals` only sets a flag that a loop
waits on, for loops whose work in progress (writing a file) must always complete.
"""

from __future__ import annotations

import contextlib

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any


@contextlib.contextmanager
def stop_on_signals() -> Iterator[list[int]]:
    """Turn SIGINT and SIGTERM into :class:`KeyboardInterrupt` while the block runs.

    So that a command cleans up (a container, a watcher) when stopped either way, also
    where SIGINT was ignored (a shell's background job). Yields the list of the signals
    received. Outside the main thread (no handlers can be set there) it does nothing.
    """
    import signal
    import threading  # only the commands that run something need these

    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def interrupt(signum: int, frame: Any) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def stop_signals() -> Iterator[Callable[[float], bool]]:
    """A wait function that returns true as soon as SIGTERM or SIGINT arrives (and at once
    after that); the signals only set a flag, so a write in progress always completes.
    Outside the main thread no handler can be set and the wait only sleeps."""
    import signal
    import threading

    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop.wait
        return

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop.wait
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
