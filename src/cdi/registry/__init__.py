"""Spec directories, their devices, conflicts between them, and injection by device name.

:class:`Registry` is the entry point; the modules below it each do one step: ``dirs`` (which
directories), ``scan`` (incremental reading), ``index`` and ``indexcodec`` (the persistent
index), ``specfile`` (a spec and where it came from), ``resolve`` (priorities and conflicts),
``watch`` (inotify) and ``core`` (the registry itself).
"""

from cdi.registry.core import Registry
from cdi.registry.dirs import DEFAULT_SPEC_DIRS, SPEC_DIRS_ENV, default_spec_dirs
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

__all__ = [
    "ACTIVE",
    "CONFLICT",
    "DEFAULT_SPEC_DIRS",
    "SHADOWED",
    "SPEC_DIRS_ENV",
    "ConflictError",
    "DeviceDefinition",
    "RegisteredDevice",
    "Registry",
    "SpecDirError",
    "SpecFile",
    "default_spec_dirs",
]
