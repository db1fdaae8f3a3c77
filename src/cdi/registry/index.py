"""The persistent device index: what a scan learnt, kept on disk for the next process.

A new process (a runtime hook, the ``cdi`` command, the runtime shim) would otherwise read and
parse every spec file before it can answer. The index records, per spec file, its identity
(inode, device, size, mtime, ctime), a digest of its bytes, its kind and device names, and its
validated content as normalised JSON. A new process stats the files, trusts an entry only when
the identity is unchanged and the entry was not *racy* when written, re-reads (without
re-parsing) a file whose bytes may have changed unseen, and decodes a spec's content only when
something asks for it.

The file::

    cdi-index 1 <header length> <blob length> <header digest>\\n
    <header: JSON>
    <blobs: the normalised JSON of each spec, concatenated>

Anything unexpected -- another version, a wrong length or digest, a header that does not have
the expected shape -- makes the whole index unusable: it is ignored (and rewritten after the
scan), never an error. Written atomically (a temporary file renamed over the old one), so a
reader sees the old index or the new one, never part of one.

Trust: the index is as powerful as the spec files (their hooks run as root), so it is only
read from, and written to, a directory owned by the current user that no one else can write,
and only a regular file owned by the current user with no group or world write permission is
read (checked on the open descriptor, no symlinks followed). The format is data only: JSON,
which cannot run code when read.
"""

from __future__ import annotations

import os
import stat
from time import time_ns

from cdi.registry.listing import FileKey

#: A resolved device table as the index stores it: the qualified names, sorted; for each,
#: the number of its spec file (in scan order) and its position among the file's devices.
StoredTable = tuple[list[str], list[int], list[int]]

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any


try:  # the bare module: hashlib would load OpenSSL, a cost on every runtime start
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - CPython always has it
    from hashlib import blake2b

__all__ = [
    "INDEX_DIR_ENV",
    "INDEX_ENV",
    "IndexEntry",
    "IndexStore",
    "LoadedIndex",
    "default_index_dir",
    "digest",
]

#: Overrides where indexes are kept (tests, or hosts that want them elsewhere).
INDEX_DIR_ENV = "CDI_INDEX_DIR"
#: ``0`` turns the index off where it is on by default (the command line, hooks, the shim).
INDEX_ENV = "CDI_INDEX"
_ROOT_INDEX_DIR = "/var/cache/cdi"
_MAGIC = b"cdi-index"
_VERSION = b"1"
#: Far beyond any real index (10,000 specs of 1 MiB each would not fit a spec directory).
_MAX_INDEX_SIZE = 1 << 30


def digest(data: bytes | memoryview) -> bytes:
    """The digest the scanner and the index both use to tell contents apart."""
    return blake2b(data, digest_size=16).digest()


def default_index_dir(environ: dict[str, str] | None = None) -> str:
    """``$CDI_INDEX_DIR``; else for root ``/var/cache/cdi``; else the user's cache directory
    (``$XDG_CACHE_HOME/cdi``, ``~/.cache/cdi``)."""
    env = os.environ if environ is None else environ
    chosen = env.get(INDEX_DIR_ENV)
    if chosen:
        return chosen
    if os.geteuid() == 0:
        return _ROOT_INDEX_DIR
    cache = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "cdi")


class IndexEntry:
    """One spec file as the index remembers it. ``blob`` is its normalised JSON."""

    __slots__ = ("blob", "blob_digest", "content_digest", "device_names", "key", "kind", "racy")

    def __init__(
        self,
        key: FileKey,
        racy: bool,
        content_digest: bytes,
        *,
        kind: str,
        device_names: tuple[str, ...],
        blob: bytes | memoryview,
        blob_digest: bytes,
    ) -> None:
        self.key = key
        self.racy = racy
        self.content_digest = content_digest
        self.kind = kind
        self.device_names = device_names
        self.blob = blob
        self.blob_digest = blob_digest

    def moved(self, key: FileKey, racy: bool) -> IndexEntry:
        """This entry for the same content under a new identity (``touch``, ``chmod``)."""
        if (key, racy) == (self.key, self.racy):
            return self
        return IndexEntry(
            key,
            racy,
            self.content_digest,
            kind=self.kind,
            device_names=self.device_names,
            blob=self.blob,
            blob_digest=self.blob_digest,
        )

    def intact_blob(self) -> bytes | memoryview | None:
        """The blob, or ``None`` when it does not match its digest (a damaged index)."""
        blob = self.blob
        return blob if digest(blob) == self.blob_digest else None


