"""The on-demand installer of ``docker.com/gpu``: Docker Desktop's Virtio-GPU Venus device.

BuildKit's ``contrib/cdisetup/venus`` (reference §3.5): a linuxkit kernel with the DRI nodes
gets a fixed spec. Paths are read under *host_root*, links resolved inside it, as for the
NVIDIA installer.

Deliberate differences from BuildKit (docs/compatibility.md, Builds): the spec goes to the
highest-priority configured spec directory (not a hard-coded ``/etc/cdi``), with mode 0644
like every spec this project writes (BuildKit: 0600, in a 0700 ``/etc/cdi``; the spec holds
nothing secret and other CDI consumers, which may not run as root, must read it). Under a host
root other than ``/`` the device nodes get that root's paths as ``hostPath``.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from types import MappingProxyType

from cdi.gotext import path_error
from cdi.policy.ondemand import InstallerError, ProgressCallback

KIND = "docker.com/gpu"
SPEC_FILE = "venus.yaml"
SPEC_VERSION = "0.6.0"
DEVICE_NAME = "venus"
NAME_ANNOTATION = "cdi.device.name"
NAME = "Virtio-GPU Venus (Docker Desktop)"
DRI_DIR = "/dev/dri"
#: In the order of BuildKit's spec.
DEVICE_NODES = ("/dev/dri/card0", "/dev/dri/renderD128")


def _kernel_release() -> str:
    return os.uname().release


class VenusInstaller:
    """Creates the ``docker.com/gpu=venus`` device on Docker Desktop's linuxkit VM.

    *kernel_release* returns ``uname -r`` (default: this machine's).
    """

    kind = KIND

    def __init__(
        self,
        host_root: str = "/",
        *,
        spec_dir: str,
        kernel_release: Callable[[], str] = _kernel_release,
    ) -> None:
        self.host_root = host_root
        self.spec_dir = spec_dir
        self._kernel_release = kernel_release

    @property
    def spec_path(self) -> str:
        return posixpath.join(self.spec_dir, SPEC_FILE)

    def validate(self) -> None:
        """BuildKit's check and texts: a linuxkit kernel, ``/dev/dri``, and its two nodes."""
        if "linuxkit" not in self._kernel_release():
            raise InstallerError("docker.com/gpu currently requires a linuxkit kernel")
        if self._stat_error(DRI_DIR) is not None:
            raise InstallerError("no DRI device found, make you use Docker VMM Hypervisor")
        for node in (DEVICE_NODES[1], DEVICE_NODES[0]):  # BuildKit checks renderD128 first
            problem = self._stat_error(node)
            if problem is not None:
                raise InstallerError(problem)

    def _host_path(self, path: str) -> str:
        return posixpath.join(self.host_root, path.lstrip("/"))

    def _stat_error(self, path: str) -> str | None:
        """Go's ``os.Stat`` error for *path* under the host root, or ``None``."""
        from cdi.generate.rootview import resolve_in_root  # every build makes the installer

        try:
            os.stat(resolve_in_root(self.host_root, path))
        except OSError as err:
            return path_error(err, "stat", self._host_path(path))
        return None

    def run(self, progress: ProgressCallback) -> None:
        """Validate again (as BuildKit does) and write the fixed spec to :attr:`spec_path`."""
        from cdi.errors import CDIError
        from cdi.producer import write_spec
        from cdi.spec.model import ContainerEdits, Device, DeviceNode, Spec

        self.validate()
        rerooted = os.path.normpath(self.host_root) != "/"
        nodes = tuple(
            DeviceNode(path, host_path=self._host_path(path) if rerooted else "")
            for path in DEVICE_NODES
        )
        spec = Spec(
            cdi_version=SPEC_VERSION,
            kind=KIND,
            annotations=MappingProxyType({NAME_ANNOTATION: NAME}),
            devices=(Device(DEVICE_NAME, container_edits=ContainerEdits(device_nodes=nodes)),),
        )
        try:
            write_spec(spec, self.spec_dir, SPEC_FILE)
        except CDIError as err:
            raise InstallerError(str(err)) from err
