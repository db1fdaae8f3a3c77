"""The node agent's connection to the Kubernetes API server, and its errors.

In a pod the agent uses its service account (in-cluster configuration: the token and CA
mounted under ``/var/run/secrets/kubernetes.io/serviceaccount``); outside one, a kubeconfig
(``--kubeconfig``, else ``$KUBECONFIG``, else ``~/.kube/config``). The ``kubernetes`` client
is imported only here and in the API adapters that take the client this returns.

A failed request becomes a :class:`KubernetesAPIError` whose text names the action and
carries the API server's own message (``list resourceslices: 403 Forbidden: ...``): the
message of a ``Status`` object is what tells an operator which RBAC rule is missing.
"""

from __future__ import annotations

import json
import os
from typing import Any

from cdi.errors import CDIError

#: Set by the kubelet in every pod: the agent runs in a cluster.
IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"


class KubernetesAPIError(CDIError):
    """A request to the API server failed; ``status`` is its HTTP status (``None``: no
    answer, or no configuration to send it with)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def api_client(kubeconfig: str | None = None) -> Any:
    """A ``kubernetes.client.ApiClient``: in-cluster when running in a pod and no
    *kubeconfig* is named, else from the kubeconfig. Raises :class:`KubernetesAPIError`."""
    from kubernetes import client
    from kubernetes import config as loaded

    config: Any = loaded  # partly typed: its loaders are not
    try:
        if kubeconfig is None and os.environ.get(IN_CLUSTER_ENV):
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
        return config.new_client_from_config(config_file=kubeconfig)
    except (config.ConfigException, OSError) as exc:
        where = kubeconfig or "the default kubeconfig (or in-cluster service account)"
        raise KubernetesAPIError(
            f"cannot configure the Kubernetes client from {where}: {exc}"
        ) from exc


def api_error(action: str, exc: BaseException) -> KubernetesAPIError:
    """The :class:`KubernetesAPIError` for *exc*, raised by the client while doing *action*
    (``list resourceslices``): an ``ApiException`` (the server answered) or one of urllib3's
    errors (it did not)."""
    status = getattr(exc, "status", None)
    if not isinstance(status, int):
        # urllib3's errors: no HTTP answer at all (refused, DNS, TLS, timed out).
        reason = getattr(exc, "reason", None) or exc
        return KubernetesAPIError(f"{action}: no answer from the API server: {reason}")
    reason = getattr(exc, "reason", None) or ""
    message = _status_message(getattr(exc, "body", None))
    text = f"{action}: {status} {reason}".rstrip()
    return KubernetesAPIError(f"{text}: {message}" if message else text, status)


def _status_message(body: object) -> str:
    """The ``message`` of a ``Status`` response body; else the body itself, shortened."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body.strip():
        return ""
    try:
        decoded = json.loads(body)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and isinstance(decoded.get("message"), str):
        return str(decoded["message"])
    text = " ".join(body.split())
    return text if len(text) <= 200 else text[:199] + "…"
