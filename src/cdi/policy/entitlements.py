"""``--allow`` entitlements, parsed as BuildKit parses them.

``device`` grants every device; ``device=<name|kind>`` grants one (a kind grants only its
first device, as in BuildKit); ``device=<name|kind>,alias=<requested>`` lets a build that asks
for ``<requested>`` use ``<name|kind>`` instead. ``network.host`` and ``security.insecure`` are
recognised and kept, for the build to refuse or honour.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from cdi.errors import CDIError
from cdi.gotext import quote
from cdi.spec.record import record

DEVICE = "device"
OTHER_ENTITLEMENTS = frozenset({"network.host", "security.insecure"})


class EntitlementError(CDIError):
    """An ``--allow`` value could not be parsed."""


@record
class Entitlements:
    """The grants of one build."""

    all_devices: bool = False
    #: grant key (a device name or kind, or an alias a build requests) -> alias target
    #: (``""`` for a plain grant)
    devices: Mapping[str, str] = MappingProxyType({})  # immutable: one shared default
    #: other entitlements asked for (``network.host``, ``security.insecure``)
    other: frozenset[str] = frozenset()


def _device_grants(rest: str) -> dict[str, str]:
    import csv  # only grants of named devices need it

    fields = next(csv.reader([rest]), [""])
    device, aliases = fields[0], fields[1:]
    alias = ""
    for entry in aliases:
        key, equals, value = entry.partition("=")
        if not equals:
            raise EntitlementError(f"invalid device config {quote(entry)}")
        if key != "alias":
            raise EntitlementError(f"unknown device config key {quote(key)}")
        alias = value
    return {alias: device} if alias else {device: ""}


def parse_entitlements(values: Iterable[str]) -> Entitlements:
    """Merge ``--allow`` values; ``device`` (all devices) wins over specific grants."""
    all_devices = False
    devices: dict[str, str] = {}
    other: set[str] = set()
    for value in values:
        if not value:
            continue
        key, _, rest = value.partition("=")
        if key == DEVICE:
            if rest:
                devices.update(_device_grants(rest))
            else:
                all_devices = True
        elif value in OTHER_ENTITLEMENTS:
            other.add(value)
        else:
            raise EntitlementError(f"unknown entitlement {value}")
    return Entitlements(
        all_devices=all_devices,
        devices=MappingProxyType({} if all_devices else devices),
        other=frozenset(other),
    )
