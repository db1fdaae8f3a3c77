"""The DRA kubelet plugin through the real wire: a fake plugin watcher registers it, then
prepares and unprepares claims from a static claim source on ``dra.sock`` (v1 and v1beta1).

The §5.1 DRA steps of the reference: registration (GetInfo, NotifyRegistrationStatus), one
and several claims, the per-claim errors, other drivers' results, idempotence, unprepare,
unknown claims, a restart between prepare and unprepare; the spec written loads, and every
id returned resolves through a registry over the CDI root.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from dratools import DRIVER, NODE, Node, claim, new_node, new_watcher, result
from fakewatcher import DRAClient, FakeWatcher

import cdi
from cdi.kubelet.slices import slice_device_name

UID1 = "0b7f1d3e-1111-4c2a-9e1a-000000000001"
UID2 = "0b7f1d3e-2222-4c2a-9e1a-000000000002"
SPEC1 = f"k8s.{DRIVER}-claim_{UID1}.yaml"
SPEC2 = f"k8s.{DRIVER}-claim_{UID2}.yaml"

VERSIONS = pytest.mark.parametrize("version", ["v1", "v1beta1"])


@pytest.fixture
def node() -> Iterator[Node]:
    with new_node() as found:
        yield found


@pytest.fixture
def watcher(node: Node) -> Iterator[FakeWatcher]:
    with new_watcher(node) as found:
        yield found


def devices_of(entry: Any) -> list[dict[str, Any]]:
    return [
        {
            "request_names": list(device.request_names),
            "pool_name": device.pool_name,
            "device_name": device.device_name,
            "cdi_device_ids": list(device.cdi_device_ids),
        }
        for device in entry.devices
    ]


def answer(response: Any) -> dict[str, Any]:
    """A prepare response as plain data: uid -> {"error", "devices"}."""
    return {
        uid: {"error": entry.error, "devices": devices_of(entry)}
        for uid, entry in response.claims.items()
    }


def expected_device(uid: str, device: str, request: str = "gpu") -> dict[str, Any]:
    return {
        "request_names": [request],
        "pool_name": NODE,
        "device_name": device,
        "cdi_device_ids": [f"k8s.{DRIVER}/claim={uid}-{device}"],
    }


# -- registration -------------------------------------------------------------------------


def test_get_info_names_the_dra_socket_and_both_versions(node: Node, watcher: FakeWatcher) -> None:
    info = watcher.get_info()
    assert info.type == "DRAPlugin"
    assert info.name == DRIVER
    assert info.endpoint == node.dra_socket
    assert os.path.isabs(info.endpoint)
    assert list(info.supported_versions) == ["v1.DRAPlugin", "v1beta1.DRAPlugin"]
    assert stat.S_ISSOCK(os.lstat(node.registration_socket).st_mode)
    assert stat.S_ISSOCK(os.lstat(node.dra_socket).st_mode)


def test_registration_status_is_recorded_and_logged(node: Node, watcher: FakeWatcher) -> None:
    agent = node.agents[0]
    assert agent.registration.registered is None
    watcher.notify(True)
    assert agent.registration.wait(60)
    assert agent.registration.registered is True
    assert any(line["msg"] == "registered with the kubelet" for line in node.log_lines())


def test_a_refused_registration_is_logged_and_the_plugin_keeps_serving(
    node: Node, watcher: FakeWatcher
) -> None:
    node.claims.put(claim("one", UID1, [result("gpu0")]))
    watcher.notify(False, "plugin name conflicts")
    agent = node.agents[0]
    assert agent.registration.wait(60)
    assert (agent.registration.registered, agent.registration.error) == (
        False,
        "plugin name conflicts",
    )
    refusal = [line for line in node.log_lines() if line["level"] == "error"]
    assert refusal[0]["msg"] == "the kubelet refused the registration; still serving"
    assert refusal[0]["error"] == "plugin name conflicts"
    client = DRAClient(node.dra_socket)
    try:
        assert answer(client.prepare([("default", UID1, "one")]))[UID1]["error"] == ""
    finally:
        client.close()


# -- prepare ------------------------------------------------------------------------------


@VERSIONS
def test_prepare_one_claim(node: Node, watcher: FakeWatcher, version: str) -> None:
    node.claims.put(claim("one", UID1, [result("gpu0")]))
    client = watcher.register(version)
    response = client.prepare([("default", UID1, "one")])
    assert answer(response) == {UID1: {"error": "", "devices": [expected_device(UID1, "gpu0")]}}
    assert node.spec_files() == [SPEC1]
    path = node.cdi_root / SPEC1
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    spec = cdi.load_spec(path)
    assert spec.kind == f"k8s.{DRIVER}/claim"
    assert [device.name for device in spec.devices] == [f"{UID1}-gpu0"]
    assert spec.cdi_version == cdi.minimum_version(spec)
    # What the runtime does with the ids: resolve them in the CDI root.
    registry = cdi.Registry([node.cdi_root])
    ids = response.claims[UID1].devices[0].cdi_device_ids
    edits = registry.resolve_edits(list(ids))
    assert edits.env == ("VENDOR_DRIVER=1", "GPU=gpu0", f"GPU0_RESOURCE_CLAIM={UID1}")


@VERSIONS
def test_prepare_several_claims_with_several_devices(
    node: Node, watcher: FakeWatcher, version: str
) -> None:
    odd = slice_device_name("GPU_2")  # not a DNS label: published under another name
    node.claims.put(claim("one", UID1, [result("gpu0"), result("gpu1", "extra")]))
    node.claims.put(claim("two", UID2, [result(odd)], namespace="team"))
    client = watcher.register(version)
    response = client.prepare([("default", UID1, "one"), ("team", UID2, "two")])
    assert answer(response) == {
        UID1: {
            "error": "",
            "devices": [expected_device(UID1, "gpu0"), expected_device(UID1, "gpu1", "extra")],
        },
        UID2: {"error": "", "devices": [expected_device(UID2, odd)]},
    }
    assert node.spec_files() == sorted([SPEC1, SPEC2])
    registry = cdi.Registry([node.cdi_root])
    for entry in response.claims.values():
        for device in entry.devices:
            for cdi_id in device.cdi_device_ids:
                assert registry.get_device(cdi_id) is not None, cdi_id
    env = registry.resolve_edits([f"k8s.{DRIVER}/claim={UID2}-{odd}"]).env
    assert "GPU=GPU_2" in env
    assert f"{odd.upper().replace('-', '_')}_RESOURCE_CLAIM={UID2}" in env


@VERSIONS
def test_per_claim_errors_leave_the_other_claims_prepared(
    node: Node, watcher: FakeWatcher, version: str
) -> None:
    node.claims.put(claim("fine", UID1, [result("gpu0")]))
    node.claims.put(claim("pending", "uid-pending", None))
    node.claims.put(claim("renewed", "uid-new", [result("gpu1")]))
    node.claims.put(claim("strange", "uid-strange", [result("gpu0"), result("gpu9")]))
    client = watcher.register(version)
    response = client.prepare(
        [
            ("default", UID1, "fine"),
            ("default", "uid-pending", "pending"),
            ("default", "uid-old", "renewed"),
            ("default", "uid-strange", "strange"),
            ("default", "uid-gone", "gone"),
        ]
    )
    errors = {uid: entry.error for uid, entry in response.claims.items()}
    assert errors == {
        UID1: "",
        "uid-pending": "claim default/pending not allocated",
        "uid-old": "claim default/renewed got replaced",
        "uid-strange": "claim default/strange: no vendor.com/gpu device on this node for gpu9",
        "uid-gone": 'retrieve claim default/gone: resourceclaims.resource.k8s.io "gone" not found',
    }
    assert all(not response.claims[uid].devices for uid in errors if uid != UID1)
    assert node.spec_files() == [SPEC1]
    logged = [line for line in node.log_lines() if line["msg"] == "cannot prepare claim"]
    assert sorted(line["uid"] for line in logged) == sorted(uid for uid in errors if uid != UID1)


def test_results_of_other_drivers_are_left_to_them(node: Node, watcher: FakeWatcher) -> None:
    results = [result("gpu0", driver="other.example.com"), result("gpu1", "gpu/large")]
    node.claims.put(claim("mixed", UID1, results))
    response = watcher.register().prepare([("default", UID1, "mixed")])
    # The sub-request is stripped from the request name; the other driver's gpu0 is not ours.
    assert answer(response) == {UID1: {"error": "", "devices": [expected_device(UID1, "gpu1")]}}
    spec = cdi.load_spec(node.cdi_root / SPEC1)
    assert [device.name for device in spec.devices] == [f"{UID1}-gpu1"]


def test_a_claim_with_no_result_of_ours_gets_no_spec(node: Node, watcher: FakeWatcher) -> None:
    node.claims.put(claim("foreign", UID1, [result("gpu0", driver="other.example.com")]))
    response = watcher.register().prepare([("default", UID1, "foreign")])
    assert answer(response) == {UID1: {"error": "", "devices": []}}
    assert node.spec_files() == []


def test_share_ids_go_out_in_v1_only(node: Node, watcher: FakeWatcher) -> None:
    node.claims.put(claim("shared", UID1, [result("gpu0", shareID="share-7")]))
    v1 = watcher.register("v1").prepare([("default", UID1, "shared")])
    device = v1.claims[UID1].devices[0]
    assert device.HasField("share_id") and device.share_id == "share-7"
    v1beta1 = watcher.register("v1beta1").prepare([("default", UID1, "shared")])
    assert "share_id" not in type(v1beta1.claims[UID1].devices[0]).DESCRIPTOR.fields_by_name
    unshared = claim("plain", UID2, [result("gpu1")])
    node.claims.put(unshared)
    plain = watcher.register("v1").prepare([("default", UID2, "plain")])
    assert not plain.claims[UID2].devices[0].HasField("share_id")


@VERSIONS
def test_prepare_is_idempotent(node: Node, watcher: FakeWatcher, version: str) -> None:
    node.claims.put(claim("one", UID1, [result("gpu0"), result("gpu1")]))
    client = watcher.register(version)
    first = client.prepare([("default", UID1, "one")])
    content = (node.cdi_root / SPEC1).read_bytes()
    second = client.prepare([("default", UID1, "one")])
    assert answer(second) == answer(first)
    assert node.spec_files() == [SPEC1]
    assert (node.cdi_root / SPEC1).read_bytes() == content


# -- unprepare ----------------------------------------------------------------------------


@VERSIONS
def test_unprepare_removes_the_spec_and_answers_every_claim(
    node: Node, watcher: FakeWatcher, version: str
) -> None:

    node.claims.put(claim("one", UID1, [result("gpu0")]))
    node.claims.put(claim("two", UID2, [result("gpu1")]))
    client = watcher.register(version)
    client.prepare([("default", UID1, "one"), ("default", UID2, "two")])
    response = client.unprepare([("default", UID1, "one"), ("default", "uid-unknown", "never")])
    assert {uid: entry.error for uid, entry in response.claims.items()} == {
        UID1: "",
        "uid-unknown": "",
    }
    assert node.spec_files() == [SPEC2]
    again = client.unprepare([("default", UID1, "one")])
    assert {uid: entry.error for uid, entry in again.claims.items()} == {UID1: ""}
    assert node.spec_files() == [SPEC2]


def test_unprepare_needs_no_claim_lookup(node: Node, watcher: FakeWatcher) -> None:
    # After the pod is gone its claim may be deleted too: unprepare must not read it.
    node.claims.put(claim("one", UID1, [result("gpu0")]))
    client = watcher.register()
    client.prepare([("default", UID1, "one")])
    node.claims.delete("default", "one")
    assert client.unprepare([("default", UID1, "one")]).claims[UID1].error == ""
    assert node.spec_files() == []


def test_a_restarted_agent_unprepares_what_the_first_prepared(node: Node) -> None:
    node.claims.put(claim("one", UID1, [result("gpu0")]))
    first = node.start()
    watcher = FakeWatcher(node.registration_socket)
    try:
        prepared = watcher.register().prepare([("default", UID1, "one")])
    finally:
        watcher.close()
    node.stop(first)
    assert not os.path.exists(node.dra_socket)
    assert not os.path.exists(node.registration_socket)
    assert node.spec_files() == [SPEC1]

    second = node.start()  # a new process would have nothing of the first in memory
    assert node.log_lines()[-1]["prepared_claims"] == 1
    watcher = FakeWatcher(node.registration_socket)
    try:
        client = watcher.register()
        assert answer(client.prepare([("default", UID1, "one")])) == answer(prepared)
        assert client.unprepare([("default", UID1, "one")]).claims[UID1].error == ""
    finally:
        watcher.close()
    assert node.spec_files() == []
    node.stop(second)


def test_stopping_removes_both_sockets(node: Node) -> None:
    agent = node.start()
    assert os.path.exists(node.dra_socket) and os.path.exists(node.registration_socket)
    node.stop(agent)
    assert not os.path.exists(node.dra_socket)
    assert not os.path.exists(node.registration_socket)
    assert node.log_lines()[-1]["msg"] == "stopped"


# -- serialized calls ---------------------------------------------------------------------


class GatedClaims:
    """Claims whose lookup waits for the gate; notes how many lookups ran at once."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.gate = threading.Event()
        self.entered = threading.Semaphore(0)
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def get(self, namespace: str, name: str) -> dict[str, Any]:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self.entered.release()
        self.gate.wait(60)
        with self._lock:
            self.running -= 1
        return self.node.claims.get(namespace, name)


def test_calls_are_serialized(node: Node) -> None:
    node.claims.put(claim("one", UID1, [result("gpu0")]))
    node.claims.put(claim("two", UID2, [result("gpu1")]))
    gated = GatedClaims(node)
    node.start(node.plugin(claims=gated))
    answers: dict[str, Any] = {}

    def call(name: str, uid: str) -> None:
        client = DRAClient(node.dra_socket)
        try:
            answers[uid] = answer(client.prepare([("default", uid, name)]))
        finally:
            client.close()

    first = threading.Thread(target=call, args=("one", UID1))
    second = threading.Thread(target=call, args=("two", UID2))
    first.start()
    assert gated.entered.acquire(timeout=60)  # the first call holds the plugin now
    second.start()
    # Without serializing, the second lookup would start while the first one waits.
    assert not gated.entered.acquire(timeout=1.0)
    gated.gate.set()
    first.join(60)
    second.join(60)
    assert gated.most == 1
    assert answers[UID1][UID1]["error"] == answers[UID2][UID2]["error"] == ""
