"""ResourceSlices: device names and attributes, the publisher's reconcile rules (vectors,
against an in-memory API), and KubernetesSliceAPI's exact requests (a stub API server)."""

from __future__ import annotations

import copy
import itertools
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from stubapiserver import TOKEN, Request, running, status

import cdi
from cdi.errors import CDIError
from cdi.kubelet.kubeclient import KubernetesAPIError
from cdi.kubelet.slices import (
    MAX_DEVICE_NAME,
    KubernetesSliceAPI,
    SlicePublisher,
    device_names,
    is_dns_label,
    slice_device_name,
    slice_devices,
)
from tables import cases, load_table

DRIVER = "fake.example.com"
NODE = "node-a"
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


# -- names and devices ----------------------------------------------------------------------


@cases("kubelet/slices_names.yaml")
def test_slice_device_names(case: dict[str, Any]) -> None:
    mapped = slice_device_name(case["device"])
    assert mapped == case["slice_name"]
    assert DNS_LABEL.fullmatch(mapped) and len(mapped) <= MAX_DEVICE_NAME
    assert is_dns_label(mapped)


def test_is_dns_label_agrees_with_the_rfc_1123_pattern() -> None:
    samples = ["a", "0", "a-b", "-a", "a-", "A", "a_b", "a.b", "", "a" * 63, "a" * 64, "a--b"]
    for sample in samples:
        expected = bool(DNS_LABEL.fullmatch(sample)) and len(sample) <= MAX_DEVICE_NAME
        assert is_dns_label(sample) == expected, sample


def _registry(specs: dict[str, Any]) -> cdi.Registry:
    directory = Path(tempfile.mkdtemp(prefix="k", dir="/tmp"))
    for name, spec in specs.items():
        (directory / name).write_text(yaml.safe_dump(spec), encoding="utf-8")
    registry = cdi.Registry([str(directory)], index=False)
    assert registry.errors() == {}
    return registry


@cases("kubelet/slices_devices.yaml")
def test_slice_devices(case: dict[str, Any]) -> None:
    registry = _registry(case["specs"])
    if "error" in case:
        with pytest.raises(CDIError) as caught:
            slice_devices(registry, case["kind"])
        assert str(caught.value) == case["error"]
        return
    devices = slice_devices(registry, case["kind"])
    assert devices == case["devices"]
    # The map a DRA driver reads allocation results back with agrees with what is published.
    names = device_names(registry, case["kind"])
    assert list(names) == [device["name"] for device in devices]
    for device in devices:
        attribute = device.get("attributes", {}).get("cdi.k8s.io/device")
        if attribute is not None:
            assert names[device["name"]] == attribute["string"]


# -- the publisher --------------------------------------------------------------------------


