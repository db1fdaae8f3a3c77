"""Where the DRA plugin reads ResourceClaims: the API server, or claims held in memory.

The kubelet names the claims to prepare (namespace, name, UID) but does not send them; the
driver reads each one to learn which devices were allocated. :class:`ClaimSource` is the one
call that needs; claims cross it as plain data (the object as the API serves it in JSON), never
as client model classes. :class:`KubernetesClaimSource` reads ``resource.k8s.io/v1`` through
the ``kubernetes`` client; :class:`StaticClaimSource` holds claims in memory, for tests and
for trying the plugin without a cluster (``--claims-file``).
"""

from __future__ import annotations

import copy
import json
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from cdi.errors import CDIError
from cdi.kubelet.kubeclient import api_client as kubernetes_client

#: What the API server says about a claim it does not have; the static source says the same.
NOT_FOUND = 'resourceclaims.resource.k8s.io "{name}" not found'


class ClaimLookupError(CDIError):
    """A claim that could not be read (missing, the API server unreachable, ...)."""


class ClaimsFileError(CDIError):
    """A claims file that cannot be read or holds something other than ResourceClaims."""


class ClaimSource(Protocol):
    def get(self, namespace: str, name: str) -> dict[str, Any]:
        """The ResourceClaim *namespace*/*name* as plain data; raises :class:`ClaimLookupError`."""
        ...


class KubernetesClaimSource:
    """ResourceClaims read from the API server (``resource.k8s.io/v1``).

    *api_client* is a ``kubernetes.client.ApiClient``; by default one for *kubeconfig* or the
    in-cluster settings (:func:`~cdi.kubelet.kubeclient.api_client`). Each read
    waits at most *timeout* seconds: the kubelet's own call has a deadline too.
    """

    def __init__(
        self, api_client: Any = None, *, kubeconfig: str | None = None, timeout: float = 10.0
    ) -> None:
        from kubernetes import client

        self._api = client.ResourceV1Api(
            api_client if api_client is not None else kubernetes_client(kubeconfig)
        )
        self._timeout = timeout

    def get(self, namespace: str, name: str) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException

        try:
            # The raw response: the JSON as served, not the client's model classes.
            response: Any = self._api.read_namespaced_resource_claim(
                name, namespace, _preload_content=False, _request_timeout=self._timeout
            )
            data = response.data
        except ApiException as err:
            raise ClaimLookupError(_api_error_text(err)) from None
        except Exception as err:  # urllib3: connection refused, timeouts, TLS
            raise ClaimLookupError(_one_line(str(err)) or type(err).__name__) from None
        try:
            claim = json.loads(data)
        except ValueError as err:
            raise ClaimLookupError(f"the API server sent no JSON: {err}") from None
        if not isinstance(claim, dict):
            raise ClaimLookupError("the API server sent no object")
        return claim


def _api_error_text(err: Any) -> str:
    """The message of the API server's ``Status`` answer, else the HTTP status."""
    try:
        status = json.loads(err.body)
        message = status.get("message") if isinstance(status, dict) else None
    except (TypeError, ValueError):
        message = None
    if isinstance(message, str) and message:
        return message
    return f"{err.status} {err.reason}".strip()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _claim_key(claim: Mapping[str, Any]) -> tuple[str, str]:
    metadata = claim.get("metadata")
    if not isinstance(metadata, Mapping):
        raise ClaimsFileError("a ResourceClaim without metadata")
    name = metadata.get("name")
    namespace = metadata.get("namespace", "default")  # as kubectl applies it
    if not isinstance(name, str) or not name:
        raise ClaimsFileError("a ResourceClaim without metadata.name")
    if not isinstance(namespace, str) or not namespace:
        raise ClaimsFileError(f"ResourceClaim {name}: metadata.namespace must be a string")
    return namespace, name


class StaticClaimSource:
    """ResourceClaims held in memory: what :meth:`put` stored, or what a file holds.

    From a file (:meth:`from_file`), the file is read again when it changes, so that claims
    can be allocated by editing it while the plugin runs. Thread-safe.
    """

    def __init__(self, claims: Iterable[Mapping[str, Any]] = ()) -> None:
        self._lock = threading.Lock()
        self._claims: dict[tuple[str, str], dict[str, Any]] = {}
        self._path: str | None = None
        self._stamp: tuple[int, int, int] | None = None
        for claim in claims:
            self.put(claim)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> StaticClaimSource:
        """The claims of a YAML or JSON file: one ResourceClaim, a ``List`` of them, a list,
        or several YAML documents. Raises :class:`ClaimsFileError`."""
        source = cls()
        source._path = os.fspath(path)
        source._reload()
        return source

    def put(self, claim: Mapping[str, Any]) -> None:
        """Add *claim*, or replace the one of the same namespace and name."""
        key = _claim_key(claim)
        with self._lock:
            self._claims[key] = copy.deepcopy(dict(claim))

    def delete(self, namespace: str, name: str) -> None:
        with self._lock:
            self._claims.pop((namespace, name), None)

    def get(self, namespace: str, name: str) -> dict[str, Any]:
        if self._path is not None:
            try:
                self._reload()
            except ClaimsFileError as err:
                raise ClaimLookupError(str(err)) from None
        with self._lock:
            claim = self._claims.get((namespace, name))
            if claim is None:
                raise ClaimLookupError(NOT_FOUND.format(name=name))
            return copy.deepcopy(claim)  # callers cannot change what we hold

    def _reload(self) -> None:
        assert self._path is not None
        try:
            info = os.stat(self._path)
        except OSError as err:
            raise ClaimsFileError(f"cannot read claims file {self._path}: {err.strerror}") from None
        stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
        if stamp == self._stamp:
            return
        claims = {_claim_key(claim): claim for claim in read_claims_file(self._path)}
        with self._lock:
            self._claims, self._stamp = claims, stamp


def read_claims_file(path: str) -> list[dict[str, Any]]:
    """The ResourceClaims in the YAML or JSON file *path*; raises :class:`ClaimsFileError`."""
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            documents = [doc for doc in yaml.safe_load_all(handle) if doc is not None]
    except OSError as err:
        raise ClaimsFileError(f"cannot read claims file {path}: {err.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ClaimsFileError(f"claims file {path}: {_one_line(str(err))}") from None
    claims: list[dict[str, Any]] = []
    for document in documents:
        if isinstance(document, dict) and document.get("kind") == "List":
            items = document.get("items") or []
        else:
            items = document if isinstance(document, list) else [document]
        for item in items:
            if not isinstance(item, dict) or item.get("kind", "ResourceClaim") != "ResourceClaim":
                kind = item.get("kind") if isinstance(item, dict) else type(item).__name__
                raise ClaimsFileError(f"claims file {path}: {kind} is not a ResourceClaim")
            try:
                _claim_key(item)
            except ClaimsFileError as err:
                raise ClaimsFileError(f"claims file {path}: {err}") from None
            claims.append(item)
    return claims
