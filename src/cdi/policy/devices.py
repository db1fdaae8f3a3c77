"""Devices for build steps, with BuildKit's rules.

* Listing: every device of the registry (sorted), then each on-demand kind that has no device
  yet and whose installer accepts this host.
* Auto-allow: the device's name or kind is configured, or its effective annotations (the
  spec's, overlaid by the device's) say ``org.mobyproject.buildkit.device.autoallow: true``.
* Resolution of a request: ``vendor.com/class`` is the kind's first device in byte order,
  ``vendor.com/class=*`` all of them, a full name itself; a request without a vendor, or one
  that matched nothing, is looked up as a ``org.mobyproject.buildkit.device.class`` value.
* Authorisation of one build step (:meth:`DevicePolicy.authorize`), including BuildKit's
  quirks: ``--allow device`` skips every check, a grant for a kind covers only its first
  device, an alias renames the request without further checks, and on-demand kinds are added
  to every step's devices.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

from cdi.errors import CDIError
from cdi.gotext import quote
from cdi.lazylog import LazyLogger
from cdi.names import parse_qualifier
from cdi.plaindata import copy_plain
from cdi.policy.config import PolicyConfig
from cdi.policy.entitlements import Entitlements
from cdi.policy.ondemand import (
    AUTOALLOW_ANNOTATION,
    CLASS_ANNOTATION,
    InstallerError,
    OnDemandInstaller,
    ProgressCallback,
    registered_installers,
)
from cdi.registry import Registry
from cdi.spec.record import record

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import Any

_log = LazyLogger(__name__)  # logging is imported only to say something


_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_bool(text: str) -> bool | None:
    """Go's ``strconv.ParseBool``: ``None`` when *text* is not a boolean."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


@record
class DeviceRequest:
    """One device asked for by a build step (BuildKit's ``CDIDevice``)."""

    name: str
    optional: bool = False


@record
class DeviceInfo:
    """A device as builds see it (BuildKit's worker record for a CDI device)."""

    name: str
    auto_allow: bool
    on_demand: bool = False
    annotations: Mapping[str, str] = MappingProxyType({})  # immutable: one shared default

    def to_json(self) -> dict[str, Any]:
        """BuildKit's JSON keys: ``name``, ``autoAllow``, ``onDemand``, ``annotations``."""
        return {
            "name": self.name,
            "autoAllow": self.auto_allow,
            "onDemand": self.on_demand,
            "annotations": dict(sorted(self.annotations.items())),
        }


class DeviceNotAllowedError(CDIError):
    """The build asks for devices it has not been granted."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        if len(self.names) == 1:
            message = f"device {self.names[0]} is requested by the build but not allowed"
        else:
            joined = ", ".join(self.names)
            message = f"devices {joined} are requested by the build but not allowed"
        super().__init__(message)


class DeviceNotRegisteredError(CDIError):
    """A required device request matches no device."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"required device {quote(name)} is not registered")


class InjectionFailedError(CDIError):
    """A build step's devices could not be injected into its container."""


def _kind_of(name: str) -> str:
    return name.partition("=")[0]


