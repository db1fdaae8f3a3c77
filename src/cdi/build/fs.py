"""Files inside a root filesystem: path resolution that never leaves the root, and copying.

Everything the executor writes into a stage's root filesystem (COPY/ADD, WORKDIR, layers of a
base image) goes through :class:`Root`. A path is resolved the way the kernel would resolve it
inside the container -- symbolic links followed, ``..`` taken -- except that the root is a
floor: an absolute link target starts again at the root, and ``..`` at the root stays there
(what Docker calls ``FollowSymlinkInScope``). A link such as ``etc -> /host/etc`` in an image
therefore leads to ``<root>/host/etc``, never to the host's ``/etc``.

Copied trees keep their symbolic links as links (they are not followed), so a hostile link
inside a build context or an image cannot make us read or write outside it.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Callable
from pathlib import Path

from cdi.build.mutable import field, mutable_record
from cdi.errors import CDIError
from cdi.lazylog import LazyLogger
from cdi.spec.record import record

_log = LazyLogger(__name__)  # logging is imported only to say something (a rare file)

_MAX_LINKS = 255


class PathEscapeError(CDIError):
    """A path given by the Dockerfile or a source would lead outside its root."""


class CopyError(CDIError):
    """A file could not be copied."""


@record
class Owner:
    uid: int
    gid: int


class Root:
    """A directory used as a root filesystem (or a build context) with in-scope resolution."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(os.path.abspath(path))

    def __repr__(self) -> str:
        return f"Root({str(self.path)!r})"

    def resolve(self, path: str, *, follow_final: bool = True) -> Path:
        """The host path of *path* (absolute or relative to the root) inside this root.

        Symbolic links are followed inside the root (the final component only when
        *follow_final*); the result always lies under :attr:`path`.
        """
        return self.path.joinpath(*self.resolve_parts(path, follow_final=follow_final))

    def resolve_parts(self, path: str, *, follow_final: bool = True) -> list[str]:
        """The components of the resolved *path*, relative to the root."""
        pending = [part for part in path.split("/") if part not in ("", ".")]
        pending.reverse()
        resolved: list[str] = []
        links = 0
        while pending:
            part = pending.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = self.path.joinpath(*resolved, part)
            is_last = not pending
            if (follow_final or not is_last) and os.path.islink(candidate):
                links += 1
                if links > _MAX_LINKS:
                    raise PathEscapeError(f"{path}: too many levels of symbolic links")
                target = os.readlink(candidate)
                if target.startswith("/"):
                    resolved = []
                parts = [p for p in target.split("/") if p not in ("", ".")]
                pending.extend(reversed(parts))
                continue
            resolved.append(part)
        return resolved

    def relative(self, host_path: Path) -> str:
        """``/``-rooted form of a host path under this root."""
        rel = os.path.relpath(host_path, self.path)
        return "/" if rel == "." else "/" + rel

    def mkdirs(self, path: str, *, owner: Owner | None = None, mode: int = 0o755) -> Path:
        """Create directory *path* (and missing parents) inside the root; its host path.

        Created directories get *mode* and *owner* (root when None); existing ones are kept.
        A non-directory in the way is an error.
        """
        parts = self.resolve_parts(path)
        current = self.path
        for part in parts:
            current = current / part
            try:
                info = os.lstat(current)
            except FileNotFoundError:
                os.mkdir(current)
                os.chmod(current, mode)
                if owner is not None:
                    os.lchown(current, owner.uid, owner.gid)
                continue
            if not stat.S_ISDIR(info.st_mode):
                raise CopyError(
                    f"cannot create directory {self.relative(current)}: not a directory"
                )
        return current

    def read_text(self, path: str) -> str | None:
        """The text of *path* inside the root, or None when it does not exist."""
        host = self.resolve(path)
        try:
            with open(host, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None


def private_dir(parent: str | os.PathLike[str] | None, prefix: str) -> Path:
    """A new directory only its owner may enter, named *prefix* and random letters, in
    *parent* (default: ``$TMPDIR``, else ``/tmp``) -- ``tempfile.mkdtemp`` without the
    import, which costs a build served from the cache a few percent."""
    base = os.fspath(parent) if parent is not None else os.environ.get("TMPDIR") or "/tmp"
    while True:
        path = os.path.join(base, prefix + os.urandom(6).hex())
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return Path(os.path.abspath(path))


def clean_relative(path: str) -> str:
    """*path* cleaned and made relative (``/a/../b/`` -> ``b``; ``""``/``/`` -> ``.``)."""
    cleaned = posixpath.normpath("/" + path).lstrip("/")
    return cleaned or "."


def has_glob(path: str) -> bool:
    return any(char in path for char in "*?[")


@mutable_record
class CopyOptions:
    """How to copy: whose files the copies are, and their mode."""

    #: None: keep the source's owner; else every copied entry gets this owner.
    owner: Owner | None = None
    #: None: keep the source's permission bits; else this mode for every copied entry.
    mode: int | None = None
    #: Source entries to leave out: called with the path relative to the source root
    #: (``/``-separated) and whether it is a directory.
    exclude: Callable[[str, bool], bool] | None = None
    #: (device, inode) of copied hard-linked files -> their copy, to link the copies too.
    hardlinks: dict[tuple[int, int], Path] = field(default_factory=dict)


def _copy_xattrs(source: Path, target: Path) -> None:
    try:
        names = os.listxattr(source, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        try:
            os.setxattr(
                target,
                name,
                os.getxattr(source, name, follow_symlinks=False),
                follow_symlinks=False,
            )
        except OSError as exc:
            _log.debug("cannot copy xattr %s of %s: %s", name, source, exc)


def _finish(info: os.stat_result, target: Path, options: CopyOptions, *, is_link: bool) -> None:
    """Owner, mode and times of a copied entry."""
    owner = options.owner or Owner(info.st_uid, info.st_gid)
    os.lchown(target, owner.uid, owner.gid)
    if not is_link:
        mode = stat.S_IMODE(info.st_mode) if options.mode is None else options.mode
        os.chmod(target, mode)
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns), follow_symlinks=False)


