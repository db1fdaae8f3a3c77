"""Content digests of trees: the inputs of a COPY from a context, a directory used as a base.

A digest covers, for every entry below the start (links not followed, in byte order of their
paths): its relative path, type, permission bits, owner (when asked: a COPY from a context
gives every file to root anyway), size and content (regular files), target (links), device
number (device nodes), extended attributes, and which earlier entry a hard link shares its
inode with. Modification times are left out, as BuildKit leaves them out: touching a file
without changing it does not miss the cache.
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

_CHUNK = 1 << 20


def tree_digest(
    host: Path,
    relative: str,
    *,
    exclude: Callable[[str, bool], bool] | None = None,
    owners: bool = True,
) -> str:
    """The digest of the tree at *host*, whose path relative to its source root is
    *relative* (what *exclude* is asked about; ``""`` for the root itself)."""
    import hashlib  # OpenSSL's SHA-256: many times the built-in one's speed on file data

    hasher = hashlib.sha256()
    links: dict[tuple[int, int], str] = {}
    pending = [(str(host), relative)]
    while pending:
        path, rel = pending.pop()
        info = os.lstat(path)
        _entry(hasher, path, rel, info, owners, links)
        if stat.S_ISDIR(info.st_mode):
            children = []
            for name in sorted(os.listdir(path), reverse=True):
                child = os.path.join(path, name)
                child_rel = f"{rel}/{name}" if rel else name
                if exclude is not None and exclude(
                    child_rel, stat.S_ISDIR(os.lstat(child).st_mode)
                ):
                    continue
                children.append((child, child_rel))
            pending.extend(children)
    return str(hasher.hexdigest())


def _entry(  # noqa: PLR0917 -- one call site, the walk's state
    hasher: Any,
    path: str,
    rel: str,
    info: os.stat_result,
    owners: bool,
    links: dict[tuple[int, int], str],
) -> None:
    mode = info.st_mode
    owner = f"{info.st_uid}:{info.st_gid}" if owners else ""
    head = f"{rel}\0{stat.S_IFMT(mode):o}\0{stat.S_IMODE(mode):o}\0{owner}\0"
    inode = (info.st_dev, info.st_ino)
    if not stat.S_ISDIR(mode) and info.st_nlink > 1:
        first = links.setdefault(inode, rel)
        if first != rel:
            hasher.update(f"{head}link\0{first}\n".encode("utf-8", "surrogateescape"))
            return
    hasher.update(head.encode("utf-8", "surrogateescape"))
    if stat.S_ISREG(mode):
        hasher.update(f"{info.st_size}\0".encode())
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            while chunk := os.read(fd, _CHUNK):
                hasher.update(chunk)
        finally:
            os.close(fd)
    elif stat.S_ISLNK(mode):
        hasher.update(os.fsencode(os.readlink(path)))
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        hasher.update(f"{os.major(info.st_rdev)},{os.minor(info.st_rdev)}".encode())
    hasher.update(b"\0")
    for name in _xattr_names(path):
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
        hasher.update(name.encode("utf-8", "surrogateescape") + b"=" + value + b"\0")
    hasher.update(b"\n")


def _xattr_names(path: str) -> list[str]:
    try:
        return sorted(os.listxattr(path, follow_symlinks=False))
    except OSError:
        return []
