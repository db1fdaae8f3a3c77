"""Which driver version a root holds, and where its libraries are (nvidia-ctk's rules).

The version comes from NVML when it answers; otherwise from the names of ``libcuda.so.X.Y``
or ``libnvidia-ml.so.X.Y``. Either way a library carrying that exact version must exist in
the root, and the directories holding such libraries are the driver's library directories.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Callable
from dataclasses import dataclass

from cdi.errors import CDIError
from cdi.generate.errors import GenerateError
from cdi.generate.locate import Locator, container_path

_log = logging.getLogger(__name__)

_VERSIONED_LIBRARIES = ("libcuda.so", "libnvidia-ml.so")


class DriverVersionError(GenerateError):
    """No usable driver version: NVML did not answer and no versioned library was found."""


@dataclass(frozen=True)
class DriverLibraries:
    """The driver version and the directories of its libraries (host paths, root included)."""

    root: str
    version: str
    directories: tuple[str, ...]

    def container_directories(self) -> tuple[str, ...]:
        return tuple(container_path(self.root, d) for d in self.directories)


def detect_driver(
    root: str, libraries: Locator, nvml_version: Callable[[], str] | None
) -> DriverLibraries:
    """The driver in *root*: version from *nvml_version* (which raises :class:`CDIError` when
    NVML cannot answer), else from library file names; raises :class:`DriverVersionError`."""
    version = ""
    reported = ""
    if nvml_version is not None:
        try:
            version = nvml_version()
        except CDIError as err:
            reported = str(err)
            _log.debug("NVML gives no driver version: %s", err)
    if not version:
        version = _version_from_file_names(libraries)
    if not version or version == "*.*":
        # Each cause once (nvidia-ctk repeats the same line for every attempt).
        causes = [f"NVML: {reported}"] if reported else []
        causes.append(f"no libcuda.so.*.* or libnvidia-ml.so.*.* under {root}")
        raise DriverVersionError(f"failed to determine driver version: {'; '.join(causes)}")
    if not any(libraries.locate(f"{name}.{version}") for name in _VERSIONED_LIBRARIES):
        raise DriverVersionError(
            f"unexpected version detected: no libcuda.so.{version} or "
            f"libnvidia-ml.so.{version} in {root}"
        )
    # Since nvidia-ctk v1.20 every directory holding a library of this version counts (Debian
    # splits them), not just libcuda's.
    hits = libraries.locate(f"lib*.so.{version}")
    directories = dict.fromkeys(posixpath.dirname(hit) for hit in hits)
    return DriverLibraries(root, version, tuple(directories))


def _version_from_file_names(libraries: Locator) -> str:
    for name in _VERSIONED_LIBRARIES:
        for hit in libraries.locate(f"{name}.*.*"):
            return posixpath.basename(hit)[len(name) + 1 :]
    return ""
