"""Finding files in a root: libraries, executables, device nodes, configuration files.

A root is a host directory standing for ``/`` (a driver container's ``/run/nvidia/driver``, a
fake tree in a test, or ``/`` itself). Roots are foreign trees, so they are read the way a
``chroot`` would see them: an absolute link target is taken relative to the root and ``..``
stops at the root. Nothing outside the root is ever looked at.

Locators return *host* paths (the root prefix included), in discovery order, each once, and
an empty list when nothing is found. Within one directory, matches come in byte order, as Go's
``filepath.Glob`` returns them. A path is returned as the search path and pattern spell it
(``{root}/lib64/libfoo.so`` even where ``lib64`` is a link), except where the host's kernel
would resolve that spelling outside the root (an absolute link under a root other than ``/``,
or a ``..`` above it): then the path resolved inside the root is returned instead, so that a
bind mount of it takes the file that was found.

A locator caches what it read (directory listings, links, the ``ld.so.cache``) for its
lifetime, in the :class:`~cdi.generate.rootview.RootView` of its root; make a new one to see
later changes (outside :func:`~cdi.generate.rootview.shared_views`, each locator has a view of
its own).
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from cdi.generate.ldcache import LdcacheLocator
from cdi.generate.rootview import (
    MAX_LINKS,
    RootView,
    container_path,
    host_path,
    normalize_root,
    resolve_in_root,
    shared_views,
    symlink_chain,
    view_of,
)
from cdi.globs import PatternError

# The root helpers are part of this module's interface: locators and their users share them.
__all__ = [
    "EXECUTABLE_SEARCH_PATHS",
    "LIBRARY_SEARCH_PATHS",
    "MAX_LINKS",
    "FileLocator",
    "Filter",
    "FirstNonEmpty",
    "Locator",
    "RootView",
    "char_device_locator",
    "container_path",
    "executable_locator",
    "host_path",
    "is_char_device",
    "is_directory",
    "is_executable_file",
    "is_file_or_socket",
    "is_not_directory",
    "is_regular_file",
    "library_locator",
    "normalize_root",
    "resolve_in_root",
    "shared_views",
    "symlink_chain",
    "view_of",
]

logger = logging.getLogger(__name__)

#: Where the driver's libraries live when no search path is given, in nvidia-ctk's order.
LIBRARY_SEARCH_PATHS = (
    "/",
    "/usr/lib64",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu/nvidia/current",
    "/usr/lib/aarch64-linux-gnu/nvidia/current",
    "/lib64",
    "/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/lib/x86_64-linux-gnu/nvidia/current",
    "/lib/aarch64-linux-gnu/nvidia/current",
)
#: Searched for executables after the directories of ``$PATH``.
EXECUTABLE_SEARCH_PATHS = (
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
)

Filter = Callable[[os.stat_result], bool]


def is_regular_file(info: os.stat_result) -> bool:
    return stat.S_ISREG(info.st_mode)


def is_directory(info: os.stat_result) -> bool:
    return stat.S_ISDIR(info.st_mode)


def is_executable_file(info: os.stat_result) -> bool:
    """A regular file with any execute bit."""
    return stat.S_ISREG(info.st_mode) and bool(info.st_mode & 0o111)


def is_char_device(info: os.stat_result) -> bool:
    return stat.S_ISCHR(info.st_mode)


def is_file_or_socket(info: os.stat_result) -> bool:
    """A regular file or a unix socket (the daemons' IPC endpoints)."""
    return stat.S_ISREG(info.st_mode) or stat.S_ISSOCK(info.st_mode)


def is_not_directory(info: os.stat_result) -> bool:
    """Anything but a directory: nvidia-ctk's default filter."""
    return not stat.S_ISDIR(info.st_mode)


class Locator(Protocol):
    def locate(self, pattern: str) -> list[str]: ...


class FileLocator:
    """Files matching a pattern under each of *search_paths* of *root*, in that order.

    *accept* judges the file after its links are followed (inside the root); *count* > 0
    stops after that many; *resolve_symlinks* returns each file's final target instead.
    """

    def __init__(
        self,
        root: str,
        search_paths: Sequence[str] = ("/",),
        *,
        accept: Filter = is_regular_file,
        count: int = 0,
        resolve_symlinks: bool = False,
        view: RootView | None = None,
    ) -> None:
        self.view = view if view is not None else view_of(root)
        self.search_paths = tuple(search_paths)
        self.accept = accept
        self.count = count
        self.resolve_symlinks = resolve_symlinks

    def locate(self, pattern: str) -> list[str]:
        view = self.view
        found: dict[str, None] = {}
        for search_path in self.search_paths:
            try:
                hits = view.glob(f"{search_path}/{pattern}")
            except PatternError as error:
                logger.warning("cannot search for %s: %s", pattern, error)
                return []
            for spelt, real, diverted in hits:
                try:
                    target, last_diverted = view.resolve(real)
                except OSError as error:
                    logger.debug("skipping %s: %s", view.host(spelt), error)
                    continue
                info = view.lstat(target)
                if info is None or not self.accept(info):
                    continue
                if self.resolve_symlinks or last_diverted:
                    result = target
                else:
                    result = real if diverted else spelt
                found.setdefault(view.host(result))
                if 0 < self.count <= len(found):
                    return list(found)
        return list(found)


class FirstNonEmpty:
    """The results of the first locator that finds anything."""

    def __init__(self, locators: Iterable[Locator]) -> None:
        self.locators = tuple(locators)

    def locate(self, pattern: str) -> list[str]:
        for locator in self.locators:
            found = locator.locate(pattern)
            if found:
                return found
        return []


def library_locator(root: str, search_paths: Sequence[str] = ()) -> Locator:
    """nvidia-ctk's library lookup: the given search paths (host paths), or else the fixed
    driver directories of *root* and then *root*'s ``ld.so.cache``; final targets."""
    if search_paths:
        return FileLocator("/", search_paths, resolve_symlinks=True)
    view = view_of(root)
    return FirstNonEmpty(
        (
            FileLocator(root, LIBRARY_SEARCH_PATHS, resolve_symlinks=True, view=view),
            LdcacheLocator(root, view=view),
        )
    )


def executable_locator(root: str, path_env: str | None = None) -> Locator:
    """The first executable of a name in ``$PATH`` (*path_env*) and the standard directories,
    all under *root*. nvidia-ctk also searches the host's own directories when the root is
    not ``/``; we do not read outside the root."""
    if path_env is None:
        path_env = os.environ.get("PATH", "")
    directories = [d for d in path_env.split(os.pathsep) if d] + list(EXECUTABLE_SEARCH_PATHS)
    return FileLocator(root, tuple(dict.fromkeys(directories)), accept=is_executable_file, count=1)


def char_device_locator(dev_root: str) -> Locator:
    """Character devices matching a pattern such as ``/dev/nvidia*`` under *dev_root*; a link
    to a character device inside the root counts (as ``stat`` sees it), and is returned by
    its own name."""
    return FileLocator(dev_root, ("/",), accept=is_char_device)
