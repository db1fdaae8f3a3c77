"""Which files of a spec directory are spec files, and the identity a scan keys them by.

The reference's rules: ``*.json`` and ``*.yaml`` only, no subdirectories, name order. Shared
by the scanner and by :mod:`cdi.registry.quick`, which must see exactly the same files.
"""

from __future__ import annotations

import os

__all__ = ["SPEC_SUFFIXES", "FileKey", "file_key", "spec_names"]

SPEC_SUFFIXES = (".json", ".yaml")

#: A file's identity as scans and the index record it: inode, device, size, mtime, ctime.
FileKey = tuple[int, int, int, int, int]


def spec_names(fd: int, links: set[str] | None = None) -> list[str]:
    """The spec file names in the open directory *fd*, in name order (no subdirectories);
    the names that are symlinks are added to *links*, if given (the listing knows them)."""
    with os.scandir(fd) as listing:
        if links is None:
            names = [
                entry.name
                for entry in listing
                if entry.name.endswith(SPEC_SUFFIXES) and not entry.is_dir(follow_symlinks=False)
            ]
        else:
            names = []
            for entry in listing:
                if entry.name.endswith(SPEC_SUFFIXES) and not entry.is_dir(follow_symlinks=False):
                    names.append(entry.name)
                    if entry.is_symlink():
                        links.add(entry.name)
    names.sort()
    return names


def file_key(info: os.stat_result) -> FileKey:
    """What tells one state of a file from another: inode, device, size, mtime, ctime."""
    return (info.st_ino, info.st_dev, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
