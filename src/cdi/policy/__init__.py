"""BuildKit-compatible device policy for builds.

Which CDI devices a build step may use and how a request names them, as BuildKit decides it:
listing and auto-allow (``devices``), the ``--allow device...`` entitlements
(``entitlements``), buildkitd's ``[cdi]`` configuration (``config``) and on-demand device
installers (``ondemand``).
"""

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
