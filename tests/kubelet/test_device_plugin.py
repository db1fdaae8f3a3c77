"""The device plugin against a fake kubelet (reference §5.1, device plugin steps 1-5).

The plugin runs in a thread of the test process (once as the real ``cdi`` console script, at
the end); the fake kubelet serves ``Registration`` on a ``kubelet.sock`` in a short temp
directory and dials the plugin back over the wire. The fake devices are FIFOs (device nodes
to the health rule and to injection, and made without root), so a test can take one away.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import grpc
import pytest
from fakekubelet import DEADLINE, FakeKubelet, PluginClient
from pluginrun import RunningPlugin, wait_until

from cdi.annotations import parse_annotations
from cdi.kubelet.deviceplugin import DevicePluginConfig
from cdi.registry import Registry

KIND = "vendor.com/gpu"
RESOURCE = "vendor.com/gpu"
ENDPOINT = "cdi-vendor.com-gpu.sock"


def gpu_spec(dev: Path, *names: str) -> str:
    """A spec of kind vendor.com/gpu: each device a node at ``<dev>/<name>`` and an env."""
    lines = ["cdiVersion: 0.5.0", f"kind: {KIND}", "devices:"]
    for name in names:
        lines += [
            f"  - name: {name}",
            "    containerEdits:",
            f"      env: [{name.upper()}=1]",
            f"      deviceNodes: [{{path: /dev/{name}, hostPath: {dev / name}}}]",
        ]
    return "\n".join(lines) + "\n"


@dataclass
class Node:
    """The test's node: a device plugin directory, a spec directory and fake devices."""

    root: Path

    @property
    def plugin_dir(self) -> Path:
        return self.root / "dp"

    @property
    def spec_dir(self) -> Path:
        return self.root / "cdi"

    @property
    def dev(self) -> Path:
        return self.root / "dev"

    @property
    def socket(self) -> Path:
        return self.plugin_dir / ENDPOINT

    def add_devices(self, *names: str) -> None:
        for name in names:
            os.mkfifo(self.dev / name)

    def write_spec(self, *names: str, file: str = "gpu.yaml") -> None:
        path = self.spec_dir / file
        temporary = path.with_suffix(".tmp")
        temporary.write_text(gpu_spec(self.dev, *names), encoding="utf-8")
        os.replace(temporary, path)  # atomically, as producers write


@pytest.fixture
def node() -> Iterator[Node]:
    # Short paths: a socket path holds at most 107 bytes, and pytest's tmp_path is long.
    found = Node(Path(tempfile.mkdtemp(prefix="k", dir="/tmp")))
    for directory in (found.plugin_dir, found.spec_dir, found.dev):
        directory.mkdir()
    found.add_devices("gpu0", "gpu1")
    found.write_spec("gpu0", "gpu1")
    yield found
    shutil.rmtree(found.root, ignore_errors=True)


@pytest.fixture
def kubelet(node: Node) -> Iterator[FakeKubelet]:
    fake = FakeKubelet(str(node.plugin_dir))
    fake.start()
    yield fake
    fake.stop()


def plugin_config(node: Node, **changes: Any) -> DevicePluginConfig:
    config = DevicePluginConfig(
        kind=KIND,
        resource_name=RESOURCE,
        spec_dirs=(str(node.spec_dir),),
        plugin_dir=str(node.plugin_dir),
        health_interval=0.1,
        kubelet_poll=0.05,
        kubelet_timeout=0.5,
        debounce=0.05,
    )
    return replace(config, **changes)


def _request_ids() -> Callable[[], str]:
    count = iter(range(1, 1000))
    return lambda: f"00000000-0000-4000-8000-{next(count):012d}"


@pytest.fixture
def start_plugin(node: Node) -> Iterator[Callable[..., RunningPlugin]]:
    running: list[RunningPlugin] = []

    def start(**changes: Any) -> RunningPlugin:
        plugin = RunningPlugin(plugin_config(node, **changes), request_id=_request_ids())
        running.append(plugin)
        return plugin

    yield start
    for plugin in running:
        plugin.stop()


@pytest.fixture
def plugin(start_plugin: Callable[..., RunningPlugin], kubelet: FakeKubelet) -> RunningPlugin:
    started = start_plugin()
    kubelet.wait_for_registrations(1)
    return started


