"""Unpacking image layers (tar archives, possibly compressed) onto a root filesystem.

Layers are applied in order with the OCI whiteout rules (``.wh.NAME`` deletes ``NAME`` from
lower layers, ``.wh..wh..opq`` empties a directory of what lower layers put there). Every
entry is placed with :class:`cdi.build.fs.Root`, so names with ``..`` and symbolic links
planted by an earlier entry cannot lead a write outside the root; hard links must point at
an entry inside the root too.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import posixpath
import shutil
import stat
import tarfile
from typing import IO, Any

from cdi.build.errors import SourceError
from cdi.build.fs import Root

logger = logging.getLogger(__name__)

_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _clean(name: str) -> str:
    return posixpath.normpath("/" + name).lstrip("/") or "."


def _remove_any(path: str | os.PathLike[str]) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _apply_metadata(member: tarfile.TarInfo, target: str) -> None:
    os.lchown(target, member.uid, member.gid)
    if not member.issym():
        # After chown, which clears set-id bits.
        os.chmod(target, stat.S_IMODE(member.mode))
    for key, value in (member.pax_headers or {}).items():
        if key.startswith("SCHILY.xattr."):
            try:
                os.setxattr(
                    target,
                    key[len("SCHILY.xattr.") :],
                    value.encode("utf-8", "surrogateescape"),
                    follow_symlinks=False,
                )
            except OSError as exc:
                logger.debug("cannot set xattr %s on %s: %s", key, target, exc)
    if not member.isdir():
        os.utime(target, (member.mtime, member.mtime), follow_symlinks=False)


class _Peekable(io.RawIOBase):
    """A reader whose first bytes can be looked at before the tar reader starts."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self.raw = raw
        self.head = b""

    def readable(self) -> bool:
        return True

    def peek(self, size: int) -> bytes:
        while len(self.head) < size:
            chunk = self.raw.read(size - len(self.head))
            if not chunk:
                break
            self.head += chunk
        return self.head

    def readinto(self, buffer: Any) -> int:
        if self.head:
            count = min(len(buffer), len(self.head))
            buffer[:count] = self.head[:count]
            self.head = self.head[count:]
            return count
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _open_layer(stream: IO[bytes]) -> tarfile.TarFile:
    buffered = stream if isinstance(stream, io.BufferedReader) else _Peekable(stream)
    if buffered.peek(4)[:4] == _ZSTD_MAGIC:
        raise SourceError("zstd-compressed layers are not supported")
    try:
        return tarfile.open(fileobj=buffered, mode="r|*")
    except tarfile.TarError as exc:
        raise SourceError(f"cannot read layer: {exc}") from exc


def apply_layer(stream: IO[bytes], root: Root, *, whiteouts: bool = True) -> None:
    """Unpack one layer (tar, tar+gzip/bzip2/xz) from *stream* onto *root*.

    Without *whiteouts* (an ``ADD`` of a local archive), ``.wh.`` entries are plain files.
    """
    created: set[str] = set()
    directories: list[tuple[str, tarfile.TarInfo]] = []
    with _open_layer(stream) as archive:
        try:
            for member in archive:
                _apply_member(archive, member, root, created, directories, whiteouts)
        except (tarfile.TarError, EOFError) as exc:
            raise SourceError(f"cannot read layer: {exc}") from exc
    # Directory times last: adding their entries changed them.
    for target, member in reversed(directories):
        with contextlib.suppress(OSError):
            os.utime(target, (member.mtime, member.mtime), follow_symlinks=False)


def _apply_member(  # noqa: PLR0917 -- one call site, the loop's state
    archive: tarfile.TarFile,
    member: tarfile.TarInfo,
    root: Root,
    created: set[str],
    directories: list[tuple[str, tarfile.TarInfo]],
    whiteouts: bool,
) -> None:
    name = _clean(member.name)
    if name == ".":
        return
    parent_rel, base = posixpath.split(name)
    if not whiteouts:
        pass
    elif base == _OPAQUE:
        directory = root.resolve(parent_rel)
        if directory.is_dir():
            for entry in os.listdir(directory):
                if posixpath.join(parent_rel, entry) not in created:
                    _remove_any(directory / entry)
        return
    elif base.startswith(_WHITEOUT):
        _remove_any(
            root.resolve(posixpath.join(parent_rel, base[len(_WHITEOUT) :]), follow_final=False)
        )
        return
    parent = root.mkdirs(parent_rel or "/")
    target = str(parent / base)
    created.add(name)
    if member.isdir():
        if not (os.path.isdir(target) and not os.path.islink(target)):
            _remove_any(target)
            os.mkdir(target)
        _apply_metadata(member, target)
        directories.append((target, member))
        return
    _remove_any(target)
    if member.isreg():
        source = archive.extractfile(member)
        assert source is not None
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
    elif member.issym():
        os.symlink(member.linkname, target)
    elif member.islnk():
        link_source = root.resolve(_clean(member.linkname), follow_final=False)
        if not os.path.lexists(link_source):
            raise SourceError(
                f"layer entry {member.name}: hard link target {member.linkname} not found"
            )
        os.link(link_source, target, follow_symlinks=False)
        return
    elif member.ischr() or member.isblk() or member.isfifo():
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK if member.isblk() else stat.S_IFIFO
        try:
            os.mknod(target, kind | 0o600, os.makedev(member.devmajor, member.devminor))
        except OSError as exc:
            # Runtimes mount their own /dev; an image's device nodes are rarely needed.
            logger.warning("cannot create device node %s: %s", name, exc)
            return
    else:
        logger.warning("skipping layer entry %s of unsupported type %r", name, member.type)
        return
    _apply_metadata(member, target)
