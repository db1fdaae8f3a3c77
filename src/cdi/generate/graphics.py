"""What graphics (EGL, Vulkan, GBM, X11) needs beyond the compute driver: extra libraries,
Xorg modules, ``nvidia-xconfig`` and the vendor configuration files (reference §1.4 items 4 and 5,
§1.5, §2.3 item 1).

Configuration files are searched in the root's ``/etc`` and XDG data directories (or only in
``--config-search-path``) and mounted at the standard path applications look at.
"""

from __future__ import annotations

import os
import platform
import posixpath
from collections.abc import Sequence

from cdi.generate import locate
from cdi.generate.edits import mount
from cdi.generate.hooks import HookMaker
from cdi.generate.options import Options
from cdi.generate.version import DriverLibraries
from cdi.spec.model import ContainerEdits, Mount

_GRAPHICS_LIBRARIES = (
    "libnvidia-egl-gbm.so.*.*",
    "libnvidia-egl-wayland.so.*.*",
    "libnvidia-egl-wayland2.so.*.*",
    "libnvidia-egl-xcb.so.*.*",
    "libnvidia-egl-xlib.so.*.*",
)

#: Config files mounted under ``/usr/share``.
_SHARE_CONFIGS = (
    "glvnd/egl_vendor.d/10_nvidia.json",
    "egl/egl_external_platform.d/15_nvidia_gbm.json",
    "egl/egl_external_platform.d/10_nvidia_wayland.json",
    "egl/egl_external_platform.d/09_nvidia_wayland2.json",
    "egl/egl_external_platform.d/20_nvidia_xcb.json",
    "egl/egl_external_platform.d/20_nvidia_xlib.json",
    "nvidia/nvoptix.bin",
    "X11/xorg.conf.d/10-nvidia.conf",
    "X11/xorg.conf.d/nvidia-drm-outputclass.conf",
)
#: Config files mounted under ``/etc``.
_ETC_CONFIGS = ("OpenCL/vendors/nvidia.icd",)
#: Vulkan files mounted under ``/etc``; also searched right under the root (GKE layouts).
_VULKAN_CONFIGS = (
    "vulkan/icd.d/nvidia_icd.json",
    "vulkan/icd.d/nvidia_layers.json",
    "vulkan/implicit_layer.d/nvidia_layers.json",
)
_ARCH_ICD = {
    "amd64": "vulkan/icd.d/nvidia_icd.x86_64.json",
    "arm64": "vulkan/icd.d/nvidia_icd.aarch64.json",
}
_MACHINES = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64", "amd64": "amd64"}


def _architecture(options: Options) -> str:
    return options.architecture or _MACHINES.get(platform.machine(), platform.machine())


def config_search_dirs(options: Options) -> list[str]:
    """``/etc`` then the XDG data directories, inside the root (paths below it)."""
    if options.config_search_paths:
        return list(options.config_search_paths)
    xdg = os.environ.get("XDG_DATA_DIRS", "") or "/usr/local/share:/usr/share"
    return ["/etc", *[d for d in xdg.split(":") if d]]


def _config_mounts(options: Options) -> list[Mount]:
    root = "/" if options.config_search_paths else options.driver_root
    search = config_search_dirs(options)
    finder = locate.FileLocator(root, search, count=1)
    wanted = [(name, "/usr/share") for name in _SHARE_CONFIGS]
    wanted += [(name, "/etc") for name in _ETC_CONFIGS]
    vulkan = [
        *_VULKAN_CONFIGS,
        *([_ARCH_ICD[a]] if (a := _architecture(options)) in _ARCH_ICD else []),
    ]
    found: list[Mount] = []
    for name, target in wanted:
        found += [mount(hit, posixpath.join(target, name)) for hit in finder.locate(name)]
    rooted = locate.FileLocator(root, [*search, "/"], count=1)
    for name in vulkan:
        found += [mount(hit, posixpath.join("/etc", name)) for hit in rooted.locate(name)]
    return found


def _xorg_search_dirs(driver: DriverLibraries) -> list[str]:
    module_dirs = [
        f"modules{updates}/{kind}"
        for updates in ("", "/updates")
        for kind in ("drivers", "extensions")
    ]
    dirs: list[str] = []
    for libdir in driver.container_directories():
        dirs.append(f"{libdir}/nvidia/xorg")
        dirs += [f"{libdir}/xorg/{m}" for m in module_dirs]
    for base in ("/usr/lib/xorg", "/usr/lib64/xorg", "/usr/X11R6/lib", "/usr/X11R6/lib64"):
        dirs += [f"{base}/{m}" for m in module_dirs]
    return dirs


def graphics_edits(
    driver: DriverLibraries, options: Options, libraries: locate.Locator, hooks: HookMaker
) -> ContainerEdits:
    """Mounts of the graphics libraries, Xorg modules, ``nvidia-xconfig`` and configs, and the
    ``create-symlinks`` hook for the links the loaders expect."""
    root, version = driver.root, driver.version
    library_paths = [hit for pattern in _GRAPHICS_LIBRARIES for hit in libraries.locate(pattern)]
    allocator = libraries.locate(f"libnvidia-allocator.so.{version}")
    producer = libraries.locate(f"libnvidia-vulkan-producer.so.{version}")
    xorg = locate.FileLocator(root, _xorg_search_dirs(driver), count=1)
    modules = [*xorg.locate("nvidia_drv.so"), *xorg.locate(f"libglxserver_nvidia.so.{version}")]
    xconfig = locate.executable_locator(root).locate("nvidia-xconfig")

    links: list[str] = []
    for hit in allocator[:1]:
        directory = posixpath.dirname(locate.container_path(root, hit))
        links.append(f"../libnvidia-allocator.so.1::{directory}/gbm/nvidia-drm_gbm.so")
    links += _unversioned_links(root, [*producer, *modules], version)

    # The allocator is only the target of the GBM link; the driver libraries mount it.
    mounts = [
        mount(path, locate.container_path(root, path))
        for path in [*library_paths, *producer, *modules, *xconfig]
    ]
    mounts += _config_mounts(options)
    hook = hooks.create_symlinks(links)
    return ContainerEdits(hooks=(hook,) if hook else (), mounts=tuple(dict.fromkeys(mounts)))


def _unversioned_links(root: str, paths: Sequence[str], version: str) -> list[str]:
    """``lib.so.<version>::<dir>/lib.so`` for the versioned files among *paths*."""
    suffix = f".so.{version}"
    links = []
    for path in paths:
        name = posixpath.basename(path)
        if name.endswith(suffix):
            directory = posixpath.dirname(locate.container_path(root, path))
            links.append(f"{name}::{directory}/{name[: -len(suffix)]}.so")
    return links
