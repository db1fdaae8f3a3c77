"""Publishing the node's devices while the DRA agent runs: at start, after every change of
the spec directories, retried after a failure, and left in place when the agent stops."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dratools import DEVICE_SPEC, KIND, Node, new_node, write_device_spec

import cdi
from cdi.kubelet.log import AgentLog
from cdi.kubelet.slices import slice_devices
from cdi.kubelet.slicesync import SliceSync


@pytest.fixture
def node() -> Iterator[Node]:
    with new_node() as found:
        yield found


class StandInPublisher:
    """Records what it is asked to publish; fails the first *failures* times."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.published: list[list[dict[str, Any]]] = []
        self.withdrawn = 0
        self.changed = threading.Condition()

    def publish(self, devices: list[dict[str, Any]]) -> None:
        with self.changed:
            if self.failures:
                self.failures -= 1
                raise RuntimeError("the API server is away")
            self.published.append(devices)
            self.changed.notify_all()

    def withdraw(self) -> None:
        self.withdrawn += 1

    def wait_for(self, wanted: Callable[[list[str]], bool]) -> list[dict[str, Any]]:
        """The first publish (from now on, or before) whose device names are *wanted*."""

        def found() -> list[dict[str, Any]] | None:
            for devices in self.published:
                if wanted([device["name"] for device in devices]):
                    return devices
            return None

        with self.changed:
            assert self.changed.wait_for(lambda: found() is not None, 60), self.published
            return found() or []


def test_the_devices_are_published_at_start_and_after_each_change(node: Node) -> None:
    publisher = StandInPublisher()
    syncs: list[SliceSync] = []
    plugin = node.plugin(auto_refresh=True, on_change=lambda _: syncs[0].changed())
    sync = SliceSync(publisher, lambda: slice_devices(plugin.registry, KIND), AgentLog())
    syncs.append(sync)  # as the command wires it: the registry comes first
    agent = node.start(plugin, slices=sync)
    first = publisher.wait_for(lambda names: len(names) == 3)
    assert first == slice_devices(plugin.registry, KIND)

    gpu7 = {"name": "gpu7", "containerEdits": {"env": ["GPU=gpu7"]}}
    write_device_spec(node.spec_dir, dict(DEVICE_SPEC, devices=[*DEVICE_SPEC["devices"], gpu7]))
    after = publisher.wait_for(lambda names: "gpu7" in names)
    assert after == slice_devices(cdi.Registry([node.spec_dir]), KIND)

    node.stop(agent)
    assert publisher.withdrawn == 0  # the slices stay for the next start


def test_a_failed_publish_is_retried(node: Node) -> None:
    registry = cdi.Registry([node.spec_dir])
    publisher = StandInPublisher(failures=2)
    log = node.log_stream
    sync = SliceSync(
        publisher,
        lambda: slice_devices(registry, KIND),
        AgentLog(stream=log),
        retry_delays=(0.01,),
    )
    sync.start()
    try:
        assert sync.wait_published(1, 60)
    finally:
        sync.stop()
    assert len(publisher.published) == 1
    failures = [line for line in node.log_lines() if line["level"] == "error"]
    assert [line["failures"] for line in failures] == [1, 2]
    assert failures[0]["msg"] == "cannot publish ResourceSlices; retrying"
    assert failures[0]["error"] == "the API server is away"


def test_changes_during_a_publish_lead_to_one_more(node: Node) -> None:
    registry = cdi.Registry([node.spec_dir])
    entered, release = threading.Event(), threading.Event()
    calls: list[int] = []

    class Slow(StandInPublisher):
        def publish(self, devices: list[dict[str, Any]]) -> None:
            calls.append(len(calls))
            if len(calls) == 1:
                entered.set()
                release.wait(60)
            super().publish(devices)

    publisher = Slow()
    sync = SliceSync(publisher, lambda: slice_devices(registry, KIND), AgentLog())
    sync.start()
    try:
        assert entered.wait(60)
        for _ in range(5):
            sync.changed()
        release.set()
        assert sync.wait_published(2, 60)
    finally:
        sync.stop()
    assert len(calls) == 2
