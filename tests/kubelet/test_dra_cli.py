"""``cdi kubelet-plugin dra`` as a process: it registers, prepares, publishes, and stops
cleanly on SIGTERM; and the table ``kubelet/dra_cli.yaml`` of the ways it refuses to start."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from dratools import DEVICE_SPEC, DRIVER, KIND, NODE, claim, result, short_dir, write_device_spec
from fakewatcher import FakeWatcher, wait_for_socket
from stubapiserver import Request, running, status

import cdi
from cdi.cli.main import main
from cdi.kubelet.draagent import dra_socket
from cdi.kubelet.registration import registration_socket
from cdi.kubelet.slices import slice_devices
from tables import cases

UID = "7c9d6c1e-0000-4a6b-8f0e-00000000000a"


@pytest.fixture
def root() -> Iterator[Path]:
    found = short_dir()
    write_device_spec(found / "s")
    try:
        yield found
    finally:
        shutil.rmtree(found, ignore_errors=True)


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NODE_NAME", "KUBECONFIG", "KUBERNETES_SERVICE_HOST", "CDI_SPEC_DIRS"):
        monkeypatch.delenv(name, raising=False)


@cases("kubelet/dra_cli.yaml")
def test_refusals(case: dict[str, Any], root: Path, environment: None) -> None:
    for relative, content in case.get("files", {}).items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(content)
    args = [arg.replace("DIR", str(root)) for arg in case["args"]]
    env = {key: value.replace("DIR", str(root)) for key, value in case.get("env", {}).items()}
    outcome = CliRunner().invoke(
        main,
        ["kubelet-plugin", "dra", "--spec-dir", str(root / "s"), *args],
        env=env,
        catch_exceptions=False,
    )
    assert outcome.exit_code == case["status"], outcome.output
    last = outcome.stderr.strip().splitlines()[-1]
    expected = case["error"].replace("DIR", str(root))
    if "LENGTH" in expected:
        path = expected.split("socket path ", 1)[1].split(" is ", 1)[0]
        expected = expected.replace("LENGTH", str(len(path)))
    assert last == expected
    for relative in case.get("files", {}):
        assert (root / relative).is_file()  # nothing of anyone else's removed
    assert not [path for path in root.rglob("*.sock") if path.is_socket()]  # nothing left


# -- a running agent ----------------------------------------------------------------------


class Agent:
    """``cdi kubelet-plugin dra`` in a process of its own, on the directories under *root*."""

    def __init__(
        self,
        root: Path,
        *args: str,
        env: dict[str, str] | None = None,
        pod_uid: str | None = None,
    ) -> None:
        self.root = root
        self.registration_socket = registration_socket(str(root / "r"), DRIVER, pod_uid)
        self.dra_socket = dra_socket(str(root / "p"), pod_uid)
        if pod_uid is not None:
            env = {**(env or {}), "POD_UID": pod_uid}
        command = [
            *(sys.executable, "-m", "cdi", "kubelet-plugin", "dra"),
            *("--driver-name", DRIVER, "--kind", KIND, "--spec-dir", str(root / "s")),
            *("--cdi-root", str(root / "c"), "--plugins-registry", str(root / "r")),
            *("--plugin-dir", str(root / "p"), *args),
        ]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )

    def wait_started(self) -> None:
        try:
            wait_for_socket(self.registration_socket)
        except AssertionError:
            self.process.kill()
            raise AssertionError(self.process.communicate()[1]) from None

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, list[dict[str, Any]]]:
        """Signal it; its status and its log lines."""
        self.process.send_signal(sig)
        try:
            out, err = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        assert out == ""
        return self.process.returncode, [json.loads(line) for line in err.splitlines()]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_agent_prepares_from_a_claims_file_and_stops_on_a_signal(
    root: Path, environment: None, sig: int
) -> None:
    claims = root / "claims.yaml"
    claims.write_text(yaml.safe_dump(claim("one", UID, [result("gpu0")])))
    (root / "r").mkdir()
    agent = Agent(root, "--no-publish-slices", "--claims-file", str(claims))
    agent.wait_started()
    watcher = FakeWatcher(agent.registration_socket)
    try:
        client = watcher.register("v1")
        response = client.prepare([("default", UID, "one")])
        assert response.claims[UID].error == ""
        assert list(response.claims[UID].devices[0].cdi_device_ids) == [
            f"k8s.{DRIVER}/claim={UID}-gpu0"
        ]
        assert (root / "c" / f"k8s.{DRIVER}-claim_{UID}.yaml").is_file()
    finally:
        watcher.close()
    code, lines = agent.stop(sig)
    assert code == 0, lines
    assert not os.path.exists(agent.registration_socket)
    assert not os.path.exists(agent.dra_socket)
    messages = [line["msg"] for line in lines]
    assert messages[0] == "serving"
    assert {"registered with the kubelet", "prepared claim"} <= set(messages)
    assert messages[-2:] == ["stopping", "stopped"]
    assert lines[-2]["signal"] == signal.Signals(sig).name
    assert all(line["level"] == "info" for line in lines)
    # What was prepared stays prepared: the kubelet unprepares it later, maybe of a new agent.
    assert (root / "c" / f"k8s.{DRIVER}-claim_{UID}.yaml").is_file()


NODE_UID = "4b6d1c2e-0000-4000-8000-000000000001"


class FakeAPI:
    """The API server's side of the agent: one claim, and ResourceSlices kept in memory."""

    def __init__(self, claims: list[dict[str, Any]]) -> None:
        self.claims = {
            f"/apis/resource.k8s.io/v1/namespaces/default/resourceclaims/{c['metadata']['name']}": c
            for c in claims
        }
        self.slices: dict[str, dict[str, Any]] = {}
        self.writes: list[tuple[str, dict[str, Any] | None]] = []
        self.changed = threading.Condition()

    def answer(self, request: Request) -> tuple[int, Any]:
        slices = "/apis/resource.k8s.io/v1/resourceslices"
        with self.changed:
            try:
                if request.path in self.claims and request.method == "GET":
                    return 200, self.claims[request.path]
                if request.path == f"/api/v1/nodes/{NODE}" and request.method == "GET":
                    # The slices' owner: the API server deletes them with their Node.
                    return 200, {"kind": "Node", "metadata": {"name": NODE, "uid": NODE_UID}}
                if request.path == slices and request.method == "GET":
                    return 200, {
                        "kind": "ResourceSliceList",
                        "metadata": {},
                        "items": list(self.slices.values()),
                    }
                if request.path == slices and request.method == "POST":
                    body = request.body
                    body["metadata"]["name"] = body["metadata"].pop("generateName") + str(
                        len(self.slices)
                    )
                    self.slices[body["metadata"]["name"]] = body
                    self.writes.append(("POST", body))
                    return 201, body
                if request.path.startswith(slices + "/") and request.method == "PUT":
                    self.slices[request.path.rsplit("/", 1)[1]] = request.body
                    self.writes.append(("PUT", request.body))
                    return 200, request.body
                if request.path.startswith(slices + "/") and request.method == "DELETE":
                    self.writes.append(("DELETE", None))
                    return 200, {"kind": "Status", "status": "Success"}
                return status(404, "NotFound", f"no {request.path}")
            finally:
                self.changed.notify_all()

    def wait_for_writes(self, count: int) -> list[tuple[str, dict[str, Any] | None]]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.writes) >= count, 60), self.writes
            return list(self.writes)


