"""The on-demand installer of ``nvidia.com/gpu``: BuildKit's NVIDIA setup, done in-process.

BuildKit's installer (``contrib/cdisetup/nvidia``) ``apt-get install``s the NVIDIA Container
Toolkit on Debian/Ubuntu and runs ``nvidia-ctk cdi generate``. This one runs our own generator
(:mod:`cdi.generate.nvidia`) over the host: no network, any distribution. The host check is
BuildKit's (reference §3.3). Every path is read under *host_root* (a directory standing for
the host's ``/``; ``/`` itself in production) with links resolved inside it, so a fixture host
in a test is never left for the real one.

Deliberate differences from BuildKit (docs/compatibility.md, Builds):

* the spec goes to the highest-priority configured spec directory (the caller passes it),
  not to a hard-coded ``/etc/cdi`` that may not be configured at all;
* it carries ``org.mobyproject.buildkit.device.autoallow: "true"``, so the kind stays
  allowed after a restart (BuildKit's TODO: its auto-allow is in memory only);
* on WSL the spec also mounts ``/usr/lib/wsl`` read-only, which buildx v0.27+ gives the
  builder container (reference §5.4); here the steps run on the host's view directly.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
import sys
from types import MappingProxyType

from cdi.errors import CDIError
from cdi.gotext import path_error
from cdi.policy.ondemand import InstallerError, ProgressCallback
from cdi.spec import record

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    import logging

    from cdi.generate.nvml import Nvml
    from cdi.generate.options import Options
    from cdi.spec.model import Spec

KIND = "nvidia.com/gpu"
SPEC_FILE = "nvidia.yaml"
DRIVER_VERSION_FILE = "/proc/driver/nvidia/version"
PCI_DEVICES_DIR = "/sys/bus/pci/devices"
NVIDIA_PCI_VENDOR = "0x10de"
DXG = "/dev/dxg"
WSL_DIR = "/usr/lib/wsl"
DRIVER_ROOT_ENV = "NVIDIA_CTK_DRIVER_ROOT"
HOOK_PATH_ENV = "NVIDIA_CTK_CDI_HOOK_PATH"

# The host is looked at (cdi.generate.rootview) only when the installer is asked about it:
# every build makes the installers, few use them.

# BuildKit's regex; ASCII so that \s, \w and \d mean what they mean in Go's RE2.
# Compiled by re on first use: only a host with the driver is asked.
_VERSION = r"NVIDIA .* Kernel Module(?:[\s\w\d]+)?\s+(\d+\.\d+)"


def parse_driver_version(text: str) -> str:
    """``major.minor`` from the text of ``/proc/driver/nvidia/version`` (BuildKit's
    ``parseVersion``); raises :class:`InstallerError` when it does not match."""
    found = re.search(_VERSION, text, re.ASCII)
    if found is None:
        raise InstallerError("could not parse NVIDIA driver version")
    return found.group(1)


def _progress_handler(progress: ProgressCallback) -> logging.Handler:
    """A logging handler that forwards the generator's warnings into the progress step, as
    BuildKit streams ``nvidia-ctk``'s stderr into it (made only when a spec is generated:
    importing logging costs every build that does not)."""
    import logging

    class ToProgress(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                progress(f"Warning: {record.getMessage()}")
            except Exception:  # a logging handler must never raise
                self.handleError(record)

    return ToProgress(logging.WARNING)


def default_hook_path() -> str:
    """The hook binary generated specs name: ``$NVIDIA_CTK_CDI_HOOK_PATH``, else ``cdi-hook``
    or ``nvidia-cdi-hook`` found as ``cdi generate nvidia`` finds them, else the ``cdi-hook``
    installed beside this interpreter (a virtual environment that is not on ``$PATH``), else
    NVIDIA's default location."""
    from cdi.generate.hooks import DEFAULT_HOOK_PATH, resolve_hook_path

    configured = os.environ.get(HOOK_PATH_ENV, "")
    if configured:
        return configured
    found = resolve_hook_path()
    if found != DEFAULT_HOOK_PATH or _is_executable(found):
        return found
    beside = os.path.join(os.path.dirname(sys.executable), "cdi-hook")
    return beside if _is_executable(beside) else DEFAULT_HOOK_PATH


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


