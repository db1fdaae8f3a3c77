"""The device plugin run in a thread of the test process, its log kept for the test."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from fakekubelet import DEADLINE

from cdi.kubelet.deviceplugin import DevicePlugin, DevicePluginConfig
from cdi.kubelet.log import AgentLog


def wait_until(condition: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class RunningPlugin:
    """A :class:`DevicePlugin` serving in a thread, its log kept."""

    def __init__(self, config: DevicePluginConfig, **options: Any) -> None:
        self.config = config
        self.stream = io.StringIO()
        self.plugin = DevicePlugin(config, AgentLog(stream=self.stream), **options)
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            self.plugin.serve(self._stop)
        except BaseException as err:  # reported by stop()
            self.error = err

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(DEADLINE)
        assert not self._thread.is_alive(), "the plugin did not stop"
        assert self.error is None, self.error

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def messages(self) -> list[str]:
        return [event["msg"] for event in self.events()]
