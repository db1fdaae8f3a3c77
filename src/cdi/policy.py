"""BuildKit-compatible device policy: listing, auto-allow, resolution, entitlements, on-demand.

(Interface first; the rules are filled in by the policy work of the builds issue.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cdi.errors import CDIError


@dataclass(frozen=True, slots=True)
class DeviceRequest:
    """One device asked for by a build step (BuildKit's ``pb.CDIDevice``)."""

    name: str
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Entitlements:
    """The ``--allow device...`` grants of a build."""

    all_devices: bool = False
    #: grant key (device name, kind, or alias) -> alias target ("" when not an alias)
    devices: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


class EntitlementError(CDIError):
    """An ``--allow`` value could not be parsed."""


class DeviceNotAllowedError(CDIError):
    """The build asks for devices it has not been granted."""


class DeviceNotRegisteredError(CDIError):
    """A required device request matches no device."""


#: Receives progress lines while an on-demand installer runs.
ProgressCallback = Callable[[str], None]


class DevicePolicy:
    """Placeholder signatures (see the module docstring)."""

    def authorize(
        self, requests: Sequence[DeviceRequest], entitlements: Entitlements
    ) -> list[DeviceRequest]:
        """Check one exec step's requests (BuildKit's per-exec check); the rewritten list."""
        raise NotImplementedError

    def prepare(
        self, requests: Sequence[DeviceRequest], progress: ProgressCallback | None = None
    ) -> None:
        """Run on-demand installers for requested kinds that have no device yet."""
        raise NotImplementedError

    def inject(
        self, oci_spec: Mapping[str, Any], requests: Sequence[DeviceRequest]
    ) -> dict[str, Any]:
        """A copy of *oci_spec* with the requested devices' edits."""
        raise NotImplementedError