def _remove(path: Path) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        raise CopyError(f"cannot replace directory {path.name} with a non-directory")
    os.unlink(path)


def _copy_file_data(source: Path, target: Path) -> None:
    # O_NOFOLLOW on both ends: neither side may turn into a link between checks and use.
    flags = os.O_RDONLY | os.O_NOFOLLOW
    src_fd = os.open(source, flags)
    try:
        dst_fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            size = os.fstat(src_fd).st_size
            offset = 0
            while offset < size:
                try:
                    sent = os.copy_file_range(src_fd, dst_fd, size - offset)
                except OSError as exc:
                    if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                        raise
                    os.lseek(src_fd, offset, os.SEEK_SET)
                    while chunk := os.read(src_fd, 1 << 20):
                        os.write(dst_fd, chunk)
                    break
                if sent == 0:
                    break
                offset += sent
        finally:
            os.close(dst_fd)
    finally:
        os.close(src_fd)


def copy_entry(
    source: Path,
    dest_root: Root,
    dest: str,
    options: CopyOptions,
    *,
    contents_only: bool = False,
    relative: str = "",
) -> int:
    """Copy *source* (a host path, not followed if a link) to *dest* inside *dest_root*.

    A directory is merged into an existing directory at *dest*; with *contents_only* its
    entries (not the directory itself) are what is copied, and *dest* is created as a plain
    directory if missing. Returns the number of entries copied. *relative* is the source's
    path relative to the source root, for :attr:`CopyOptions.exclude`.
    """
    info = os.lstat(source)
    count = 0
    if stat.S_ISDIR(info.st_mode):
        target = _directory_target(dest_root, dest, info, options, keep_existing=contents_only)
        if not contents_only:
            count += 1
        for entry in sorted(os.listdir(source)):
            child_rel = f"{relative}/{entry}" if relative else entry
            if options.exclude is not None and options.exclude(
                child_rel, stat.S_ISDIR(os.lstat(source / entry).st_mode)
            ):
                continue
            count += copy_entry(
                source / entry,
                dest_root,
                dest_root.relative(target) + "/" + entry,
                options,
                relative=child_rel,
            )
        if not contents_only:
            _finish(info, target, options, is_link=False)
        return count

    parent = dest_root.mkdirs(posixpath.dirname(dest.rstrip("/")) or "/", owner=options.owner)
    target = parent / posixpath.basename(dest.rstrip("/"))
    _remove(target)
    key = (info.st_dev, info.st_ino)
    if info.st_nlink > 1 and not stat.S_ISDIR(info.st_mode) and key in options.hardlinks:
        os.link(options.hardlinks[key], target, follow_symlinks=False)
        return 1
    if stat.S_ISLNK(info.st_mode):
        os.symlink(os.readlink(source), target)
        _finish(info, target, options, is_link=True)
    elif stat.S_ISREG(info.st_mode):
        _copy_file_data(source, target)
        _copy_xattrs(source, target)
        _finish(info, target, options, is_link=False)
    elif stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) or stat.S_ISFIFO(info.st_mode):
        os.mknod(target, info.st_mode, info.st_rdev)
        _finish(info, target, options, is_link=False)
    else:
        _log.warning("not copying %s: sockets cannot be copied", source)
        return 0
    if info.st_nlink > 1:
        options.hardlinks[key] = target
    return 1


def _directory_target(
    root: Root, dest: str, info: os.stat_result, options: CopyOptions, *, keep_existing: bool
) -> Path:
    """The directory at *dest* to copy into: existing (followed in scope) or created."""
    parent = root.mkdirs(posixpath.dirname(dest.rstrip("/")) or "/", owner=options.owner)
    name = posixpath.basename(dest.rstrip("/"))
    if not name:
        return root.path
    target = parent / name
    if os.path.islink(target):
        followed = root.resolve(root.relative(target))
        if followed.is_dir() and not followed.is_symlink():
            return followed
        os.unlink(target)
    elif target.exists():
        if target.is_dir():
            return target
        os.unlink(target)
    os.mkdir(target)
    owner = options.owner or (None if keep_existing else Owner(info.st_uid, info.st_gid))
    if keep_existing:
        os.chmod(target, 0o755)
    if owner is not None:
        os.lchown(target, owner.uid, owner.gid)
    return target


def copy_tree(source: Path, dest_root: Root) -> None:
    """Copy the whole root filesystem at *source* into the empty *dest_root*, exactly."""
    options = CopyOptions()
    copy_entry(source, dest_root, "/", options, contents_only=True)
    info = os.lstat(source)
    os.chmod(dest_root.path, stat.S_IMODE(info.st_mode))
    os.lchown(dest_root.path, info.st_uid, info.st_gid)
