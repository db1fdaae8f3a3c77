"""Claim sources: the real ``kubernetes`` client against a stub API server, and the static
source (in memory, and from a claims file: the table ``kubelet/dra_claims_file.yaml``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dratools import DRIVER, KIND, Node, claim, new_node, result, short_dir
from stubapiserver import TOKEN, Request, running, status

import cdi
from cdi.kubelet.claimplan import ClaimRef
from cdi.kubelet.claims import (
    ClaimLookupError,
    ClaimsFileError,
    KubernetesClaimSource,
    StaticClaimSource,
)
from cdi.kubelet.claimspecs import ClaimSpecs
from cdi.kubelet.dra import DRAPlugin
from cdi.kubelet.log import AgentLog
from tables import cases


@pytest.fixture
def node() -> Iterator[Node]:
    with new_node() as found:
        yield found


CLAIMS = "/apis/resource.k8s.io/v1/namespaces/{namespace}/resourceclaims/{name}"


def claims_answer(claims: list[dict[str, Any]]) -> Any:
    """The API server's answers to GET on the claims given, a 404 Status to anything else."""
    by_path = {
        CLAIMS.format(namespace=c["metadata"]["namespace"], name=c["metadata"]["name"]): c
        for c in claims
    }

    def answer(request: Request) -> tuple[int, Any]:
        if request.method == "GET" and request.path in by_path:
            return 200, by_path[request.path]
        if request.path.startswith("/apis/resource.k8s.io/v1/namespaces/"):
            name = request.path.rsplit("/", 1)[-1]
            return status(404, "NotFound", f'resourceclaims.resource.k8s.io "{name}" not found')
        return status(403, "Forbidden", "forbidden")

    return answer


@pytest.fixture
def scratch() -> Iterator[Path]:
    found = short_dir()
    try:
        yield found
    finally:
        shutil.rmtree(found, ignore_errors=True)


def test_the_kubernetes_source_reads_a_claim_as_plain_data(scratch: Path) -> None:
    served = claim("one", "uid-1", [result("gpu0")], namespace="team")
    with running(claims_answer([served])) as server:
        source = KubernetesClaimSource(kubeconfig=server.kubeconfig(scratch))
        found = source.get("team", "one")
    assert found == served
    assert type(found) is dict
    (request,) = server.requests
    assert (request.method, request.path) == (
        "GET",
        "/apis/resource.k8s.io/v1/namespaces/team/resourceclaims/one",
    )
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_the_kubernetes_source_reports_the_api_servers_message(scratch: Path) -> None:
    with running(claims_answer([])) as server:
        source = KubernetesClaimSource(kubeconfig=server.kubeconfig(scratch))
        with pytest.raises(ClaimLookupError) as raised:
            source.get("team", "missing")
    assert str(raised.value) == 'resourceclaims.resource.k8s.io "missing" not found'


def test_the_kubernetes_source_without_an_answer(scratch: Path) -> None:
    with running(claims_answer([])) as server:
        kubeconfig = server.kubeconfig(scratch)
    source = KubernetesClaimSource(kubeconfig=kubeconfig, timeout=5)  # the server is gone
    with pytest.raises(ClaimLookupError) as raised:
        source.get("team", "one")
    assert "\n" not in str(raised.value)
    assert str(raised.value)


def test_prepare_through_the_kubernetes_source(node: Node, scratch: Path) -> None:
    served = claim("one", "uid-1", [result("gpu0")])
    with running(claims_answer([served])) as server:
        source = KubernetesClaimSource(kubeconfig=server.kubeconfig(scratch))
        plugin = DRAPlugin(
            driver=DRIVER,
            kind=KIND,
            registry=cdi.Registry([node.spec_dir]),
            claims=source,
            specs=ClaimSpecs(node.cdi_root, DRIVER),
            log=AgentLog(stream=node.log_stream),
        )
        refs = [ClaimRef("default", "uid-1", "one"), ClaimRef("default", "uid-2", "gone")]
        answers = plugin.prepare(refs)
    assert answers["uid-1"].error == ""
    assert [device.device_name for device in answers["uid-1"].devices] == ["gpu0"]
    assert answers["uid-2"].error == (
        'retrieve claim default/gone: resourceclaims.resource.k8s.io "gone" not found'
    )


# -- the static source --------------------------------------------------------------------


def test_the_static_source_hands_out_copies() -> None:
    source = StaticClaimSource([claim("one", "uid-1", [result("gpu0")])])
    found = source.get("default", "one")
    found["metadata"]["uid"] = "changed"
    assert source.get("default", "one")["metadata"]["uid"] == "uid-1"
    source.delete("default", "one")
    with pytest.raises(
        ClaimLookupError, match=r'^resourceclaims\.resource\.k8s\.io "one" not found$'
    ):
        source.get("default", "one")


def test_a_claims_file_is_read_again_when_it_changes(scratch: Path) -> None:
    path = scratch / "claims.yaml"
    path.write_text("kind: List\nitems: []\n")
    source = StaticClaimSource.from_file(path)
    with pytest.raises(ClaimLookupError):
        source.get("default", "one")
    path.write_text(
        "kind: ResourceClaim\nmetadata: {name: one, namespace: default, uid: u1}\n"
        "status: {allocation: {devices: {results: []}}}\n"
    )
    os.utime(path, ns=(1, 1))  # a different stamp, however fast the rewrite was
    assert source.get("default", "one")["metadata"]["uid"] == "u1"
    path.write_text("- 1\n")
    os.utime(path, ns=(2, 2))
    with pytest.raises(ClaimLookupError, match="is not a ResourceClaim"):
        source.get("default", "one")


@cases("kubelet/dra_claims_file.yaml")
def test_claims_files(case: dict[str, Any], scratch: Path) -> None:
    path = scratch / case.get("file", "claims.yaml")
    path.write_text(case["content"])
    if "error" in case:
        with pytest.raises(ClaimsFileError) as raised:
            StaticClaimSource.from_file(path)
        assert str(raised.value) == case["error"].replace("FILE", str(path))
        return
    source = StaticClaimSource.from_file(path)
    for key, uid in case["claims"].items():
        namespace, name = key.split("/")
        assert source.get(namespace, name)["metadata"]["uid"] == uid


def test_a_missing_claims_file() -> None:
    with pytest.raises(ClaimsFileError, match=r"^cannot read claims file /nonexistent/c\.yaml: "):
        StaticClaimSource.from_file("/nonexistent/c.yaml")
