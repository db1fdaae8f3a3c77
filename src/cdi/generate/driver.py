"""The files of an NVIDIA driver a container needs: libraries, binaries, daemon sockets and
GPU firmware, as nvidia-ctk's driver discoverer finds them (reference §1.4 and §1.5).

Every path is searched under the driver root; mounts keep the path below the root as their
container path, so a driver installed in ``/run/nvidia/driver`` appears at the standard
places inside the container.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from cdi.generate import libraryhooks, locate
from cdi.generate.edits import READ_ONLY_BIND, SOCKET_BIND, mount
from cdi.generate.hooks import HookMaker
from cdi.generate.options import DISABLE_IPC_DISCOVERER, ENABLE_EXPLICIT_DRIVER_LIBRARIES, Options
from cdi.generate.rootview import open_in_root
from cdi.generate.version import DriverLibraries
from cdi.spec.model import ContainerEdits, Hook, Mount

#: Tools of the driver mounted into every container (``nv-fabricmanager`` is not: only its
#: socket is).
BINARIES = (
    "nvidia-smi",
    "nvidia-debugdump",
    "nvidia-persistenced",
    "nvidia-cuda-mps-control",
    "nvidia-cuda-mps-server",
    "nvidia-imex",
    "nvidia-imex-ctl",
)

#: Unversioned libraries mounted only with ``enable-explicit-driver-libraries``.
EXPLICIT_LIBRARIES = (
    "libEGL.so",
    "libGL.so",
    "libGLESv1_CM.so",
    "libGLESv2.so",
    "libGLX.so",
    "libGLdispatch.so",
    "libOpenCL.so",
    "libOpenGL.so",
    "libnvidia-api.so",
    "libnvidia-egl-xcb.so",
    "libnvidia-egl-xlib.so",
)

_IPC_SOCKETS = ("/nvidia-persistenced/socket", "/nvidia-fabricmanager/socket")


@dataclass(frozen=True)
class DriverFiles:
    """What the driver discoverer found, before hooks: mounts of libraries (which feed the
    library hooks) and of everything else."""

    libraries: tuple[Mount, ...]
    others: tuple[Mount, ...]


def _mounts(
    root: str, host_paths: Iterable[str], options: tuple[str, ...] = READ_ONLY_BIND
) -> list[Mount]:
    return [mount(path, locate.container_path(root, path), options) for path in host_paths]


def driver_library_paths(
    driver: DriverLibraries, options: Options, libraries: locate.Locator
) -> list[str]:
    """Host paths of the driver's own libraries: every ``*.so.<version>`` in its library
    directories and their ``vdpau/``, the legacy NVVM, and (on request) the explicit list."""
    relative = [
        d for directory in driver.container_directories() for d in (directory, f"{directory}/vdpau")
    ]
    in_directories = locate.FileLocator(driver.root, relative, resolve_symlinks=True)
    found = in_directories.locate(f"*.so.{driver.version}")
    found += in_directories.locate("libnvidia-nvvm70.so.*")
    if options.has(ENABLE_EXPLICIT_DRIVER_LIBRARIES):
        for name in EXPLICIT_LIBRARIES:
            found += libraries.locate(name)
    return list(dict.fromkeys(found))


def binary_paths(root: str) -> list[str]:
    finder = locate.executable_locator(root)
    return [hit for name in BINARIES for hit in finder.locate(name)]


def ipc_paths(root: str) -> list[str]:
    """The persistenced and fabricmanager sockets (under ``/run``, else ``/var/run``), and the
    MPS pipe directory's path as nvidia-ctk matches it (only when it is not a directory)."""
    first = locate.is_not_directory
    sockets = locate.FileLocator(root, ("/run", "/var/run"), accept=first, count=1)
    found = [hit for name in _IPC_SOCKETS for hit in sockets.locate(name.lstrip("/"))]
    found += locate.FileLocator(root, ("/tmp",), accept=first, count=1).locate("nvidia-mps")
    return found


def firmware_search_dirs(options: Options) -> list[str]:
    """Where the kernel looks for firmware: a custom path set on the ``firmware_class`` module
    (read from the sysfs root), then the standard directories for this kernel release."""
    release = options.kernel_release or os.uname().release
    dirs: list[str] = []
    custom = _read_small(options.sysfs_root, "/module/firmware_class/parameters/path")
    if custom:
        dirs.append(custom)
    dirs += [
        f"/lib/firmware/updates/{release}",
        "/lib/firmware/updates",
        f"/lib/firmware/{release}",
        "/lib/firmware",
    ]
    return dirs


def firmware_paths(root: str, version: str, options: Options) -> list[str]:
    finder = locate.FileLocator(root, firmware_search_dirs(options))
    return finder.locate(f"nvidia/{version}/gsp*.bin")


def _read_small(root: str, path: str) -> str:
    try:
        with open_in_root(root, path) as handle:
            return handle.read(4096).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def discover_driver_files(
    driver: DriverLibraries, options: Options, libraries: locate.Locator
) -> DriverFiles:
    """Libraries, then IPC sockets, firmware and binaries."""
    root = driver.root
    library_mounts = _mounts(root, driver_library_paths(driver, options, libraries))
    others: list[Mount] = []
    if not options.has(DISABLE_IPC_DISCOVERER):
        others += _mounts(root, ipc_paths(root), SOCKET_BIND)
    others += _mounts(root, firmware_paths(root, driver.version, options))
    others += _mounts(root, binary_paths(root))
    return DriverFiles(tuple(library_mounts), tuple(others))


def library_hooks(
    driver: DriverLibraries, files: DriverFiles, options: Options, hooks: HookMaker
) -> list[Hook | None]:
    """The driver's hooks in nvidia-ctk's order: library symlinks, CUDA forward
    compatibility, then the container's linker cache."""
    pairs = [(m.host_path, m.container_path) for m in files.libraries]
    return [
        hooks.create_symlinks(libraryhooks.driver_library_links(pairs, driver.version)),
        libraryhooks.cuda_compat_hook(hooks, driver_version=driver.version),
        libraryhooks.update_ldcache_hook(
            hooks,
            libraryhooks.ldcache_folders([m.container_path for m in files.libraries]),
            options.ldconfig_path,
        ),
    ]


def driver_environment(driver: DriverLibraries) -> tuple[str, ...]:
    """``NVIDIA_CTK_LIBCUDA_DIR``: where the hooks find the driver's libraries."""
    return (f"NVIDIA_CTK_LIBCUDA_DIR={':'.join(driver.container_directories())}",)


def driver_edits(
    driver: DriverLibraries,
    options: Options,
    libraries: locate.Locator,
    hooks: HookMaker,
) -> ContainerEdits:
    """The driver discoverer's edits: env, mounts and the library hooks."""
    files = discover_driver_files(driver, options, libraries)
    library = library_hooks(driver, files, options, hooks)
    return ContainerEdits(
        env=driver_environment(driver),
        hooks=tuple(hook for hook in library if hook is not None),
        mounts=(*files.libraries, *files.others),
    )