class FakeSliceAPI:
    """An API server holding ResourceSlices in memory; records the calls made to it."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.objects = {item["metadata"]["name"]: copy.deepcopy(item) for item in objects}
        self.calls: list[str] = []
        self.sent: list[dict[str, Any]] = []
        self.conflicts = 0
        self._names = itertools.count(1)
        self._versions = itertools.count(100)

    def list(self, driver: str, node: str) -> list[dict[str, Any]]:
        self.calls.append("list")
        return [
            copy.deepcopy(item)
            for item in self.objects.values()
            if item["spec"]["driver"] == driver and item["spec"].get("nodeName") == node
        ]

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append("create")
        self.sent.append({"call": "create", "body": copy.deepcopy(body)})
        item = copy.deepcopy(body)
        metadata = item["metadata"]
        metadata["name"] = metadata.pop("generateName") + f"{next(self._names):05d}"
        metadata["resourceVersion"] = str(next(self._versions))
        self.objects[metadata["name"]] = item
        return copy.deepcopy(item)

    def replace(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(f"replace {name}")
        self.sent.append({"call": f"replace {name}", "body": copy.deepcopy(body)})
        if self.conflicts:
            self.conflicts -= 1
            raise KubernetesAPIError(
                f"replace resourceslice {name}: 409 Conflict: the object has been modified", 409
            )
        current = self.objects[name]
        assert body["metadata"]["name"] == name
        assert body["metadata"].get("resourceVersion") == current["metadata"]["resourceVersion"]
        item = copy.deepcopy(body)
        item["metadata"]["resourceVersion"] = str(next(self._versions))
        self.objects[name] = item
        return copy.deepcopy(item)

    def delete(self, name: str) -> None:
        self.calls.append(f"delete {name}")
        self.objects.pop(name, None)


def _devices(value: Any) -> list[Any]:
    """A compact device list: ``dev*N``, ``dev*S+N`` or a list of names and entries."""
    if isinstance(value, str):
        match = re.fullmatch(r"(\w+)\*(\d+)(?:\+(\d+))?", value)
        assert match, value
        prefix, first, count = match[1], int(match[2]), match[3]
        start, number = (first, int(count)) if count is not None else (0, first)
        return [f"{prefix}{index}" for index in range(start, start + number)]
    return list(value)


def _entry(device: Any) -> dict[str, Any]:
    return {"name": device} if isinstance(device, str) else dict(device)


def _expand(compact: dict[str, Any]) -> dict[str, Any]:
    """A full ResourceSlice from the compact form of the reconcile table."""
    node = compact.get("node", NODE)
    spec: dict[str, Any] = {
        "driver": compact.get("driver", DRIVER),
        "pool": {
            "name": compact.get("pool", node),
            "generation": compact["generation"],
            "resourceSliceCount": compact["count"],
        },
        "nodeName": node,
    }
    if compact["devices"] is not None:
        spec["devices"] = [_entry(device) for device in _devices(compact["devices"])]
    metadata: dict[str, Any] = {"name": compact["name"], "resourceVersion": "1"}
    if "owner" in compact:
        metadata["ownerReferences"] = compact["owner"]
    return {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", "metadata": metadata,
            "spec": spec}  # fmt: skip


def _compact(item: dict[str, Any]) -> dict[str, Any]:
    spec = item["spec"]
    compact: dict[str, Any] = {
        "name": item["metadata"]["name"],
        "generation": spec["pool"]["generation"],
        "count": spec["pool"]["resourceSliceCount"],
        "devices": None,
    }
    if "devices" in spec:
        compact["devices"] = [
            device["name"] if list(device) == ["name"] else device for device in spec["devices"]
        ]
    if spec["driver"] != DRIVER:
        compact["driver"] = spec["driver"]
    if spec["nodeName"] != NODE:
        compact["node"] = spec["nodeName"]
    if spec["pool"]["name"] != spec["nodeName"]:
        compact["pool"] = spec["pool"]["name"]
    if "ownerReferences" in item["metadata"]:
        compact["owner"] = item["metadata"]["ownerReferences"]
    return compact


@cases("kubelet/slices_reconcile.yaml")
def test_reconcile(case: dict[str, Any]) -> None:
    api = FakeSliceAPI([_expand(item) for item in case["existing"]])
    publisher = SlicePublisher(api, driver=DRIVER, node=NODE, owner=case.get("owner"))
    for step in case["steps"]:
        api.calls.clear()
        api.conflicts = step.get("conflicts", 0)
        try:
            if step.get("withdraw"):
                publisher.withdraw()
            else:
                publisher.publish([_entry(device) for device in _devices(step["publish"])])
        except KubernetesAPIError as exc:
            assert str(exc) == " ".join(step.get("error", "").split()), exc
        else:
            assert "error" not in step, "expected an error"
        assert api.calls == step["calls"]
    expected = [
        {**item, "devices": None if item["devices"] is None else _devices(item["devices"])}
        for item in case["slices"]
    ]
    assert [_compact(api.objects[name]) for name in sorted(api.objects)] == expected


@cases("kubelet/slices_bodies.yaml")
def test_bodies(case: dict[str, Any]) -> None:
    api = FakeSliceAPI(case["existing"])
    publisher = SlicePublisher(api, driver=DRIVER, node=NODE, owner=case.get("owner"))
    publisher.publish(case["devices"])
    assert api.sent == case["sent"]


def test_the_published_devices_are_not_kept_by_reference() -> None:
    api = FakeSliceAPI([])
    devices = [{"name": "dev0"}]
    SlicePublisher(api, driver=DRIVER, node=NODE).publish(devices)
    devices.append({"name": "dev1"})
    assert api.objects["node-a-fake.example.com-00001"]["spec"]["devices"] == [{"name": "dev0"}]


def test_a_publisher_logs_each_write() -> None:
    import io

    from cdi.kubelet.log import AgentLog

    stream = io.StringIO()
    api = FakeSliceAPI([])
    publisher = SlicePublisher(
        api, driver=DRIVER, node=NODE, log=AgentLog(fmt="text", stream=stream)
    )
    publisher.publish([{"name": "dev0"}])
    publisher.publish([{"name": "dev0"}])  # nothing written: nothing logged
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert (
        ' msg="resourceslice published" driver=fake.example.com node=node-a '
        "name=node-a-fake.example.com-00001 generation=1 devices=1" in lines[0]
    )


def test_an_owner_function_is_asked_on_the_first_publish_until_it_answers() -> None:
    asked: list[str] = []
    reference = {"apiVersion": "v1", "kind": "Node", "name": NODE, "uid": "u-1"}

    def owner() -> dict[str, Any]:
        asked.append("asked")
        if len(asked) == 1:
            raise KubernetesAPIError("get node node-a: no answer from the API server: refused")
        return reference

    api = FakeSliceAPI([])
    publisher = SlicePublisher(api, driver=DRIVER, node=NODE, owner=owner)
    assert asked == []  # constructing talks to no one
    with pytest.raises(KubernetesAPIError, match="no answer"):
        publisher.publish([{"name": "dev0"}])
    assert api.objects == {}
    publisher.publish([{"name": "dev0"}])
    publisher.publish([{"name": "dev0"}])
    assert asked == ["asked", "asked"]
    created = api.objects["node-a-fake.example.com-00001"]
    assert created["metadata"]["ownerReferences"] == [reference]
    assert api.calls == ["list", "list", "create", "list"]


def test_a_publisher_needs_a_driver_and_a_node() -> None:
    with pytest.raises(ValueError, match="needs a driver and a node"):
        SlicePublisher(FakeSliceAPI([]), driver="", node=NODE)


def test_every_table_case_has_the_keys_its_loader_reads() -> None:
    for case in load_table("kubelet/slices_reconcile.yaml"):
        assert set(case) <= {"name", "existing", "owner", "steps", "slices"}, case["name"]
        for step in case["steps"]:
            assert set(step) <= {"publish", "withdraw", "calls", "conflicts", "error"}


# -- KubernetesSliceAPI against a stub API server -------------------------------------------

SLICES = "/apis/resource.k8s.io/v1/resourceslices"


def _slice(name: str) -> dict[str, Any]:
    return _expand({"name": name, "generation": 1, "count": 1, "devices": ["dev0"]})


def _answer(request: Request) -> tuple[int, Any]:
    if request.method == "GET" and request.path == SLICES:
        if "continue" not in request.query:
            page = {"continue": "page-2"}
            return 200, {"kind": "ResourceSliceList", "metadata": page, "items": [_slice("a")]}
        return 200, {"kind": "ResourceSliceList", "metadata": {}, "items": [_slice("b")]}
    if request.method == "POST" and request.path == SLICES:
        created = copy.deepcopy(request.body)
        created["metadata"]["name"] = created["metadata"].pop("generateName") + "zq7xw"
        return 201, created
    if request.method == "PUT" and request.path == f"{SLICES}/a":
        return 200, request.body
    if request.method == "PUT":
        return status(409, "Conflict", "the object has been modified")
    if request.method == "DELETE" and request.path == f"{SLICES}/a":
        return 200, {"kind": "Status", "status": "Success"}
    if request.method == "DELETE":
        return status(404, "NotFound", 'resourceslices.resource.k8s.io "gone" not found')
    if request.method == "GET" and request.path == "/api/v1/nodes/node-a":
        return 200, {"kind": "Node", "apiVersion": "v1",
                     "metadata": {"name": "node-a", "uid": "5d1e-77"}}  # fmt: skip
    if request.method == "GET" and request.path == "/api/v1/nodes/secret":
        return status(403, "Forbidden", 'nodes "secret" is forbidden: User "x" cannot get')
    return status(404, "NotFound", "no such path")


def _seen(request: Request) -> tuple[str, str, dict[str, list[str]], Any]:
    assert request.headers.get("authorization") == f"Bearer {TOKEN}"
    return request.method, request.path, request.query, request.body


def test_kubernetes_slice_api_requests() -> None:
    directory = Path(tempfile.mkdtemp(prefix="k", dir="/tmp"))
    with running(_answer) as server:
        api = KubernetesSliceAPI(kubeconfig=server.kubeconfig(directory))
        listed = api.list(DRIVER, NODE)
        body = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
                "metadata": {"generateName": "node-a-fake.example.com-"},
                "spec": {"driver": DRIVER, "nodeName": NODE}}  # fmt: skip
        created = api.create(body)
        replaced = api.replace("a", _slice("a"))
        api.delete("a")
        api.delete("gone")  # 404: already what we wanted
        owner = api.node_owner(NODE)
        with pytest.raises(KubernetesAPIError) as conflict:
            api.replace("b", _slice("b"))
        with pytest.raises(KubernetesAPIError) as forbidden:
            api.node_owner("secret")
        requests = [_seen(request) for request in server.requests]

    selector = {"fieldSelector": [f"spec.nodeName={NODE},spec.driver={DRIVER}"]}
    assert requests == [
        ("GET", SLICES, selector, None),
        ("GET", SLICES, {**selector, "continue": ["page-2"]}, None),
        ("POST", SLICES, {}, body),
        ("PUT", f"{SLICES}/a", {}, _slice("a")),
        ("DELETE", f"{SLICES}/a", {}, None),
        ("DELETE", f"{SLICES}/gone", {}, None),
        ("GET", "/api/v1/nodes/node-a", {}, None),
        ("PUT", f"{SLICES}/b", {}, _slice("b")),
        ("GET", "/api/v1/nodes/secret", {}, None),
    ]
    assert [item["metadata"]["name"] for item in listed] == ["a", "b"]
    assert created["metadata"]["name"] == "node-a-fake.example.com-zq7xw"
    assert replaced == _slice("a")
    assert owner == {"apiVersion": "v1", "kind": "Node", "name": NODE, "uid": "5d1e-77",
                     "controller": True}  # fmt: skip
    assert conflict.value.status == 409
    assert str(conflict.value) == (
        "replace resourceslice b: 409 Conflict: the object has been modified"
    )
    assert forbidden.value.status == 403
    assert str(forbidden.value) == (
        'get node secret: 403 Forbidden: nodes "secret" is forbidden: User "x" cannot get'
    )


def test_a_publisher_over_the_kubernetes_api() -> None:
    """The publisher and the real client together: a first publish lists, then creates."""
    store: dict[str, dict[str, Any]] = {}

    def answer(request: Request) -> tuple[int, Any]:
        if request.method == "GET" and request.path == SLICES:
            return 200, {"kind": "ResourceSliceList", "metadata": {}, "items": list(store.values())}
        if request.method == "POST" and request.path == SLICES:
            created = copy.deepcopy(request.body)
            name = created["metadata"].pop("generateName") + "abcde"
            created["metadata"].update(name=name, resourceVersion="7")
            store[name] = created
            return 201, created
        return status(405, "MethodNotAllowed", "unexpected")

    directory = Path(tempfile.mkdtemp(prefix="k", dir="/tmp"))
    with running(answer) as server:
        publisher = SlicePublisher(
            KubernetesSliceAPI(kubeconfig=server.kubeconfig(directory)), driver=DRIVER, node=NODE
        )
        publisher.publish([{"name": "dev0"}])
        publisher.publish([{"name": "dev0"}])
        methods = [request.method for request in server.requests]
    assert methods == ["GET", "POST", "GET"]
    assert store["node-a-fake.example.com-abcde"]["spec"]["pool"]["generation"] == 1


def test_an_unreachable_api_server_is_one_clear_error() -> None:
    directory = Path(tempfile.mkdtemp(prefix="k", dir="/tmp"))
    with running() as server:
        kubeconfig = server.kubeconfig(directory)
    # The server is gone: nothing listens on its port any more.
    from kubernetes import client

    api_client = client.ApiClient(_configuration_without_retries(kubeconfig))
    api = KubernetesSliceAPI(client=api_client)
    with pytest.raises(KubernetesAPIError) as caught:
        api.list(DRIVER, NODE)
    assert caught.value.status is None
    assert str(caught.value).startswith("list resourceslices: no answer from the API server: ")


def test_a_hung_api_server_times_out() -> None:
    import threading

    release = threading.Event()

    def hang(request: Request) -> tuple[int, Any]:
        release.wait(60)
        return status(503, "ServiceUnavailable", "too late")

    directory = Path(tempfile.mkdtemp(prefix="k", dir="/tmp"))
    with running(hang) as server:
        configuration = _configuration_without_retries(server.kubeconfig(directory))
        from kubernetes import client

        api = KubernetesSliceAPI(client=client.ApiClient(configuration), timeout=0.2)
        try:
            with pytest.raises(KubernetesAPIError) as caught:
                api.list(DRIVER, NODE)
        finally:
            release.set()
    assert caught.value.status is None
    assert "no answer from the API server" in str(caught.value)
    assert "timed out" in str(caught.value)


def _configuration_without_retries(kubeconfig: str) -> Any:
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    configuration.retries = 0
    return configuration


def test_a_missing_kubeconfig_is_one_clear_error() -> None:
    missing = str(Path(tempfile.mkdtemp(prefix="k", dir="/tmp")) / "nothing")
    with pytest.raises(KubernetesAPIError) as caught:
        KubernetesSliceAPI(kubeconfig=missing)
    assert str(caught.value).startswith(f"cannot configure the Kubernetes client from {missing}: ")
