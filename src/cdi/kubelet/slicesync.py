"""Keeping the published ResourceSlices current: at start, after every change, retrying.

Publishing talks to the API server, which may be slow or away (an agent often starts before
the network is fully up). So it runs in a thread of its own, never in a registry watcher's
callback or in a kubelet call: :meth:`SliceSync.changed` only wakes that thread. A failed
publish is logged and tried again after a delay that grows to a minute; a change meanwhile
tries at once. Changes that come while a publish runs lead to one more publish, not one each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from cdi.kubelet.log import AgentLog

#: Seconds to wait before retrying, after the first, second, ... failure in a row.
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class Publisher(Protocol):
    def publish(self, devices: list[dict[str, Any]]) -> None: ...


class SliceSync:
    """Publishes ``devices()`` through *publisher* now and whenever :meth:`changed` is
    called, until :meth:`stop`. ``published`` counts the publishes that succeeded."""

    def __init__(
        self,
        publisher: Publisher,
        devices: Callable[[], list[dict[str, Any]]],
        log: AgentLog,
        *,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ) -> None:
        self._publisher = publisher
        self._devices = devices
        self._log = log
        self._retry_delays = retry_delays
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._condition = threading.Condition()
        self.published = 0

    def start(self) -> None:
        self._wake.set()  # the first publish
        self._thread = threading.Thread(target=self._run, name="slice-sync", daemon=True)
        self._thread.start()

    def changed(self) -> None:
        """What is published may be out of date: publish again (soon, in the thread)."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop publishing (a publish in progress may finish within *timeout*). The slices
        stay: an agent that restarts finds them current, and the scheduler keeps them."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_published(self, count: int, timeout: float) -> bool:
        """Wait until *count* publishes have succeeded (tests, diagnostics)."""
        with self._condition:
            return self._condition.wait_for(lambda: self.published >= count, timeout)

    def _run(self) -> None:
        failures = 0
        while True:
            if failures:
                delay = self._retry_delays[min(failures, len(self._retry_delays)) - 1]
                self._wake.wait(delay)  # a change, or time to retry
            else:
                self._wake.wait()
            if self._stopping:
                return
            self._wake.clear()  # before reading the devices: a later change is not lost
            try:
                devices = self._devices()
                self._publisher.publish(devices)
            except Exception as err:  # the API server's answers, the registry's names
                failures += 1
                self._log.error(
                    "cannot publish ResourceSlices; retrying", error=str(err), failures=failures
                )
                continue
            failures = 0
            with self._condition:
                self.published += 1
                self._condition.notify_all()
            self._log.debug("ResourceSlices up to date", devices=len(devices))
