"""From a ResourceClaim to what preparing it gives: the kubelet's devices and the spec's edits.

Pure rules, no I/O beyond the registry look-ups: which allocation results are ours (their
``driver``), whether the claim may be prepared at all (allocated, still the claim the kubelet
means), which registry device each result names, and the answer per result (request name
without its sub-request, pool, device, the CDI id of the claim spec's device). The error texts
of the checks are the Go helper's (``claim <ns>/<name> not allocated``, ``... got replaced``).

A result names a device by its ResourceSlice name, which is the CDI device name unless that
is no DNS label (:func:`cdi.kubelet.slices.slice_device_name`); the claim spec's devices and
variables use the ResourceSlice name, the one the claim knows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cdi.errors import CDIError, UnresolvableDevicesError
from cdi.kubelet.claimspecs import claim_device_id
from cdi.kubelet.slices import device_names
from cdi.registry import Registry
from cdi.spec.model import ContainerEdits


class ClaimError(CDIError):
    """Why one claim cannot be prepared (its entry's ``error`` in the kubelet's answer)."""


@dataclass(frozen=True)
class ClaimRef:
    """A claim as the kubelet names it."""

    namespace: str
    uid: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class AllocationResult:
    """One entry of ``status.allocation.devices.results``."""

    request: str
    driver: str
    pool: str
    device: str
    share_id: str | None = None


@dataclass(frozen=True)
class PreparedDevice:
    """One device of the kubelet's answer for a claim."""

    request_names: tuple[str, ...]
    pool_name: str
    device_name: str
    cdi_device_ids: tuple[str, ...]
    share_id: str | None = None


@dataclass(frozen=True)
class ClaimPlan:
    """What preparing a claim gives: the answer's devices, and the claim spec's devices
    (``(device, edits)``, each device once, in result order; none: no spec)."""

    devices: tuple[PreparedDevice, ...]
    spec_devices: tuple[tuple[str, ContainerEdits], ...]


def _field(data: Mapping[str, Any], *path: str) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str):
        raise ClaimError(f"{where}: {key} must be a string")
    return value


def allocation_results(ref: ClaimRef, claim: Mapping[str, Any]) -> list[AllocationResult]:
    """The claim's allocation results, after the checks the kubelet's request calls for (in
    the Go helper's order): it is allocated, and it is the claim of the request's UID (not a
    new one of the same name). Raises :class:`ClaimError`."""
    allocation = _field(claim, "status", "allocation")
    if not isinstance(allocation, Mapping):
        raise ClaimError(f"claim {ref} not allocated")
    if _field(claim, "metadata", "uid") != ref.uid:
        raise ClaimError(f"claim {ref} got replaced")
    results = _field(allocation, "devices", "results") or []
    if not isinstance(results, list):
        raise ClaimError(f"claim {ref}: status.allocation.devices.results must be a list")
    found = []
    for index, entry in enumerate(results):
        where = f"claim {ref}: status.allocation.devices.results[{index}]"
        if not isinstance(entry, Mapping):
            raise ClaimError(f"{where} must be an object")
        share_id = entry.get("shareID")
        found.append(
            AllocationResult(
                request=_text(entry, "request", where),
                driver=_text(entry, "driver", where),
                pool=_text(entry, "pool", where),
                device=_text(entry, "device", where),
                share_id=share_id if isinstance(share_id, str) and share_id else None,
            )
        )
    return found


def request_name(request: str) -> str:
    """A result's request without its sub-request (``gpu/large`` -> ``gpu``): the kubelet
    matches it with the names the pod's containers use, which never have one."""
    return request.partition("/")[0]


def plan_claim(
    ref: ClaimRef, claim: Mapping[str, Any], *, driver: str, kind: str, registry: Registry
) -> ClaimPlan:
    """What preparing *claim* for *driver* gives. Each of our results must name a device of
    *kind* in *registry* (every one that does not is named in the :class:`ClaimError`);
    other drivers' results are left to them."""
    ours = [result for result in allocation_results(ref, claim) if result.driver == driver]
    if not ours:
        return ClaimPlan(devices=(), spec_devices=())
    try:
        published = device_names(registry, kind)
    except CDIError as err:  # two CDI devices with one ResourceSlice name
        raise ClaimError(f"claim {ref}: {err}") from None
    edits: dict[str, ContainerEdits] = {}
    unknown: list[str] = []
    for result in ours:
        if result.device in edits or result.device in unknown:
            continue
        cdi_name = published.get(result.device)
        try:
            if cdi_name is None:
                raise UnresolvableDevicesError([result.device])
            edits[result.device] = registry.resolve_edits([f"{kind}={cdi_name}"])
        except UnresolvableDevicesError:  # also: gone since the listing
            unknown.append(result.device)
    if unknown:
        raise ClaimError(f"claim {ref}: no {kind} device on this node for {', '.join(unknown)}")
    devices = tuple(
        PreparedDevice(
            request_names=(request_name(result.request),),
            pool_name=result.pool,
            device_name=result.device,
            cdi_device_ids=(claim_device_id(driver, ref.uid, result.device),),
            share_id=result.share_id,
        )
        for result in ours
    )
    return ClaimPlan(devices=devices, spec_devices=tuple(edits.items()))
