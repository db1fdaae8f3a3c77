"""Spec directories, their devices, conflicts between them, and injection by device name.

:class:`Registry` is the entry point; the modules below it each do one step: ``dirs`` (which
directories), ``scan`` (incremental reading), ``index`` and ``indexcodec`` (the persistent
index), ``specfile`` (a spec and where it came from), ``resolve`` (priorities and conflicts),
``trust`` (the trust policy for spec files), ``watch`` (inotify), ``core`` (the registry
itself) and ``quick`` (a few devices' edits from the index, without a registry).

The names below are imported on first use (PEP 562): ``cdi.registry.quick`` must not load
the registry it exists to avoid.
"""

from __future__ import annotations

from cdi.lazy import lazy_exports

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from cdi.errors import TrustError, TrustModeError
    from cdi.registry.core import Registry
    from cdi.registry.dirs import DEFAULT_SPEC_DIRS, SPEC_DIRS_ENV, default_spec_dirs
    from cdi.registry.quick import quick_edits
    from cdi.registry.resolve import (
        ACTIVE,
        CONFLICT,
        SHADOWED,
        ConflictError,
        DeviceDefinition,
        RegisteredDevice,
    )
    from cdi.registry.scan import SpecDirError
    from cdi.registry.specfile import SpecFile
    from cdi.registry.trust import TRUST_MODES, check_spec_file

#: public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "TrustError": "cdi.errors",
    "TrustModeError": "cdi.errors",
    "Registry": "cdi.registry.core",
    **dict.fromkeys(
        ("DEFAULT_SPEC_DIRS", "SPEC_DIRS_ENV", "default_spec_dirs"), "cdi.registry.dirs"
    ),
    "quick_edits": "cdi.registry.quick",
    **dict.fromkeys(
        ("ACTIVE", "CONFLICT", "SHADOWED", "ConflictError", "DeviceDefinition", "RegisteredDevice"),
        "cdi.registry.resolve",
    ),
    "SpecDirError": "cdi.registry.scan",
    "SpecFile": "cdi.registry.specfile",
    "TRUST_MODES": "cdi.registry.trust",
    "check_spec_file": "cdi.registry.trust",
}

__all__ = [
    "ACTIVE",
    "CONFLICT",
    "DEFAULT_SPEC_DIRS",
    "SHADOWED",
    "SPEC_DIRS_ENV",
    "TRUST_MODES",
    "ConflictError",
    "DeviceDefinition",
    "RegisteredDevice",
    "Registry",
    "SpecDirError",
    "SpecFile",
    "TrustError",
    "TrustModeError",
    "check_spec_file",
    "default_spec_dirs",
    "quick_edits",
]

if not TYPE_CHECKING:  # hidden from type checkers, which would then accept any name
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
