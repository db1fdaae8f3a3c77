"""``enable-cuda-compat``: let the container's CUDA forward-compatibility libraries win.

A CUDA image may ship ``libcuda.so.<version>`` of a newer driver branch in
``/usr/local/cuda/compat`` (``--cuda-compat-container-root``). When that library is newer than
the host's driver and supports it, the hook writes ``/etc/ld.so.conf.d/00-compat-<random>.conf``
listing the directory, so that the ``update-ldcache`` hook that follows in the spec puts it
first in the container's ``ld.so.cache``.

Whether to use it is decided as ``nvidia-cdi-hook`` does. The library may carry an ELF note
(section ``.note.cuda.fwd_compatibility``, name ``NVIDIA Corporation``) whose descriptor is a
JSON object: ``{"format": 1, "CUDA version": "12.9", "driver": [535, 550, 570, 575], ...}``
(keys matched without regard to case). With the note: when the host driver version is known,
use the library iff the host driver's major is in ``driver`` and the library's version (from
its file name) is greater than the host's; otherwise, with a host CUDA version, iff the note's
CUDA version is greater. Without the note (or with a note that is not a JSON object: an
unreadable note says nothing, so the older file-name rule applies): never when a host CUDA
version was given, else iff the host driver's major is below the library's major.

The directory and the library are looked up inside the container root only, through
:class:`~cdi.hooks.rootfs.ContainerRoot`; the library is opened relative to the directory's
descriptor without following a link, and read only if it is a regular file.
"""

from __future__ import annotations

import fnmatch
import json
import os
import posixpath
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cdi.elfinfo import read_note_from
from cdi.hooks.errors import HookError

if TYPE_CHECKING:
    from cdi.hooks.rootfs import ContainerRoot

FLAGS = {
    "host-driver-version": "string",
    "host-cuda-version": "string",
    "cuda-compat-container-root": "string",
}

DEFAULT_COMPAT_ROOT = "/usr/local/cuda/compat"
LIBRARY_PATTERN = "libcuda.so.*.*"
NOTE_SECTION = ".note.cuda.fwd_compatibility"
NOTE_NAME = "NVIDIA Corporation"
CONF_DIR = "/etc/ld.so.conf.d"


class CudaCompatError(HookError):
    """A flag of ``enable-cuda-compat`` is not usable."""


@dataclass(frozen=True)
class CompatNote:
    """What the forward-compatibility note says (``None``: the key is absent or unusable)."""

    cuda_version: tuple[int, ...] | None
    drivers: frozenset[int]


def run(root: ContainerRoot, options: dict[str, Any]) -> None:
    host_driver = _version_flag(options, "host-driver-version")
    host_cuda = _version_flag(options, "host-cuda-version")
    if host_driver is None and host_cuda is None:
        return
    compat_dir = in_root_path(_last(options, "cuda-compat-container-root") or DEFAULT_COMPAT_ROOT)
    found = _compat_library(root, compat_dir)
    if found is None:
        return
    name, note = found
    if not should_use(name, note, host_driver=host_driver, host_cuda=host_cuda):
        return
    conf = f"{CONF_DIR}/00-compat-{os.urandom(8).hex()}.conf"
    root.write_file(conf, f"{compat_dir}\n".encode(), 0o644, parent_mode=0o755, exclusive=True)


def should_use(
    library: str,
    note: CompatNote | None,
    *,
    host_driver: tuple[int, ...] | None,
    host_cuda: tuple[int, ...] | None,
) -> bool:
    """Whether the compat *library* (its file name) is to be used, by the rules above."""
    compat = parse_version(library[len("libcuda.so.") :])
    if note is not None:
        if host_driver is not None and compat is not None:
            return host_driver[0] in note.drivers and compat > host_driver
        if host_cuda is not None:
            return note.cuda_version is not None and note.cuda_version > host_cuda
        return False
    if host_cuda is not None or host_driver is None or compat is None:
        return False
    return host_driver[0] < compat[0]


def parse_note(desc: bytes | None) -> CompatNote | None:
    """The note's descriptor as a :class:`CompatNote`; ``None`` when absent or not a JSON
    object (treated as no note)."""
    if desc is None:
        return None
    try:
        data = json.loads(desc.rstrip(b"\0").decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    fields = {str(key).lower(): value for key, value in data.items()}
    cuda = fields.get("cuda version")
    drivers = fields.get("driver")
    majors: set[int] = set()
    if isinstance(drivers, list):
        for item in drivers:
            if isinstance(item, int) and not isinstance(item, bool):
                majors.add(item)
            elif isinstance(item, str) and item.isdigit():
                majors.add(int(item))
    return CompatNote(
        cuda_version=parse_version(cuda) if isinstance(cuda, str) else None,
        drivers=frozenset(majors),
    )


def parse_version(text: str) -> tuple[int, ...] | None:
    """``"575.57.08"`` -> ``(575, 57, 8)``; ``None`` unless dot-separated decimal numbers."""
    parts = text.split(".")
    if not all(part.isascii() and part.isdigit() for part in parts):
        return None
    return tuple(int(part) for part in parts)


def in_root_path(path: str) -> str:
    """*path* as an absolute, normalised path of the container; ``..`` stops at the root."""
    if "\0" in path or "\n" in path:
        raise CudaCompatError(f"invalid path {path!r}")
    return posixpath.normpath("/" + path.lstrip("/"))


def _compat_library(root: ContainerRoot, compat_dir: str) -> tuple[str, CompatNote | None] | None:
    """The one regular ``libcuda.so.*.*`` file of *compat_dir* and its note; ``None`` when
    the directory is missing or holds no or several such files (nothing to decide on)."""
    try:
        dir_fd = root.resolve(compat_dir)
    except (HookError, OSError):
        return None
    try:
        if not stat.S_ISDIR(os.fstat(dir_fd).st_mode):
            return None
        # getdents needs a readable descriptor; the O_PATH one only anchors lookups.
        listing_fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            names = sorted(os.listdir(listing_fd))
        finally:
            os.close(listing_fd)
        regular = [
            name
            for name in names
            if fnmatch.fnmatchcase(name, LIBRARY_PATTERN) and _is_regular(dir_fd, name)
        ]
        if len(regular) != 1:
            return None
        return regular[0], _read_compat_note(dir_fd, regular[0])
    except OSError:
        return None
    finally:
        os.close(dir_fd)


def _is_regular(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _read_compat_note(dir_fd: int, name: str) -> CompatNote | None:
    # O_NOFOLLOW and O_NONBLOCK: a file swapped for a link or a FIFO since the listing is
    # neither followed nor waited on; read_note_from checks that it is a regular file.
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        return parse_note(read_note_from(fd, NOTE_SECTION, NOTE_NAME))
    finally:
        os.close(fd)


def _last(options: dict[str, Any], name: str) -> str | None:
    values = options.get(name)
    return values[-1] if isinstance(values, list) and values else None


def _version_flag(options: dict[str, Any], name: str) -> tuple[int, ...] | None:
    text = _last(options, name)
    if text is None or text == "":
        return None
    version = parse_version(text)
    if version is None:
        raise CudaCompatError(f"--{name}: {text!r} is not a version (such as 575.57.08)")
    return version
