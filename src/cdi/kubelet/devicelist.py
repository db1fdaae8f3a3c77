"""The devices a device plugin advertises: its kind's devices from the registry, with their
health, versioned so that every ``ListAndWatch`` stream sends each new list once.

The list is recomputed when the registry reports a change (spec files edited, added,
removed: :class:`cdi.Registry` with ``auto_refresh`` and ``on_change``) and whenever
:meth:`DeviceList.update` is called (the plugin's health poll). A new version is made only
when the list differs, so a poll that finds nothing new sends nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from cdi.injection import StatDevice
from cdi.kubelet.health import UNHEALTHY, DeviceStatus, kind_device_ids, kind_statuses
from cdi.kubelet.log import AgentLog
from cdi.registry import Registry

#: Quiet time after a spec file changes before the list is recomputed (a producer writes
#: several files, and an editor may write one in steps).
DEBOUNCE_SECONDS = 0.2


class DeviceList:
    """*kind*'s devices in *spec_dirs*, kept current; thread-safe."""

    def __init__(
        self,
        kind: str,
        spec_dirs: Sequence[str] | None,
        log: AgentLog,
        *,
        stat_device: StatDevice | None = None,
        debounce: float = DEBOUNCE_SECONDS,
    ) -> None:
        self.kind = kind
        self._log = log
        self._stat_device = stat_device
        self._changed = threading.Condition()
        # One computation at a time, so the last one's list wins. Reentrant: reading the
        # registry may refresh it, and the refresh calls back into update() on this thread.
        self._computing = threading.RLock()
        self._statuses: tuple[DeviceStatus, ...] = ()
        self._problems: dict[str, list[str]] = {}
        self._version = 0
        self._closed = False
        self.registry = Registry(
            spec_dirs, auto_refresh=True, on_change=self._registry_changed, debounce=debounce
        )
        self.update(initial=True)

    def close(self) -> None:
        """Stop watching and wake every waiter (their streams end)."""
        self.registry.close()
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _registry_changed(self, registry: Registry) -> None:
        self.update(registry)

    def update(self, registry: Registry | None = None, *, initial: bool = False) -> bool:
        """Recompute the list (from *registry*: the one of a change notification, which
        may arrive before ``self.registry`` is set); whether it changed."""
        source = registry if registry is not None else self.registry
        with self._computing:
            statuses = kind_statuses(source, self.kind, self._stat_device)
            self._report_problems(source)
            with self._changed:
                if statuses == self._statuses and not initial:
                    return False
                self._statuses = statuses
                self._version += 1
                self._changed.notify_all()
        if not initial:
            unhealthy = {s.id: list(s.missing) for s in statuses if s.health == UNHEALTHY}
            self._log.info(
                "devices changed",
                kind=self.kind,
                devices=[status.id for status in statuses],
                unhealthy=unhealthy,
            )
        return True

    def _report_problems(self, registry: Registry) -> None:
        # A broken spec file hides its devices: say so once per new set of problems, so
        # that a device that vanished from the list can be explained from the log.
        problems = {path: [str(e) for e in errors] for path, errors in registry.errors().items()}
        if problems != self._problems:
            self._problems = problems
            if problems:
                self._log.warning("spec problems", problems=problems)

    @property
    def statuses(self) -> tuple[DeviceStatus, ...]:
        with self._changed:
            return self._statuses

    def wait(self, seen: int | None, timeout: float) -> tuple[int, tuple[DeviceStatus, ...]] | None:
        """The current ``(version, list)`` as soon as its version is not *seen* (at once
        for ``None``); ``None`` after *timeout* seconds without one, or once closed."""
        with self._changed:
            self._changed.wait_for(lambda: self._closed or self._version != seen, timeout)
            if self._closed or self._version == seen:
                return None
            return self._version, self._statuses

    def wake(self) -> None:
        """Wake the waiters (a stream that ended checks so)."""
        with self._changed:
            self._changed.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def device_ids(self) -> list[str]:
        """The kind's device IDs in the registry now, in its order."""
        return kind_device_ids(self.registry, self.kind)

    def has_device(self, device_id: str) -> bool:
        """Whether *device_id* is a device of the kind in the registry now."""
        return self.registry.get_device(f"{self.kind}={device_id}") is not None
