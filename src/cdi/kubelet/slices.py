"""ResourceSlices: this node's devices of one CDI kind, published for DRA's scheduler.

What is published (``resource.k8s.io/v1``), as one pool per node and driver:

- ``spec.driver`` the driver name; ``spec.nodeName`` and ``spec.pool.name`` the node's name;
  ``spec.pool.resourceSliceCount`` the number of slices: 1, unless the kind has more than the
  128 devices the API allows in one slice (then they are split, in name order);
  ``spec.pool.generation`` 1 at first and one more each time what is published changes (the
  scheduler trusts only the slices of a pool's newest generation).
- One device per CDI device of the kind, in the registry's (name) order; see
  :func:`slice_devices` for names and attributes. No capacity: a CDI spec states none.
- ``metadata.generateName`` ``<node>-<driver>-`` (a name the API server completes); with an
  owner (the Node, see :meth:`KubernetesSliceAPI.node_owner`) the slices go when the node does.

:class:`SlicePublisher` reconciles what the API server has with that: it lists the slices of
its driver on its node (every publish, so a restarted agent or a slice someone deleted is
handled the same way), writes nothing when they already say the same, else replaces the
existing slices in place (name order), creates what is missing and deletes the rest.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from cdi.errors import CDIError
from cdi.gotext import quote
from cdi.kubelet.kubeclient import KubernetesAPIError, api_client, api_error
from cdi.names import validate_kind

if TYPE_CHECKING:
    from cdi.kubelet.log import AgentLog
    from cdi.registry.core import Registry

API_GROUP = "resource.k8s.io"
API_VERSION = "v1"
PLURAL = "resourceslices"
#: The domain of the attributes we give every device.
ATTRIBUTE_DOMAIN = "cdi.k8s.io"
#: The API's limits: devices per slice, a device name (a DNS label), a string attribute.
MAX_DEVICES_PER_SLICE = 128
MAX_DEVICE_NAME = 63
MAX_STRING_ATTRIBUTE = 64
#: Publishing gives up after this many conflicts in a row (someone else writing our slices).
MAX_ATTEMPTS = 3

_LABEL_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_DIGEST_LENGTH = 8


class SliceError(CDIError):
    """The devices cannot be published as they are (two names map to one)."""


# -- devices ------------------------------------------------------------------------------


def is_dns_label(name: str) -> bool:
    """Whether *name* is an RFC 1123 label: what a ResourceSlice device name must be."""
    return (
        0 < len(name) <= MAX_DEVICE_NAME
        and _LABEL_CHARACTERS.issuperset(name)
        and name[0] != "-"
        and name[-1] != "-"
    )


def slice_device_name(device: str) -> str:
    """The ResourceSlice device name of the CDI device name *device*.

    A DNS label is kept. Anything else (upper case, ``_``, ``.``, ``:``, longer than 63) is
    lower-cased, each other character made ``-``, trimmed to fit, and suffixed with ``-`` and
    the first 8 hex digits of the SHA-256 of *device*: distinct CDI names stay distinct
    (``GPU0`` and ``gpu0`` too), and the mapping needs no state.
    """
    if is_dns_label(device):
        return device
    digest = hashlib.sha256(device.encode("utf-8", "surrogateescape")).hexdigest()
    base = "".join(char if char in _LABEL_CHARACTERS else "-" for char in device.lower())
    base = base.strip("-")[: MAX_DEVICE_NAME - 1 - _DIGEST_LENGTH].rstrip("-")
    suffix = digest[:_DIGEST_LENGTH]
    return f"{base}-{suffix}" if base else suffix


def check_kind(kind: str) -> None:
    """Raise :class:`~cdi.errors.InvalidNameError` unless *kind* is ``vendor.com/class``."""
    validate_kind(kind)


def device_names(registry: Registry, kind: str) -> dict[str, str]:
    """ResourceSlice device name -> CDI device name, for the devices of *kind* in
    *registry*, in its order. What a DRA driver maps an allocation result back with.

    Raises :class:`~cdi.errors.InvalidNameError` for a bad *kind*, :class:`SliceError` when
    two devices map to one name (only a device literally named like another's mapping can).
    """
    check_kind(kind)
    prefix = kind + "="
    names: dict[str, str] = {}
    for qualified in registry.list_devices():
        if not qualified.startswith(prefix):
            continue
        device = qualified[len(prefix) :]
        mapped = slice_device_name(device)
        if mapped in names:
            raise SliceError(
                f"CDI devices {quote(names[mapped])} and {quote(device)} of {kind} both map "
                f"to the ResourceSlice device name {quote(mapped)}"
            )
        names[mapped] = device
    return names


def slice_devices(registry: Registry, kind: str) -> list[dict[str, Any]]:
    """The ResourceSlice ``spec.devices`` entries for the devices of *kind*.

    ``name`` as :func:`slice_device_name`; ``attributes`` ``cdi.k8s.io/kind`` (the kind)
    and ``cdi.k8s.io/device`` (the CDI device name), strings, each left out when longer than
    the API's 64 characters (and ``attributes`` with them when both are). Raises as
    :func:`device_names`.
    """
    devices: list[dict[str, Any]] = []
    for name, device in device_names(registry, kind).items():
        attributes = {
            f"{ATTRIBUTE_DOMAIN}/{key}": {"string": value}
            for key, value in (("kind", kind), ("device", device))
            if len(value) <= MAX_STRING_ATTRIBUTE
        }
        devices.append({"name": name, "attributes": attributes} if attributes else {"name": name})
    return devices


# -- the API ------------------------------------------------------------------------------


class SliceAPI(Protocol):
    """The API-server calls a publisher makes, on plain objects (the JSON of the API).

    Failures raise :class:`~cdi.kubelet.kubeclient.KubernetesAPIError` (``status`` 409 for a
    conflict, which :class:`SlicePublisher` retries); deleting a slice that is gone is fine.
    """

    def list(self, driver: str, node: str) -> list[dict[str, Any]]: ...
    def create(self, body: dict[str, Any]) -> dict[str, Any]: ...
    def replace(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def delete(self, name: str) -> None: ...


class KubernetesSliceAPI:
    """:class:`SliceAPI` through the ``kubernetes`` client (``CustomObjectsApi`` on
    ``resource.k8s.io/v1`` ``resourceslices``): in-cluster, or from *kubeconfig*; or over an
    ``ApiClient`` given as *client*. Each request waits at most *timeout* seconds, so that a
    hung API server delays a publish (which is retried) instead of stopping it for good."""

    def __init__(
        self, *, kubeconfig: str | None = None, client: Any = None, timeout: float = 30.0
    ) -> None:
        from kubernetes.client import CoreV1Api, CustomObjectsApi

        self.client = client if client is not None else api_client(kubeconfig)
        self.timeout = timeout
        self._objects = CustomObjectsApi(self.client)
        self._core = CoreV1Api(self.client)

    def list(self, driver: str, node: str) -> list[dict[str, Any]]:
        selector = f"spec.nodeName={node},spec.driver={driver}"
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self._call(
                "list resourceslices",
                self._objects.list_cluster_custom_object,
                API_GROUP,
                API_VERSION,
                PLURAL,
                field_selector=selector,
                **({"_continue": token} if token else {}),
            )
            items += page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(  # type: ignore[no-any-return]
            "create resourceslice",
            self._objects.create_cluster_custom_object,
            API_GROUP,
            API_VERSION,
            PLURAL,
            body,
        )

    def replace(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(  # type: ignore[no-any-return]
            f"replace resourceslice {name}",
            self._objects.replace_cluster_custom_object,
            API_GROUP,
            API_VERSION,
            PLURAL,
            name,
            body,
        )

    def delete(self, name: str) -> None:
        try:
            self._call(
                f"delete resourceslice {name}",
                self._objects.delete_cluster_custom_object,
                API_GROUP,
                API_VERSION,
                PLURAL,
                name,
            )
        except KubernetesAPIError as exc:
            if exc.status != 404:  # gone already: what we wanted
                raise

    def node_owner(self, node: str) -> dict[str, Any]:
        """The owner reference to the Node *node* (needs ``get`` on ``nodes``)."""
        found = self._call(f"get node {node}", self._core.read_node, node)
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "name": node,
            "uid": found.metadata.uid,
            "controller": True,
        }

    def _call(self, action: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return method(*args, _request_timeout=self.timeout, **kwargs)
        except (ApiException, HTTPError) as exc:  # not the client's checks of our arguments
            raise api_error(action, exc) from exc


# -- publishing ---------------------------------------------------------------------------


class SlicePublisher:
    """Keeps the API server's ResourceSlices of *driver* on *node* equal to the devices
    last published (thread-safe: a registry's change callback may publish while the agent
    starts). *owner*, an owner reference or a function that returns one, is put on every
    slice; *log* hears each write."""

    def __init__(
        self,
        api: SliceAPI,
        *,
        driver: str,
        node: str,
        owner: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
        log: AgentLog | None = None,
    ) -> None:
        if not driver or not node:
            raise ValueError("a slice publisher needs a driver and a node name")
        self.api = api
        self.driver = driver
        self.node = node
        self.log = log
        # A callable (KubernetesSliceAPI.node_owner) is asked on the first publish, so that
        # an API server still away at start-up fails a publish, which is retried, not the
        # agent's start.
        self._owner_source = owner if callable(owner) else None
        self._owner = dict(owner) if owner is not None and not callable(owner) else None
        self._lock = threading.Lock()

    @property
    def owner(self) -> dict[str, Any] | None:
        """The owner reference put on every slice (asked for when first needed)."""
        if self._owner is None and self._owner_source is not None:
            self._owner = dict(self._owner_source())
        return self._owner

    def publish(self, devices: list[dict[str, Any]]) -> None:
        """Make this node's slices hold *devices* (``spec.devices`` entries); writes nothing
        when they already do. Raises :class:`~cdi.kubelet.kubeclient.KubernetesAPIError`."""
        chunks = _chunks(copy.deepcopy(devices))
        with self._lock:
            for attempt in range(1, MAX_ATTEMPTS + 1):
                try:
                    self._reconcile(chunks)
                    return
                except KubernetesAPIError as exc:
                    if exc.status != 409 or attempt == MAX_ATTEMPTS:
                        raise
                    self._log("resourceslice conflict, retrying", attempt=attempt, error=str(exc))

    def withdraw(self) -> None:
        """Delete this node's slices of the driver (the node stops offering devices)."""
        with self._lock:
            for existing in self.api.list(self.driver, self.node):
                self.api.delete(existing["metadata"]["name"])
                self._log("resourceslice deleted", name=existing["metadata"]["name"])

    def _reconcile(self, chunks: list[list[dict[str, Any]]]) -> None:
        existing = sorted(
            self.api.list(self.driver, self.node), key=lambda item: item["metadata"]["name"]
        )
        current = max((_generation(item) for item in existing if self._in_pool(item)), default=0)
        if self._up_to_date(existing, chunks, current):
            return
        generation = current + 1
        for index, devices in enumerate(chunks):
            spec = self._spec(devices, generation, len(chunks))
            if index < len(existing):
                metadata = copy.deepcopy(existing[index]["metadata"])
                metadata.pop("managedFields", None)
                written = self.api.replace(metadata["name"], self._body(metadata, spec))
            else:
                metadata = {"generateName": f"{self.node}-{self.driver}-"}
                written = self.api.create(self._body(metadata, spec))
            self._log(
                "resourceslice published",
                name=(written.get("metadata") or {}).get("name"),
                generation=generation,
                devices=len(devices),
            )
        for extra in existing[len(chunks) :]:
            self.api.delete(extra["metadata"]["name"])
            self._log("resourceslice deleted", name=extra["metadata"]["name"])

    def _up_to_date(
        self, existing: list[dict[str, Any]], chunks: list[list[dict[str, Any]]], current: int
    ) -> bool:
        if len(existing) != len(chunks):
            return False
        owner = self.owner
        for item in existing:
            spec = dict(item.get("spec") or {})
            spec.pop("devices", None)  # compared below, in any order of the slices
            if spec != self._spec(None, current, len(chunks)):
                return False
            if owner is not None and item["metadata"].get("ownerReferences") != [owner]:
                return False
        held = sorted(
            _canonical((item.get("spec") or {}).get("devices") or []) for item in existing
        )
        return held == sorted(_canonical(devices) for devices in chunks)

    def _in_pool(self, item: dict[str, Any]) -> bool:
        return bool((item.get("spec") or {}).get("pool", {}).get("name") == self.node)

    def _spec(
        self, devices: list[dict[str, Any]] | None, generation: int, count: int
    ) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "driver": self.driver,
            "pool": {"name": self.node, "generation": generation, "resourceSliceCount": count},
            "nodeName": self.node,
        }
        if devices is not None:
            spec["devices"] = devices
        return spec

    def _body(self, metadata: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        owner = self.owner
        if owner is not None:
            metadata["ownerReferences"] = [owner]
        return {
            "apiVersion": f"{API_GROUP}/{API_VERSION}",
            "kind": "ResourceSlice",
            "metadata": metadata,
            "spec": spec,
        }

    def _log(self, msg: str, **fields: Any) -> None:
        if self.log is not None:
            self.log.info(msg, driver=self.driver, node=self.node, **fields)


def _chunks(devices: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The devices of each slice: one slice, empty or not, up to the per-slice limit."""
    step = MAX_DEVICES_PER_SLICE
    return [devices[start : start + step] for start in range(0, len(devices), step)] or [[]]


def _generation(item: dict[str, Any]) -> int:
    value = (item.get("spec") or {}).get("pool", {}).get("generation", 0)
    return value if isinstance(value, int) else 0


def _canonical(devices: list[dict[str, Any]]) -> str:
    return json.dumps(devices, sort_keys=True, separators=(",", ":"))
