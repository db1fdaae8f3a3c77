"""The DRA kubelet plugin: ``NodePrepareResources`` and ``NodeUnprepareResources``.

:class:`DRAPlugin` is the one implementation; :func:`add_dra_services` serves it as the
kubelet's ``DRAPlugin`` service of both API versions, v1 and v1beta1 (older kubelets), which
differ only in v1's ``share_id``.

Preparing a claim reads it from the :class:`~cdi.kubelet.claims.ClaimSource`, checks it
(:mod:`cdi.kubelet.claimplan`), writes its transient CDI spec (:mod:`cdi.kubelet.claimspecs`)
and answers with the CDI ids of the spec's devices. Unpreparing removes the spec. Both are
idempotent, and the spec files are the only state: nothing is kept in memory, so an agent
that restarted unprepares what an earlier one prepared, and a second instance (a rolling
update) may take either call.

Failures are per claim, in the entry's ``error``, never a failed call: the proto allows it,
and a claim that cannot be prepared then does not hold back the other claims of the request
(the Go helper fails the whole call when one claim cannot be read). Every claim of a request
has an entry. Calls are serialized: one prepare or unprepare at a time, as the Go helper
does by default, so two calls never write or remove one claim's file at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cdi.errors import CDIError
from cdi.kubelet.claimplan import ClaimError, ClaimRef, PreparedDevice, plan_claim
from cdi.kubelet.claims import ClaimLookupError, ClaimSource
from cdi.kubelet.claimspecs import ClaimSpecs
from cdi.kubelet.log import AgentLog
from cdi.kubelet.wire import dra_v1_pb2, dra_v1_pb2_grpc, dra_v1beta1_pb2, dra_v1beta1_pb2_grpc
from cdi.registry import Registry


@dataclass(frozen=True)
class PrepareResult:
    """A claim's entry in the answer to ``NodePrepareResources``."""

    devices: tuple[PreparedDevice, ...] = ()
    error: str = ""


class DRAPlugin:
    """Prepares and unprepares the claims of *driver*, whose devices are the devices of
    *kind* in *registry*; claims come from *claims*, specs go to *specs*."""

    def __init__(
        self,
        *,
        driver: str,
        kind: str,
        registry: Registry,
        claims: ClaimSource,
        specs: ClaimSpecs,
        log: AgentLog,
    ) -> None:
        self.driver = driver
        self.kind = kind
        self.registry = registry
        self.claims = claims
        self.specs = specs
        self._log = log
        self._lock = threading.Lock()

    def prepare(self, refs: Iterable[ClaimRef]) -> dict[str, PrepareResult]:
        """Each claim's :class:`PrepareResult`, by claim UID."""
        with self._lock:
            return {ref.uid: self._prepare(ref) for ref in refs}

    def unprepare(self, refs: Iterable[ClaimRef]) -> dict[str, str]:
        """Each claim's error (empty: done), by claim UID."""
        with self._lock:
            return {ref.uid: self._unprepare(ref) for ref in refs}

    def _prepare(self, ref: ClaimRef) -> PrepareResult:
        try:
            try:
                claim = self.claims.get(ref.namespace, ref.name)
            except ClaimLookupError as err:
                raise ClaimError(f"retrieve claim {ref}: {err}") from None
            plan = plan_claim(
                ref, claim, driver=self.driver, kind=self.kind, registry=self.registry
            )
            if plan.spec_devices:
                path = self.specs.write(ref.uid, plan.spec_devices)
            else:  # nothing of ours in it (the kubelet should not have asked)
                self.specs.remove(ref.uid)
                path = ""
        except ClaimError as err:
            return PrepareResult(error=self._failed("prepare", ref, str(err)))
        except CDIError as err:  # the spec: invalid (a claim UID no CDI name takes) or unwritable
            error = f"claim {ref}: write CDI spec: {err}"
            return PrepareResult(error=self._failed("prepare", ref, error))
        self._log.info(
            "prepared claim",
            claim=str(ref),
            uid=ref.uid,
            devices=[device.device_name for device in plan.devices],
            spec=path,
        )
        return PrepareResult(devices=plan.devices)

    def _unprepare(self, ref: ClaimRef) -> str:
        try:
            self.specs.remove(ref.uid)
        except CDIError as err:
            return self._failed("unprepare", ref, f"claim {ref}: remove CDI spec: {err}")
        self._log.info("unprepared claim", claim=str(ref), uid=ref.uid)
        return ""

    def _failed(self, action: str, ref: ClaimRef, error: str) -> str:
        self._log.error(f"cannot {action} claim", claim=str(ref), uid=ref.uid, error=error)
        return error


def _refs(request: Any) -> list[ClaimRef]:
    return [ClaimRef(claim.namespace, claim.uid, claim.name) for claim in request.claims]


class DRAServicer:
    """The kubelet's ``DRAPlugin`` service over :class:`DRAPlugin`, in the message types of
    *wire* (``dra_v1_pb2`` or ``dra_v1beta1_pb2``)."""

    def __init__(self, plugin: DRAPlugin, wire: Any) -> None:
        self._plugin = plugin
        self._wire = wire
        self._share_ids = "share_id" in wire.Device.DESCRIPTOR.fields_by_name

    def NodePrepareResources(self, request: Any, context: Any) -> Any:
        response = self._wire.NodePrepareResourcesResponse()
        for uid, result in self._plugin.prepare(_refs(request)).items():
            entry = response.claims[uid]
            entry.error = result.error
            for device in result.devices:
                entry.devices.append(self._device(device))
        return response

    def NodeUnprepareResources(self, request: Any, context: Any) -> Any:
        response = self._wire.NodeUnprepareResourcesResponse()
        for uid, error in self._plugin.unprepare(_refs(request)).items():
            response.claims[uid].error = error  # the entry exists even when empty
        return response

    def _device(self, device: PreparedDevice) -> Any:
        message = self._wire.Device(
            request_names=list(device.request_names),
            pool_name=device.pool_name,
            device_name=device.device_name,
            cdi_device_ids=list(device.cdi_device_ids),
        )
        if device.share_id is not None and self._share_ids:
            message.share_id = device.share_id
        return message


def add_dra_services(server: Any, plugin: DRAPlugin) -> None:
    """Serve *plugin* on *server* (a ``grpc.Server``) as DRAPlugin v1 and v1beta1."""
    add_v1: Any = dra_v1_pb2_grpc.add_DRAPluginServicer_to_server  # generated, untyped
    add_v1beta1: Any = dra_v1beta1_pb2_grpc.add_DRAPluginServicer_to_server
    add_v1(DRAServicer(plugin, dra_v1_pb2), server)
    add_v1beta1(DRAServicer(plugin, dra_v1beta1_pb2), server)