@pytest.fixture
def client(plugin: RunningPlugin, kubelet: FakeKubelet) -> Iterator[PluginClient]:
    with kubelet.dial(ENDPOINT) as dialed:
        yield dialed


# -- steps 1 and 2: serve, then register ----------------------------------------------------


def test_registers_with_the_kubelet(
    plugin: RunningPlugin, kubelet: FakeKubelet, node: Node
) -> None:
    (request,) = kubelet.wait_for_registrations(1)
    assert request.version == "v1beta1"
    assert request.endpoint == ENDPOINT
    assert request.resource_name == RESOURCE
    assert request.options.get_preferred_allocation_available is True
    assert request.options.pre_start_required is False
    assert stat.S_ISSOCK(node.socket.lstat().st_mode)
    wait_until(lambda: "registered" in plugin.messages(), "the log line")
    registered = [e for e in plugin.events() if e["msg"] == "registered"]
    assert registered[0]["resource"] == RESOURCE
    assert registered[0]["endpoint"] == ENDPOINT


def test_the_socket_name_can_be_chosen(
    start_plugin: Callable[..., RunningPlugin], kubelet: FakeKubelet, node: Node
) -> None:
    start_plugin(socket_name="gpus.sock")
    (request,) = kubelet.wait_for_registrations(1)
    assert request.endpoint == "gpus.sock"
    with kubelet.dial("gpus.sock") as dialed:
        assert dialed.list_and_watch().next() == {"gpu0": "Healthy", "gpu1": "Healthy"}


# -- step 3: the kubelet's calls -------------------------------------------------------------


def test_options_are_those_registered(client: PluginClient) -> None:
    options = client.options()
    assert options.get_preferred_allocation_available is True
    assert options.pre_start_required is False


def test_list_and_watch_sends_the_kinds_devices(client: PluginClient, node: Node) -> None:
    (node.spec_dir / "other.yaml").write_text(
        "cdiVersion: 0.3.0\nkind: vendor.com/nic\ndevices:\n"
        "  - {name: nic0, containerEdits: {env: [NIC=0]}}\n",
        encoding="utf-8",
    )
    devices = client.list_and_watch().next()
    assert list(devices.items()) == [("gpu0", "Healthy"), ("gpu1", "Healthy")]


def test_a_spec_change_sends_a_new_list(
    client: PluginClient, node: Node, plugin: RunningPlugin
) -> None:
    stream = client.list_and_watch()
    assert stream.next() == {"gpu0": "Healthy", "gpu1": "Healthy"}
    node.add_devices("gpu2")
    node.write_spec("gpu0", "gpu1", "gpu2")
    assert stream.wait_for(lambda d: "gpu2" in d) == {
        "gpu0": "Healthy",
        "gpu1": "Healthy",
        "gpu2": "Healthy",
    }
    (node.spec_dir / "gpu.yaml").unlink()
    assert stream.wait_for(lambda d: not d) == {}
    changed = [e for e in plugin.events() if e["msg"] == "devices changed"]
    assert changed[-1]["devices"] == []


def test_every_stream_gets_the_full_list(client: PluginClient, node: Node) -> None:
    first, second = client.list_and_watch(), client.list_and_watch()
    assert first.next() == second.next() == {"gpu0": "Healthy", "gpu1": "Healthy"}
    node.write_spec("gpu1")
    assert first.wait_for(lambda d: "gpu0" not in d) == {"gpu1": "Healthy"}
    assert second.wait_for(lambda d: "gpu0" not in d) == {"gpu1": "Healthy"}


def test_allocate_answers_each_container_in_order(
    client: PluginClient, node: Node, plugin: RunningPlugin
) -> None:
    response = client.allocate(["gpu1"], ["gpu0", "gpu1"])
    names = [[d.name for d in c.cdi_devices] for c in response.container_responses]
    assert names == [[f"{KIND}=gpu1"], [f"{KIND}=gpu0", f"{KIND}=gpu1"]]
    assert [dict(c.annotations) for c in response.container_responses] == [{}, {}]
    # What the runtime does with the names: they resolve through a CDI cache of the specs.
    with Registry([node.spec_dir]) as registry:
        edits = registry.resolve_edits(names[1])
    assert edits.env == ("GPU0=1", "GPU1=1")
    assert [n.host_path for n in edits.device_nodes] == [
        str(node.dev / "gpu0"),
        str(node.dev / "gpu1"),
    ]
    (event,) = [e for e in plugin.events() if e["msg"] == "allocate"]
    assert event["containers"] == [["gpu1"], ["gpu0", "gpu1"]]