class DevicePolicy:
    """The devices of a registry, as BuildKit's device manager presents them to builds.

    *auto_allowed* lists device names or kinds allowed without ``--allow``; *installers*
    are the on-demand installers by kind (default: every registered one).
    """

    def __init__(
        self,
        registry: Registry,
        auto_allowed: Iterable[str] = (),
        installers: Mapping[str, OnDemandInstaller] | None = None,
    ) -> None:
        self.registry = registry
        self._auto_allowed = set(auto_allowed)
        self._installers = dict(registered_installers() if installers is None else installers)
        self._install_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: PolicyConfig, host_root: str = "/") -> DevicePolicy | None:
        """The policy buildkitd would build from *config*; ``None`` when CDI is disabled.

        Its on-demand installers are this project's (``nvidia.com/gpu``, ``docker.com/gpu``),
        checking the host under *host_root* and writing into the highest-priority (last)
        spec directory, overridden by any registered for the same kind.
        """
        # Imported here: the installers import the generator's helpers, which plain policy
        # users (and cdi.policy's own import) do not need.
        from cdi.policy.installers import default_installers

        if config.disabled:
            return None
        if not config.spec_dirs:
            raise CDIError("no CDI specification directories specified")
        registry = Registry(config.spec_dirs)
        # The directory the registry itself writes to (as cleaned by it): the last.
        spec_dir = registry.spec_dirs()[-1]
        installers = {**default_installers(host_root, spec_dir), **registered_installers()}
        return cls(registry, config.auto_allowed, installers)

    # -- what there is ----------------------------------------------------------------------

    def annotations(self, name: str) -> dict[str, str]:
        """The device's effective annotations: the spec's, overlaid by the device's own."""
        found = self.registry.get_device(name)
        if found is None:
            return {}
        return {**found.spec.spec.annotations, **found.device.annotations}

    def _is_auto_allowed(self, name: str, annotations: Mapping[str, str]) -> bool:
        if name in self._auto_allowed or _kind_of(name) in self._auto_allowed:
            return True
        return parse_bool(annotations.get(AUTOALLOW_ANNOTATION, "")) is True

    def get_device(self, name: str) -> DeviceInfo:
        """The device called *name*; an unknown name has no annotations."""
        annotations = self.annotations(name)
        return DeviceInfo(
            name,
            self._is_auto_allowed(name, annotations),
            annotations=MappingProxyType(annotations),
        )

    def _kinds_present(self) -> set[str]:
        return {_kind_of(name) for name in self.registry.list_devices()}

    def _usable_installers(self, present: set[str]) -> list[OnDemandInstaller]:
        usable = []
        for kind in sorted(self._installers):
            if kind in present:
                continue
            try:
                self._installers[kind].validate()
            except InstallerError as err:
                _log.debug("on-demand device %s unavailable: %s", kind, err)
                continue
            usable.append(self._installers[kind])
        return usable

    def list_devices(self) -> list[DeviceInfo]:
        """Every device (sorted), then the on-demand kinds this host could set up."""
        names = self.registry.list_devices()
        listed = [self.get_device(name) for name in names]
        present = {_kind_of(name) for name in names}
        for installer in self._usable_installers(present):
            listed.append(DeviceInfo(installer.kind, auto_allow=True, on_demand=True))
        return listed

    # -- resolution -------------------------------------------------------------------------

    def find_devices(self, requests: Iterable[DeviceRequest]) -> list[str]:
        """The device names *requests* resolve to, de-duplicated in request order.

        Raises :class:`DeviceNotRegisteredError` for a required request that matches
        nothing; an optional one only logs a warning.
        """
        names = self.registry.list_devices()  # sorted, so "first" is byte order
        found: dict[str, None] = {}
        for request in requests:
            matches = self._match(request.name, names)
            if not matches:
                if not request.optional:
                    raise DeviceNotRegisteredError(request.name)
                _log.warning("Optional device %s is not registered", quote(request.name))
            for name in matches:
                found.setdefault(name)
        return list(found)

    def _match(self, request: str, names: list[str]) -> list[str]:
        kind, _, device = request.partition("=")
        vendor, _ = parse_qualifier(kind)
        matches: list[str] = []
        if vendor:
            prefix = kind + "="
            if not device:
                matches = [name for name in names if name.startswith(prefix)][:1]
            elif device == "*":
                matches = [name for name in names if name.startswith(prefix)]
            elif request in names:
                matches = [request]
        if not matches:
            # Also for qualified requests that matched nothing: BuildKit falls back to the
            # class annotation, compared with the whole request string.
            matches = [
                name for name in names if self.annotations(name).get(CLASS_ANNOTATION) == request
            ]
        return matches

    # -- authorisation ----------------------------------------------------------------------

    def authorize(
        self, requests: Sequence[DeviceRequest], entitlements: Entitlements | None
    ) -> list[DeviceRequest]:
        """Check one build step's requests; returns the list the step will use.

        Raises :class:`DeviceNotAllowedError` or :class:`DeviceNotRegisteredError`.
        """
        if entitlements is not None and entitlements.all_devices:
            return list(requests)  # `--allow device`: nothing is checked or resolved here
        allowed = [DeviceRequest(info.name) for info in self.list_devices() if info.on_demand]
        grants = entitlements.devices if entitlements is not None else {}
        not_aliased: list[DeviceRequest] = []
        for request in requests:
            target = grants.get(request.name, "")
            if target:
                allowed.append(DeviceRequest(target, request.optional))
            else:
                not_aliased.append(request)
        mounted = self.find_devices(not_aliased)
        if not mounted:
            return allowed
        granted: set[str] = set()
        for key in grants:  # every key, aliases included, must resolve
            granted.update(self.find_devices([DeviceRequest(key)]))
        forbidden = []
        for name in mounted:
            if name in granted or self.get_device(name).auto_allow:
                allowed.append(DeviceRequest(name))
            else:
                forbidden.append(name)
        if forbidden:
            raise DeviceNotAllowedError(forbidden)
        return allowed

    # -- on demand --------------------------------------------------------------------------

    def prepare(
        self, requests: Sequence[DeviceRequest], progress: ProgressCallback | None = None
    ) -> None:
        """Install on-demand kinds that *requests* name and that have no device yet."""
        for kind in dict.fromkeys(_kind_of(request.name) for request in requests):
            installer = self._installers.get(kind)
            if installer is None or kind in self._kinds_present():
                continue
            with self._lock:
                lock = self._install_locks.setdefault(kind, threading.Lock())
            with lock:
                if kind not in self._kinds_present():  # another step may have done it
                    self._install(installer, progress or (lambda line: None))

    def _install(self, installer: OnDemandInstaller, progress: ProgressCallback) -> None:
        kind = installer.kind
        progress(f"preparing device {kind}")
        try:
            installer.validate()
        except CDIError as err:
            raise InstallerError(f"failed to find preconditions for {kind} device: {err}") from err
        try:
            installer.run(progress)
        except CDIError as err:
            raise InstallerError(f"failed to create {kind} device: {err}") from err
        self.registry.refresh()
        # In memory, like BuildKit; this project's installers also write the auto-allow
        # annotation into their specs, so that it survives a restart.
        self._auto_allowed.add(kind)

    # -- injection --------------------------------------------------------------------------

    def inject(
        self, oci_spec: Mapping[str, Any], requests: Sequence[DeviceRequest]
    ) -> dict[str, Any]:
        """A copy of *oci_spec* with the devices *requests* resolve to.

        Raises :class:`InjectionFailedError` (``CDI device injection failed: ...``).
        """
        try:
            self.registry.refresh()
        except CDIError as err:
            _log.warning("CDI registry refresh failed: %s", err)
        try:
            names = self.find_devices(requests)
            if not names:
                unchanged: dict[str, Any] = copy_plain(oci_spec)
                return unchanged
            _log.debug("Injecting devices %s", names)
            return self.registry.inject(oci_spec, names)
        except CDIError as err:
            raise InjectionFailedError(f"CDI device injection failed: {err}") from err