class LoadedIndex:
    """The entries of an index file, by spec file path, made into :class:`IndexEntry`
    objects only when asked for (a process looks at each at most once)."""

    __slots__ = ("_blobs", "_rows", "complete", "order", "table")

    def __init__(
        self,
        rows: dict[str, list[Any]],
        blobs: memoryview,
        order: list[str],
        table: StoredTable | None,
        complete: bool = True,
    ) -> None:
        self._rows = rows
        self._blobs = blobs  # entries take slices of it, without copying
        #: The spec file paths in the order of the scan that wrote the index.
        self.order = order
        #: That scan's resolved devices: for each name, the definition in use.
        self.table = table
        #: Whether the table is the whole resolution (no name was defined twice): then a
        #: registry of the same files needs to resolve nothing.
        self.complete = complete

    def paths(self) -> Iterable[str]:
        return self._rows.keys()

    def unchanged(self, path: str, key: FileKey) -> bool:
        """Whether the index holds *path* with identity *key*, recorded when it was not
        racy: then its entry describes the file as it is (without making the entry)."""
        row = self._rows.get(path)
        try:
            return row is not None and row[2] is False and tuple(row[1]) == key
        except (IndexError, TypeError):
            return False

    def entry(self, path: str) -> IndexEntry | None:
        """The entry for *path*; ``None`` if there is none, or if it is malformed (then the
        file is simply read again)."""
        row = self._rows.get(path)
        if row is None:
            return None
        try:
            _, key, racy, content, kind, names, start, length, blob_digest = row
            if not (isinstance(kind, str) and len(key) == 5 and 0 <= start <= start + length):
                return None
            if start + length > len(self._blobs) or type(names) is not list:
                return None
            "".join(names)  # a TypeError unless all are strings, checked at C speed
            return IndexEntry(
                (int(key[0]), int(key[1]), int(key[2]), int(key[3]), int(key[4])),
                racy is True,
                bytes.fromhex(content),
                kind=kind,
                device_names=tuple(names),
                blob=self._blobs[start : start + length],
                blob_digest=bytes.fromhex(blob_digest),
            )
        except (TypeError, ValueError):
            return None


def _loads(text: str) -> Any:
    from cdi.spec.gojson import read_plain_json

    return read_plain_json(text)


def _dumps(value: Any) -> str:
    from cdi.jsonout import dumps_compact

    return dumps_compact(value)


def _index_name(dirs: Sequence[str]) -> str:
    # One index per list of directories: another --spec-dir set does not evict this one.
    key = "\0".join(dirs).encode("utf-8", "surrogateescape")
    return "specs-" + blake2b(key, digest_size=8).hexdigest() + ".idx"


def _safe_dir(fd: int) -> bool:
    info = os.fstat(fd)
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.geteuid()
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _parse(data: bytes, dirs: Sequence[str]) -> LoadedIndex | None:
    newline = data.find(b"\n", 0, 200)
    fields = data[:newline].split(b" ")
    if newline < 0 or len(fields) != 5 or fields[0] != _MAGIC or fields[1] != _VERSION:
        return None
    header_length, blob_length = int(fields[2]), int(fields[3])
    start = newline + 1
    if start + header_length + blob_length != len(data):
        return None
    # Slices of a memoryview: the blobs (most of the file) are never copied.
    view = memoryview(data)
    header = view[start : start + header_length]
    if digest(header).hex().encode() != fields[4]:
        return None
    document = _loads(str(header, "utf-8", "surrogateescape"))
    if document["dirs"] != list(dirs):
        return None
    rows = {row[0]: row for row in document["files"] if type(row) is list and row}
    order = [row[0] for row in document["files"]]
    # Absent in indexes that stored a table only when it was complete.
    complete = document.get("complete", True) is True
    table = _table(document, len(order))
    return LoadedIndex(rows, view[start + header_length :], order, table, complete)


def _table(document: dict[str, Any], files: int) -> StoredTable | None:
    """The stored device table, if it is well-formed (else it is resolved again)."""
    table = document.get("devices")
    if type(table) is not list or len(table) != 3:
        return None
    names, file_numbers, positions = table
    if not (type(names) is type(file_numbers) is type(positions) is list):
        return None
    if not len(names) == len(file_numbers) == len(positions):
        return None
    "".join(names)  # a TypeError unless all are strings, checked at C speed
    if names != sorted(names):
        return None
    if file_numbers and not (min(file_numbers) >= 0 and max(file_numbers) < files):
        return None
    return names, file_numbers, positions


#: Indexes kept per directory: one per list of spec directories in use. Past this, the
#: least recently written go (spec directories made for a while: tests, build contexts).
MAX_INDEXES = 64
#: A temporary file this old is a writer's that died before its rename.
_STALE_TEMPORARY_NS = 3600 * 10**9


