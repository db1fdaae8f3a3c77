"""Stopping a command cleanly on SIGINT and SIGTERM (no click: builds' fast path uses it)."""

from __future__ import annotations

import contextlib

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Iterator
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
