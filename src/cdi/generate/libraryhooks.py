"""The hooks that follow from the driver libraries a spec mounts (reference §2.3 items 2-4).

Shared by the nvml, management and CSV modes: the symlinks a container expects next to the
mounted libraries (``libcuda.so``, the SONAME links), the ``enable-cuda-compat`` hook, and the
``update-ldcache`` hook over the directories of the mounted libraries.

Links are ``target::link`` strings for ``create-symlinks``: the target is written as the link
should read (a bare file name, so relative to the link's directory), the link is a path in the
container.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Sequence

from cdi.elfinfo import read_soname
from cdi.generate.hooks import ENABLE_CUDA_COMPAT, UPDATE_LDCACHE, HookMaker
from cdi.globs import PatternError, match
from cdi.spec.model import Hook

#: The driver version CSV (Tegra) mode stands for: any ``libcuda.so.X.Y...``.
WILDCARD_VERSION = "*.*"


def _is_driver_library(library: str, version: str, filename: str) -> bool:
    """Whether *filename* is ``<library>.<version>``; *version* may be a glob (CSV mode)."""
    if not version:
        # Without a version nothing is a driver library (nvidia-ctk's rule as well).
        return False
    try:
        return match(f"{library}.{version}", filename)
    except PatternError:
        return False


def _fixed_links(container_dir: str, filename: str, version: str) -> list[str]:
    """The links nvidia-ctk adds for three driver libraries, whether or not the host has them:
    applications and loaders open these names, and the driver package ships the links only
    in its development packages."""
    if _is_driver_library("libcuda.so", version, filename):
        return [f"libcuda.so.1::{posixpath.join(container_dir, 'libcuda.so')}"]
    if _is_driver_library("libGLX_nvidia.so", version, filename):
        return [f"{filename}::{posixpath.join(container_dir, 'libGLX_indirect.so.0')}"]
    if _is_driver_library("libnvidia-opticalflow.so", version, filename):
        link = posixpath.join(container_dir, "libnvidia-opticalflow.so")
        return [f"libnvidia-opticalflow.so.1::{link}"]
    return []


def _dot_so_name(name: str) -> str:
    """*name* with extensions stripped from the right until it ends in ``.so`` (``""`` if it
    has no ``.so`` extension): ``libcuda.so.1`` -> ``libcuda.so``."""
    while True:
        stem, ext = posixpath.splitext(name)
        if not ext:
            return ""
        if ext == ".so":
            return name
        name = stem


def _safe_link_name(name: str) -> bool:
    """A SONAME read from a foreign file may be anything; only a plain file name may become a
    link in the container's library directory (no ``/``, no ``..``)."""
    return bool(name) and "/" not in name and name not in (".", "..") and "\0" not in name


def _soname_links(
    host_path: str,
    container_dir: str,
    filename: str,
    soname: Callable[[str], str | None],
    is_symlink: Callable[[str], bool],
) -> list[str]:
    """Links the host has beside a versioned library, recreated in the container: the SONAME
    link (``libfoo.so.1 -> libfoo.so.1.2.3``) and the ``.so`` link (``libfoo.so ->
    libfoo.so.1``), each only when it exists as a symlink on the host."""
    if not match("lib?*.so.*", filename):
        return []
    name = soname(host_path)
    if name is None or not _safe_link_name(name):
        return []
    host_dir = posixpath.dirname(host_path)
    links: list[str] = []
    if name != filename and is_symlink(posixpath.join(host_dir, name)):
        links.append(f"{filename}::{posixpath.join(container_dir, name)}")
    dot_so = _dot_so_name(name)
    if dot_so and dot_so != name and is_symlink(posixpath.join(host_dir, dot_so)):
        links.append(f"{name}::{posixpath.join(container_dir, dot_so)}")
    return links


def driver_library_links(
    libraries: Sequence[tuple[str, str]],
    version: str,
    *,
    soname: Callable[[str], str | None] = read_soname,
    is_symlink: Callable[[str], bool] = os.path.islink,
) -> list[str]:
    """The ``target::link`` pairs for mounted driver libraries given as ``(host path,
    container path)``, de-duplicated in discovery order.

    *version* is the driver version (``999.88.77``), or :data:`WILDCARD_VERSION` in CSV mode;
    empty means no fixed links. *soname* reads a host file's ``DT_SONAME`` and *is_symlink*
    tells whether a host path is a symlink (tests replace both). Host paths are expected to be
    resolved inside their root already (the locators do that), so checking a name beside one
    stays inside the root.
    """
    seen_paths: set[str] = set()
    links: dict[str, None] = {}
    for host_path, container_path in libraries:
        if container_path in seen_paths:
            continue
        seen_paths.add(container_path)
        container_dir, filename = posixpath.split(container_path)
        # The SONAME links first: nvidia-ctk's own test expects libcuda.so.<V>::…/libcuda.so.1
        # before libcuda.so.1::…/libcuda.so, which is also the fixed libcuda link.
        found = _soname_links(host_path, container_dir, filename, soname, is_symlink)
        found += _fixed_links(container_dir, filename, version)
        for link in found:
            links.setdefault(link, None)
    return list(links)


def is_library_name(path: str) -> bool:
    """Whether the base name of *path* names a shared library for the linker cache:
    ``lib`` and at least one character, then ``.so`` with nothing after it or only
    ``.<anything>`` after its last occurrence (``libcuda.so``, ``libcuda.so.1.1``; not
    ``lib.so``, ``libfoo.sox`` or ``libfoo.a``)."""
    base = posixpath.basename(path)
    if not match("lib?*.so*", base):
        return False
    last = base.split(".so")[-1]
    return last == "" or last.startswith(".")


def ldcache_folders(container_paths: Sequence[str]) -> list[str]:
    """The unique parent directories, in order, of the paths that name libraries."""
    folders: dict[str, None] = {}
    for path in container_paths:
        if is_library_name(path):
            folders.setdefault(posixpath.dirname(path), None)
    return list(folders)


def update_ldcache_hook(
    hooks: HookMaker, folders: Sequence[str], ldconfig_path: str = ""
) -> Hook | None:
    """``update-ldcache [--ldconfig-path P] --folder F1 --folder F2 ...``; ``None`` when there
    are no folders (nothing to add to the container's cache) or the hook is turned off."""
    if not folders:
        return None
    args: list[str] = []
    if ldconfig_path:
        args += ["--ldconfig-path", ldconfig_path]
    for folder in dict.fromkeys(folders):
        args += ["--folder", folder]
    return hooks.make(UPDATE_LDCACHE, *args)


def cuda_compat_hook(
    hooks: HookMaker,
    *,
    driver_version: str = "",
    cuda_version: str = "",
    compat_root: str = "",
) -> Hook | None:
    """``enable-cuda-compat`` with ``--host-driver-version=V`` (left out when V is empty or a
    glob, as in CSV mode), ``--host-cuda-version=M.m`` and ``--cuda-compat-container-root=R``
    when given. The hook runs even without arguments; it then only compares library notes."""
    args: list[str] = []
    if driver_version and "*" not in driver_version:
        args.append(f"--host-driver-version={driver_version}")
    if cuda_version:
        args.append(f"--host-cuda-version={cuda_version}")
    if compat_root:
        args.append(f"--cuda-compat-container-root={compat_root}")
    return hooks.make(ENABLE_CUDA_COMPAT, *args)