def test_the_agent_publishes_its_devices_and_leaves_them_published(
    root: Path, environment: None
) -> None:
    api = FakeAPI([claim("one", UID, [result("gpu1")])])
    (root / "r").mkdir()
    with running(api.answer) as server:
        kubeconfig = server.kubeconfig(root)
        agent = Agent(root, "--node-name", NODE, env={"KUBECONFIG": kubeconfig})
        agent.wait_started()
        ((method, created),) = api.wait_for_writes(1)
        assert method == "POST"
        assert created is not None
        assert created["spec"]["nodeName"] == NODE
        assert created["metadata"]["ownerReferences"] == [
            {"apiVersion": "v1", "kind": "Node", "name": NODE, "uid": NODE_UID, "controller": True}
        ]
        assert created["spec"]["devices"] == slice_devices(cdi.Registry([root / "s"]), KIND)

        # A spec change goes out as a new generation of the slice.
        gpu7 = {"name": "gpu7", "containerEdits": {"env": ["GPU=gpu7"]}}
        write_device_spec(root / "s", dict(DEVICE_SPEC, devices=[*DEVICE_SPEC["devices"], gpu7]))
        method, replaced = api.wait_for_writes(2)[1]
        assert method == "PUT" and replaced is not None
        assert replaced["spec"]["pool"]["generation"] == 2
        assert "gpu7" in [device["name"] for device in replaced["spec"]["devices"]]

        # Claims come from the API server too.
        watcher = FakeWatcher(agent.registration_socket)
        try:
            response = watcher.register("v1beta1").prepare([("default", UID, "one")])
        finally:
            watcher.close()
        assert response.claims[UID].error == ""
        assert response.claims[UID].devices[0].device_name == "gpu1"

        code, lines = agent.stop()
    assert code == 0, lines
    assert [method for method, _ in api.writes] == ["POST", "PUT"]  # nothing withdrawn


def test_two_agents_of_a_rolling_update_keep_apart(root: Path, environment: None) -> None:
    """With their pod UIDs (the DaemonSet's POD_UID), two agents on one node serve on
    sockets of their own, and the old one stopping leaves the new one's alone."""
    claims = root / "claims.yaml"
    claims.write_text(yaml.safe_dump(claim("one", UID, [result("gpu0")])))
    (root / "r").mkdir()
    common = ("--no-publish-slices", "--claims-file", str(claims))
    old = Agent(root, *common, pod_uid="11111111-aaaa-4aaa-8aaa-000000000001")
    old.wait_started()
    new = Agent(root, *common, pod_uid="22222222-bbbb-4bbb-8bbb-000000000002")
    new.wait_started()
    assert old.registration_socket != new.registration_socket
    assert old.dra_socket != new.dra_socket
    code, _ = old.stop()
    assert code == 0
    assert not os.path.lexists(old.registration_socket) and not os.path.lexists(old.dra_socket)
    watcher = FakeWatcher(new.registration_socket)
    try:
        info = watcher.get_info()
        assert info.endpoint == new.dra_socket
        response = watcher.register("v1").prepare([("default", UID, "one")])
        assert response.claims[UID].error == ""
    finally:
        watcher.close()
    code, _ = new.stop()
    assert code == 0