def _prune(dir_fd: int) -> None:
    """Remove the oldest indexes beyond :data:`MAX_INDEXES`, and stale temporaries."""
    indexes: list[tuple[int, str]] = []
    doomed: list[str] = []
    oldest_temporary = time_ns() - _STALE_TEMPORARY_NS
    with os.scandir(dir_fd) as listing:
        for entry in listing:
            name = entry.name
            written = entry.stat(follow_symlinks=False).st_mtime_ns
            if name.startswith("specs-") and name.endswith(".idx"):
                indexes.append((written, name))
            elif (
                name.startswith(".specs-") and name.endswith(".tmp") and written < oldest_temporary
            ):
                doomed.append(name)
    indexes.sort()
    doomed += [name for _, name in indexes[: max(0, len(indexes) - MAX_INDEXES)]]
    for name in doomed:
        try:  # noqa: SIM105 - contextlib is one more import on the start path
            os.unlink(name, dir_fd=dir_fd)
        except OSError:
            pass


class IndexStore:
    """Where the index of one list of spec directories lives, and reading and writing it.

    Never raises: an index that cannot be read or trusted is no index, and one that cannot be
    written is simply not written (the registry works the same without it, only slower).
    """

    def __init__(self, directory: str, dirs: Sequence[str]) -> None:
        self.directory = directory
        # Absolute: `--spec-dir examples/cdi` from two working directories is two lists.
        self.dirs = [os.path.abspath(entry) for entry in dirs]
        self.name = _index_name(self.dirs)

    def _open_dir(self, create: bool) -> int | None:
        if create:
            try:
                os.makedirs(self.directory, mode=0o700, exist_ok=True)
            except OSError:
                return None
        try:
            fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return None
        if not _safe_dir(fd):
            os.close(fd)
            return None
        return fd

    def load(self) -> LoadedIndex | None:
        """The index, or ``None`` when there is none that can be trusted and read whole."""
        dir_fd = self._open_dir(create=False)
        if dir_fd is None:
            return None
        try:
            fd = os.open(
                self.name,
                os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                dir_fd=dir_fd,
            )
        except OSError:
            return None
        finally:
            os.close(dir_fd)
        try:
            info = os.fstat(fd)
            if (
                not stat.S_ISREG(info.st_mode)
                or info.st_uid != os.geteuid()
                or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
                or info.st_size > _MAX_INDEX_SIZE
            ):
                return None
            data = os.read(fd, info.st_size + 1)
        except OSError:
            return None
        finally:
            os.close(fd)
        try:
            return _parse(data, self.dirs)
        except Exception:  # any doubt: no index (it is rebuilt after the scan)
            return None

    def save(
        self,
        entries: Iterable[tuple[str, IndexEntry]],
        table: StoredTable | None = None,
        complete: bool = True,
    ) -> bool:
        """Replace the index with *entries* (in scan order) and the device *table* resolved
        from them, atomically; whether it was written. *complete*: whether the table is the
        whole resolution (no name defined twice), so that a registry may use it as it is."""
        files: list[list[Any]] = []
        blobs: list[bytes | memoryview] = []
        offset = 0
        for path, entry in entries:
            files.append(
                [
                    path,
                    list(entry.key),
                    entry.racy,
                    entry.content_digest.hex(),
                    entry.kind,
                    list(entry.device_names),
                    offset,
                    len(entry.blob),
                    entry.blob_digest.hex(),
                ]
            )
            blobs.append(entry.blob)
            offset += len(entry.blob)
        document = {
            "dirs": self.dirs,
            "files": files,
            "devices": table and list(table),
            "complete": complete,
        }
        header = _dumps(document).encode("utf-8", "surrogateescape")
        head = b" ".join(
            (_MAGIC, _VERSION, b"%d" % len(header), b"%d" % offset, digest(header).hex().encode())
        )
        data = b"".join((head, b"\n", header, *blobs))
        dir_fd = self._open_dir(create=True)
        if dir_fd is None:
            return False
        temporary = f".{self.name}.{os.getpid()}-{os.urandom(4).hex()}.tmp"
        try:
            fd = os.open(
                temporary,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=dir_fd,
            )
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            os.rename(temporary, self.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            _prune(dir_fd)
            return True
        except OSError:
            try:  # noqa: SIM105 - contextlib is one more import on the start path
                os.unlink(temporary, dir_fd=dir_fd)
            except OSError:
                pass
            return False
        finally:
            os.close(dir_fd)