def test_allocate_with_annotations(
    start_plugin: Callable[..., RunningPlugin], kubelet: FakeKubelet, node: Node
) -> None:
    start_plugin(strategies=("cdi-annotations",))
    kubelet.wait_for_registrations(1)
    with kubelet.dial(ENDPOINT) as dialed:
        response = dialed.allocate(["gpu0"], ["gpu1", "gpu0"])
    first, second = response.container_responses
    assert dict(first.annotations) == {
        "cdi.k8s.io/cdi-device-plugin_00000000-0000-4000-8000-000000000001": f"{KIND}=gpu0"
    }
    assert list(first.cdi_devices) == list(second.cdi_devices) == []
    # A runtime reads them back with the library's parser.
    assert parse_annotations(dict(second.annotations))[1] == [f"{KIND}=gpu1", f"{KIND}=gpu0"]


def test_allocate_with_both_strategies_and_a_prefix(
    start_plugin: Callable[..., RunningPlugin], kubelet: FakeKubelet
) -> None:
    start_plugin(
        strategies=("cdi-cri", "cdi-annotations"), annotation_prefix="devices.example.org/"
    )
    kubelet.wait_for_registrations(1)
    with kubelet.dial(ENDPOINT) as dialed:
        (answer,) = dialed.allocate(["gpu1"]).container_responses
    assert [d.name for d in answer.cdi_devices] == [f"{KIND}=gpu1"]
    assert dict(answer.annotations) == {
        "devices.example.org/cdi-device-plugin_00000000-0000-4000-8000-000000000001": (
            f"{KIND}=gpu1"
        )
    }


def test_allocate_of_an_unknown_device_is_invalid_argument(
    client: PluginClient, plugin: RunningPlugin
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        client.allocate(["gpu0"], ["gpu9"])
    error: Any = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == f'unknown device "gpu9": not a device of kind {KIND}'
    assert "allocate failed" in plugin.messages()


def test_a_device_whose_spec_went_away_is_unknown(client: PluginClient, node: Node) -> None:
    stream = client.list_and_watch()
    node.write_spec("gpu0")
    stream.wait_for(lambda d: "gpu1" not in d)
    with pytest.raises(grpc.RpcError) as caught:
        client.allocate(["gpu1"])
    error: Any = caught.value
    assert error.details() == f'unknown device "gpu1": not a device of kind {KIND}'


def test_preferred_allocation(client: PluginClient) -> None:
    response = client.preferred(["gpu1", "gpu0"], [], 1)
    assert [list(c.deviceIDs) for c in response.container_responses] == [["gpu0"]]
    response = client.preferred(["gpu1", "gpu0"], ["gpu1"], 2)
    assert [list(c.deviceIDs) for c in response.container_responses] == [["gpu1", "gpu0"]]


def test_pre_start_container_answers_empty(client: PluginClient) -> None:
    assert client.pre_start(["gpu0"]).ByteSize() == 0


# -- step 4: health ---------------------------------------------------------------------------


def test_a_missing_device_node_makes_it_unhealthy(
    client: PluginClient, node: Node, plugin: RunningPlugin
) -> None:
    stream = client.list_and_watch()
    assert stream.next() == {"gpu0": "Healthy", "gpu1": "Healthy"}
    (node.dev / "gpu0").unlink()
    assert stream.wait_for(lambda d: d["gpu0"] == "Unhealthy") == {
        "gpu0": "Unhealthy",
        "gpu1": "Healthy",
    }
    changed = [e for e in plugin.events() if e["msg"] == "devices changed"]
    assert changed[-1]["unhealthy"] == {"gpu0": [str(node.dev / "gpu0")]}
    node.add_devices("gpu0")
    assert stream.wait_for(lambda d: d["gpu0"] == "Healthy") == {
        "gpu0": "Healthy",
        "gpu1": "Healthy",
    }


# -- step 5: the kubelet restarts -------------------------------------------------------------


def test_kubelet_restart_registers_again(
    client: PluginClient, kubelet: FakeKubelet, node: Node, plugin: RunningPlugin
) -> None:
    kubelet.restart()  # also deletes our socket, as a starting kubelet does
    first, second = kubelet.wait_for_registrations(2)
    assert second == first
    wait_until(node.socket.exists, "the plugin's socket to come back")
    with kubelet.dial(ENDPOINT) as dialed:
        assert dialed.list_and_watch().next() == {"gpu0": "Healthy", "gpu1": "Healthy"}
    assert "re-registering" in plugin.messages()


def test_kubelet_restart_that_keeps_our_socket(
    client: PluginClient, kubelet: FakeKubelet, plugin: RunningPlugin
) -> None:
    kubelet.restart(remove_plugin_sockets=False)
    kubelet.wait_for_registrations(2)
    assert client.options().get_preferred_allocation_available is True  # same server


def test_our_socket_removed_is_served_again(
    client: PluginClient, kubelet: FakeKubelet, node: Node, plugin: RunningPlugin
) -> None:
    node.socket.unlink()
    kubelet.wait_for_registrations(2)
    assert stat.S_ISSOCK(node.socket.lstat().st_mode)
    assert "socket removed" in plugin.messages()
    with kubelet.dial(ENDPOINT) as dialed:
        assert dialed.options().get_preferred_allocation_available is True


def test_the_plugin_waits_for_the_kubelet(
    start_plugin: Callable[..., RunningPlugin], node: Node
) -> None:
    plugin = start_plugin()
    wait_until(lambda: "waiting for kubelet" in plugin.messages(), "a waiting line")
    waiting = next(e for e in plugin.events() if e["msg"] == "waiting for kubelet")
    assert waiting["kubelet"] == str(node.plugin_dir / "kubelet.sock")
    late = FakeKubelet(str(node.plugin_dir))
    late.start()
    try:
        (request,) = late.wait_for_registrations(1)
        assert request.resource_name == RESOURCE
    finally:
        late.stop()


# -- stopping ---------------------------------------------------------------------------------


def test_stopping_ends_streams_and_removes_the_socket(
    start_plugin: Callable[..., RunningPlugin], kubelet: FakeKubelet, node: Node
) -> None:
    plugin = start_plugin()
    kubelet.wait_for_registrations(1)
    with kubelet.dial(ENDPOINT) as dialed:
        stream = dialed.list_and_watch()
        stream.next()
        plugin.stop()
        assert stream.end_seen()
    assert not node.socket.exists()
    assert plugin.messages()[-1] == "stopping"


def test_a_stale_socket_is_replaced(
    start_plugin: Callable[..., RunningPlugin], kubelet: FakeKubelet, node: Node
) -> None:
    import socket

    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(node.socket))
    stale.close()  # the file stays, as after a crash
    start_plugin()
    kubelet.wait_for_registrations(1)
    with kubelet.dial(ENDPOINT) as dialed:
        assert dialed.options().get_preferred_allocation_available is True


