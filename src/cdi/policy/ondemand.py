"""On-demand device installers: set up a kind's devices the first time a build asks.

An installer checks the host (``validate``), creates the spec (``run``), and afterwards the
policy refreshes the registry and allows the kind automatically (in memory, as BuildKit
does). Installers register per kind; the hardware generators provide real ones.
"""

from __future__ import annotations

from collections.abc import Callable

from cdi.errors import CDIError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol
else:
    # The protocol is for type checkers; at run time it is a plain base, and a build does not
    # pay for importing typing.
    Protocol = object

#: A spec (or device) annotation that allows its devices in builds without --allow device;
#: installers put it on the specs they create.
AUTOALLOW_ANNOTATION = "org.mobyproject.buildkit.device.autoallow"
#: A spec annotation naming a device class a build may request instead of a device name.
CLASS_ANNOTATION = "org.mobyproject.buildkit.device.class"

#: Receives progress lines while an installer runs.
ProgressCallback = Callable[[str], None]


class InstallerError(CDIError):
    """An installer could not validate the host or create the devices."""


class OnDemandInstaller(Protocol):
    """Creates the devices of one kind (``vendor.com/class``) on demand."""

    kind: str

    def validate(self) -> None:
        """Raise :class:`InstallerError` unless the host can have these devices."""

    def run(self, progress: ProgressCallback) -> None:
        """Create the devices' spec; report what happens through *progress*."""


_INSTALLERS: dict[str, OnDemandInstaller] = {}


def register_installer(installer: OnDemandInstaller) -> None:
    """Make *installer* available to every policy created afterwards."""
    _INSTALLERS[installer.kind] = installer


def registered_installers() -> dict[str, OnDemandInstaller]:
    """The installers registered so far, by kind."""
    return dict(_INSTALLERS)