class NvidiaInstaller:
    """Creates ``nvidia.com/gpu`` devices: BuildKit's host check, our generator.

    *host_root* stands for the host's ``/`` (its ``proc/``, ``sys/``, ``dev/`` and driver
    files); the spec is written to ``<spec_dir>/nvidia.yaml``. *nvml* replaces the NVML
    library loaded from the driver root (tests pass a fake).
    """

    kind = KIND

    def __init__(self, host_root: str = "/", *, spec_dir: str, nvml: Nvml | None = None) -> None:
        self.host_root = host_root
        self.spec_dir = spec_dir
        self._nvml = nvml

    @property
    def spec_path(self) -> str:
        return posixpath.join(self.spec_dir, SPEC_FILE)

    # -- validate ---------------------------------------------------------------------------

    def validate(self) -> None:
        """BuildKit's check: a driver version that parses, else an NVIDIA PCI device, else
        WSL's ``/dev/dxg``; raises :class:`InstallerError` otherwise."""
        text = self._driver_version_text()
        if text is not None and re.search(_VERSION, text, re.ASCII):
            return
        if self._has_nvidia_pci_device() or self._exists(DXG):
            return
        if text is not None:
            # A version file that is there but does not parse says more than "no devices".
            raise InstallerError("could not parse NVIDIA driver version")
        raise InstallerError("no NVIDIA devices found")

    def _driver_version_text(self) -> str | None:
        """The text of the driver's version file; ``None`` when it cannot be read."""
        from cdi.generate.rootview import open_in_root

        try:
            with open_in_root(self.host_root, DRIVER_VERSION_FILE) as handle:
                return handle.read(64 * 1024).decode("utf-8", "replace")
        except OSError:
            return None

    def _has_nvidia_pci_device(self) -> bool:
        from cdi.generate.rootview import open_in_root, resolve_in_root

        directory = self.host_path(PCI_DEVICES_DIR)
        try:
            entries = sorted(os.listdir(resolve_in_root(self.host_root, PCI_DEVICES_DIR)))
        except OSError as err:
            # BuildKit returns the listing's error (Go's os.ReadDir: "open <dir>: ...").
            raise InstallerError(path_error(err, "open", directory)) from None
        for entry in entries:
            try:
                with open_in_root(self.host_root, f"{PCI_DEVICES_DIR}/{entry}/vendor") as handle:
                    vendor = handle.read(64).decode("ascii", "replace")
            except OSError:
                continue  # BuildKit skips devices whose vendor cannot be read
            if vendor.strip() == NVIDIA_PCI_VENDOR:
                return True
        return False

    def host_path(self, path: str) -> str:
        """The host path of *path* under the host root, as spelt (for messages)."""
        return posixpath.join(self.host_root, path.lstrip("/"))

    def _exists(self, path: str) -> bool:
        from cdi.generate.rootview import resolve_in_root

        try:
            os.lstat(resolve_in_root(self.host_root, path))
        except OSError:
            return False
        return True

    # -- run --------------------------------------------------------------------------------

    def options(self) -> Options:
        """What the generator is asked for: ``auto`` mode over the host."""
        from cdi.generate.options import Options

        return Options(
            mode="auto",
            driver_root=os.environ.get(DRIVER_ROOT_ENV, "") or self.host_root,
            dev_root=self.host_root,
            sysfs_root=posixpath.join(self.host_root, "sys"),
            procfs_root=posixpath.join(self.host_root, "proc"),
            hook_path=default_hook_path(),
        )

    def run(self, progress: ProgressCallback) -> None:
        """Generate the spec and write it atomically (0644) to :attr:`spec_path`."""
        import logging

        from cdi.generate.nvidia import generate
        from cdi.generate.output import write_output

        options = self.options()
        handler = _progress_handler(progress)
        generator_log = logging.getLogger("cdi.generate")
        generator_log.addHandler(handler)
        try:
            spec = self._finish(generate(options, nvml=self._nvml), options)
            progress(f"Generated CDI spec with version {spec.cdi_version}")
            write_output(spec, self.spec_path, "yaml")
        except CDIError as err:
            raise InstallerError(str(err)) from err
        finally:
            generator_log.removeHandler(handler)

    def _finish(self, spec: Spec, options: Options) -> Spec:
        """The generated *spec* with the persisted auto-allow and, on WSL, the WSL folder;
        its ``cdiVersion`` recomputed (annotations need 0.6.0)."""
        from cdi.generate.edits import READ_ONLY_BIND
        from cdi.generate.wsl import has_dxcore
        from cdi.policy.ondemand import AUTOALLOW_ANNOTATION
        from cdi.spec.model import Mount
        from cdi.spec.version import minimum_version

        annotations = MappingProxyType({**spec.annotations, AUTOALLOW_ANNOTATION: "true"})
        spec = record.replace(spec, annotations=annotations)
        # The same test the generator's auto mode uses to pick WSL.
        wsl_dir = self._directory(WSL_DIR)
        if wsl_dir is not None and has_dxcore(options.driver_root):
            mount = Mount(host_path=wsl_dir, container_path=WSL_DIR, options=READ_ONLY_BIND)
            edits = spec.container_edits
            # First, so that the generator's mounts of files below it stay on top.
            edits = record.replace(edits, mounts=(mount, *edits.mounts))
            spec = record.replace(spec, container_edits=edits)
        return record.replace(spec, cdi_version=minimum_version(spec))

    def _directory(self, path: str) -> str | None:
        """The host path of directory *path* under the host root, if it is one."""
        from cdi.generate.rootview import resolve_in_root

        try:
            resolved = resolve_in_root(self.host_root, path)
            info = os.lstat(resolved)
        except OSError:
            return None
        return resolved if stat.S_ISDIR(info.st_mode) else None