def test_something_else_at_our_path_is_an_error(node: Node) -> None:
    node.socket.write_text("not a socket")
    plugin = RunningPlugin(plugin_config(node))
    plugin._thread.join(DEADLINE)
    assert str(plugin.error) == f"{node.socket} exists and is not a socket: not removing it"
    assert node.socket.read_text() == "not a socket"


# -- the real command -------------------------------------------------------------------------


def test_the_console_script_serves_until_sigterm(kubelet: FakeKubelet, node: Node) -> None:
    script = Path(sys.executable).parent / "cdi"
    process = subprocess.Popen(
        [
            str(script),
            "kubelet-plugin",
            "device-plugin",
            "--kind",
            KIND,
            "--resource-name",
            RESOURCE,
            "--spec-dir",
            str(node.spec_dir),
            "--device-plugin-dir",
            str(node.plugin_dir),
            "--strategy",
            "cdi-cri",
            "--strategy",
            "cdi-annotations",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        (request,) = kubelet.wait_for_registrations(1)
        assert request.endpoint == ENDPOINT
        with kubelet.dial(ENDPOINT) as dialed:
            assert dialed.list_and_watch().next() == {"gpu0": "Healthy", "gpu1": "Healthy"}
            (answer,) = dialed.allocate(["gpu1"]).container_responses
        assert [d.name for d in answer.cdi_devices] == [f"{KIND}=gpu1"]
        assert list(answer.annotations.values()) == [f"{KIND}=gpu1"]
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=DEADLINE)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert stdout == ""
    assert not node.socket.exists()
    messages = [json.loads(line)["msg"] for line in stderr.splitlines()]
    assert messages[0] == "serving"
    assert {"registered", "allocate"} <= set(messages)
    assert messages[-1] == "stopping"
