"""What the device plugin answers the kubelet, as pure functions over device IDs.

A device ID is the device's name within the plugin's kind: ID ``gpu0`` of kind
``vendor.com/gpu`` is the CDI device ``vendor.com/gpu=gpu0``. ``Allocate`` hands each
container the CDI names of its devices in the ways the strategies ask for:

- ``cdi-cri``: as ``cdi_devices``, which the kubelet copies into the CRI request
  (``ContainerConfig.CDI_devices``; Kubernetes 1.31 and later);
- ``cdi-annotations``: as one annotation ``<prefix><plugin>_<uuid>`` whose value lists the
  names, made by :func:`cdi.annotations.update_annotations` (runtimes that predate the CRI
  field read these). The UUID is fresh for every container, so two containers of one pod
  never share a key.

Nothing here imports grpcio: the servicer converts these answers to wire messages.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cdi.annotations import ANNOTATION_PREFIX, update_annotations
from cdi.errors import CDIError
from cdi.gotext import quote

CDI_CRI = "cdi-cri"
CDI_ANNOTATIONS = "cdi-annotations"
STRATEGIES = (CDI_CRI, CDI_ANNOTATIONS)

DEFAULT_ANNOTATION_PREFIX = ANNOTATION_PREFIX
#: The plugin name in annotation keys: with a UUID (36) the key's name part is 54 bytes, under
#: the 63 that Kubernetes allows.
ANNOTATION_PLUGIN = "cdi-device-plugin"


class AllocationError(CDIError):
    """A request the plugin cannot answer."""


class UnknownDeviceError(AllocationError):
    """Device IDs that are not devices of the plugin's kind (any more)."""

    def __init__(self, kind: str, device_ids: Sequence[str]) -> None:
        self.kind = kind
        self.device_ids = tuple(device_ids)
        listed = ", ".join(quote(device_id) for device_id in device_ids)
        what = "device" if len(device_ids) == 1 else "devices"
        super().__init__(f"unknown {what} {listed}: not a device of kind {kind}")


@dataclass(frozen=True)
class ContainerAllocation:
    """What one container gets: CDI device names and annotations (either may be empty)."""

    cdi_devices: tuple[str, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)


def new_request_id() -> str:
    """A fresh UUID for an annotation key."""
    return str(uuid.uuid4())


def device_name(kind: str, device_id: str) -> str:
    """The qualified CDI name of *device_id* (``vendor.com/class=<id>``)."""
    return f"{kind}={device_id}"


def check_strategies(strategies: Iterable[str]) -> tuple[str, ...]:
    """*strategies* without repeats, in the order given; :class:`AllocationError` for one we
    do not know or for none at all."""
    chosen: list[str] = []
    for strategy in strategies:
        if strategy not in STRATEGIES:
            raise AllocationError(
                f"unknown strategy {quote(strategy)}: use one of {', '.join(STRATEGIES)}"
            )
        if strategy not in chosen:
            chosen.append(strategy)
    if not chosen:
        raise AllocationError(f"no strategy: use one of {', '.join(STRATEGIES)}")
    return tuple(chosen)


def allocate_container(
    kind: str,
    device_ids: Sequence[str],
    strategies: Sequence[str],
    *,
    annotation_prefix: str = DEFAULT_ANNOTATION_PREFIX,
    request_id: Callable[[], str] = new_request_id,
) -> ContainerAllocation:
    """The answer for one container that was given *device_ids* (all of them known)."""
    names = tuple(device_name(kind, device_id) for device_id in device_ids)
    if not names:  # an empty annotation value is an invalid request to a runtime
        return ContainerAllocation()
    annotations: dict[str, str] = {}
    if CDI_ANNOTATIONS in strategies:
        made = update_annotations({}, ANNOTATION_PLUGIN, request_id(), names)
        # The library writes the standard prefix; a custom one replaces it, as in NVIDIA's.
        annotations = {
            annotation_prefix + key.removeprefix(ANNOTATION_PREFIX): value
            for key, value in made.items()
        }
    cdi_devices = names if CDI_CRI in strategies else ()
    return ContainerAllocation(cdi_devices=cdi_devices, annotations=annotations)


def allocate(
    kind: str,
    requests: Sequence[Sequence[str]],
    known: Collection[str],
    strategies: Sequence[str],
    *,
    annotation_prefix: str = DEFAULT_ANNOTATION_PREFIX,
    request_id: Callable[[], str] = new_request_id,
) -> list[ContainerAllocation]:
    """One answer per container request, in request order.

    Every ID must be in *known* (the kind's devices now), else :class:`UnknownDeviceError`
    names each unknown one, once, and no container gets anything: a partial answer would
    start a pod without a device it was promised.
    """
    unknown: list[str] = []
    for device_ids in requests:
        unknown += [d for d in device_ids if d not in known and d not in unknown]
    if unknown:
        raise UnknownDeviceError(kind, unknown)
    return [
        allocate_container(
            kind,
            device_ids,
            strategies,
            annotation_prefix=annotation_prefix,
            request_id=request_id,
        )
        for device_ids in requests
    ]


def preferred_allocation(
    available: Sequence[str],
    must_include: Sequence[str],
    size: int,
    order: Sequence[str],
) -> list[str]:
    """The devices the plugin would pick: *must_include* first (each once, as given), then
    *available* ones in *order* (the registry's), until there are *size*.

    Available IDs missing from *order* (a device that went away meanwhile) come last, as
    given. The kubelet promises that *must_include* is part of *available* and not longer
    than *size*; when it is longer, all of it is returned anyway, since leaving out a
    device it must include would be the worse answer.
    """
    chosen: list[str] = []
    for device_id in must_include:
        if device_id not in chosen:
            chosen.append(device_id)
    rank = {device_id: position for position, device_id in enumerate(order)}
    candidates = sorted(
        (device_id for device_id in dict.fromkeys(available) if device_id not in chosen),
        key=lambda device_id: rank.get(device_id, len(rank)),
    )
    missing = max(size - len(chosen), 0)
    return chosen + candidates[:missing]
