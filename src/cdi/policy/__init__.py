"""BuildKit-compatible device policy for builds.

Which CDI devices a build step may use and how a request names them, as BuildKit decides it:
listing and auto-allow (``devices``), the ``--allow device...`` entitlements
(``entitlements``), buildkitd's ``[cdi]`` configuration (``config``) and on-demand device
installers (``ondemand``).
"""

from __future__ import annotations

from cdi.lazy import lazy_exports

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from cdi.policy.config import DEFAULT_SPEC_DIRS, PolicyConfig, load_config
    from cdi.policy.devices import (
        DeviceInfo,
        DeviceNotAllowedError,
        DeviceNotRegisteredError,
        DevicePolicy,
        DeviceRequest,
        InjectionFailedError,
        parse_bool,
    )
    from cdi.policy.entitlements import EntitlementError, Entitlements, parse_entitlements
    from cdi.policy.ondemand import (
        AUTOALLOW_ANNOTATION,
        CLASS_ANNOTATION,
        InstallerError,
        OnDemandInstaller,
        ProgressCallback,
        register_installer,
        registered_installers,
    )

#: public name -> the module that defines it (imported on first use: a build that only parses
#: ``--allow`` or reads the config does not load the registry)
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("DEFAULT_SPEC_DIRS", "PolicyConfig", "load_config"), "cdi.policy.config"),
    **dict.fromkeys(
        (
            "DeviceInfo",
            "DeviceNotAllowedError",
            "DeviceNotRegisteredError",
            "DevicePolicy",
            "DeviceRequest",
            "InjectionFailedError",
            "parse_bool",
        ),
        "cdi.policy.devices",
    ),
    **dict.fromkeys(
        ("EntitlementError", "Entitlements", "parse_entitlements"), "cdi.policy.entitlements"
    ),
    **dict.fromkeys(
        (
            "AUTOALLOW_ANNOTATION",
            "CLASS_ANNOTATION",
            "InstallerError",
            "OnDemandInstaller",
            "ProgressCallback",
            "register_installer",
            "registered_installers",
        ),
        "cdi.policy.ondemand",
    ),
}

__all__ = [
    "AUTOALLOW_ANNOTATION",
    "CLASS_ANNOTATION",
    "DEFAULT_SPEC_DIRS",
    "DeviceInfo",
    "DeviceNotAllowedError",
    "DeviceNotRegisteredError",
    "DevicePolicy",
    "DeviceRequest",
    "EntitlementError",
    "Entitlements",
    "InjectionFailedError",
    "InstallerError",
    "OnDemandInstaller",
    "PolicyConfig",
    "ProgressCallback",
    "load_config",
    "parse_bool",
    "parse_entitlements",
    "register_installer",
    "registered_installers",
]

if not TYPE_CHECKING:  # hidden from type checkers, which would then accept any name
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
