"""Reading spec directories, paying the parse cost only for files that changed.

Each file is remembered with its ``(inode, device, size, mtime, ctime)`` and a digest of its
bytes. A rescan stats every file and re-reads only those whose key changed; a file whose
bytes are the same as before (``touch``, ``chmod``) is not parsed again. Timestamps have a
coarse granularity, so a file changed just before it was read could change again without its
key changing; such "racy" files are re-read (not re-parsed) on the next scan until they are
old enough to trust, the way git treats racily clean index entries.

Directory rules are the reference's: only ``*.json`` and ``*.yaml``, no recursion, name
order, symlinked directories followed, a missing directory skipped. Two deliberate
differences: a directory that cannot be read is reported and the scan goes on with the
next one, and a file that vanishes between listing and reading is simply not there.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cdi.errors import CDIError, SpecError
from cdi.gotext import path_error, quote
from cdi.spec.load import parse_spec, read_spec_bytes
from cdi.spec.model import Spec

__all__ = [
    "RACY_WINDOW_COARSE_NS",
    "RACY_WINDOW_NS",
    "SPEC_SUFFIXES",
    "ScanResult",
    "Scanner",
    "SpecDirError",
    "SpecFile",
]

_log = logging.getLogger(__name__)

SPEC_SUFFIXES = (".json", ".yaml")

#: A file whose inode changed this shortly before a scan started may change again within
#: the same timestamp tick, unseen by its key. File timestamps come from a clock that ticks
#: every 1-10 ms; filesystems that store whole seconds (FAT: two) get the longer window.
RACY_WINDOW_NS = 50_000_000
RACY_WINDOW_COARSE_NS = 2_000_000_000

_FileKey = tuple[int, int, int, int, int]


@dataclass(frozen=True, slots=True)
class SpecFile:
    """A loaded spec and where it came from; ``priority`` is its directory's index."""

    spec: Spec
    path: str
    priority: int

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def vendor(self) -> str:
        return self.spec.vendor

    @property
    def device_class(self) -> str:
        return self.spec.device_class


class SpecDirError(CDIError):
    """A spec directory could not be read or watched."""

    def __init__(self, message: str, directory: str) -> None:
        super().__init__(message)
        self.directory = directory


@dataclass(slots=True)
class _Entry:
    key: _FileKey
    racy: bool
    digest: bytes | None
    spec: Spec | None
    error: CDIError | None
    # One SpecFile per priority the path was seen at (normally one), reused across scans.
    files: dict[int, SpecFile] = field(default_factory=dict)

    def spec_file(self, path: str, priority: int) -> SpecFile | None:
        if self.spec is None:
            return None
        found = self.files.get(priority)
        if found is None:
            found = self.files[priority] = SpecFile(self.spec, path, priority)
        return found


@dataclass(slots=True)
class _Scan:
    """What one scan collects as it goes."""

    started: int
    entries: dict[str, _Entry] = field(default_factory=dict)
    files: list[SpecFile] = field(default_factory=list)
    file_errors: dict[str, CDIError] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScanResult:
    """One scan: the loaded specs in priority then name order, and what failed."""

    files: tuple[SpecFile, ...]
    file_errors: Mapping[str, CDIError]
    dir_errors: Mapping[str, SpecDirError]
    changed: bool


def load_error(err: SpecError) -> SpecError:
    """The reference's per-file message, keeping the location of the original error."""
    return SpecError(
        f"failed to load CDI Spec {err.message}",
        path=err.path,
        line=err.line,
        column=err.column,
        field_path=err.field_path,
        hint=err.hint,
    )


def _dir_error(directory: str, err: OSError) -> SpecDirError:
    # Reported, and the remaining directories are still scanned (the reference stops).
    return SpecDirError(
        f"failed to read CDI Spec directory {quote(directory)}: "
        + path_error(err, "open", directory),
        directory,
    )


def _spec_names(fd: int) -> list[str]:
    """The spec file names in the open directory *fd*, in name order (no subdirectories)."""
    with os.scandir(fd) as listing:
        names = [
            entry.name
            for entry in listing
            if entry.name.endswith(SPEC_SUFFIXES) and not entry.is_dir(follow_symlinks=False)
        ]
    names.sort()
    return names


try:  # the bare module: hashlib would load OpenSSL, a cost on every runtime start
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - CPython always has it
    from hashlib import blake2b


def _digest(data: bytes) -> bytes:
    return blake2b(data, digest_size=16).digest()


def _file_key(info: os.stat_result) -> _FileKey:
    return (info.st_ino, info.st_dev, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


class Scanner:
    """Scans a list of directories, keeping what it parsed for the next scan.

    Not thread-safe: the registry serialises calls to :meth:`scan`.
    """

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._errors: dict[str, str] = {}

    def scan(self, dirs: Sequence[str]) -> ScanResult:
        previous = self._entries
        state = _Scan(time.time_ns())
        dir_errors: dict[str, SpecDirError] = {}
        changed = False
        for priority, directory in enumerate(dirs):
            try:
                fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue  # not there (yet): that is fine
            except OSError as err:
                dir_errors[directory] = _dir_error(directory, err)
                continue
            try:
                names = _spec_names(fd)
                changed = self._scan_directory(fd, directory, names, priority, state) or changed
            except OSError as err:  # listing failed (the files' own errors are caught)
                dir_errors[directory] = _dir_error(directory, err)
            finally:
                os.close(fd)
        current = state.entries
        if len(current) != len(previous) or any(path not in current for path in previous):
            changed = True  # files appeared or disappeared
        # Errors not tied to a cached entry (a dangling link, a failed stat) count too.
        errors = {path: str(err) for path, err in (*state.file_errors.items(), *dir_errors.items())}
        if errors != self._errors:
            changed = True
        self._entries = current
        self._errors = errors
        return ScanResult(tuple(state.files), state.file_errors, dir_errors, changed)

    def _scan_directory(
        self,
        fd: int,
        directory: str,
        names: list[str],
        priority: int,
        state: _Scan,
    ) -> bool:
        """Scan the files *names* of the open directory *fd*; whether anything changed.

        The hot path of a refresh: one ``stat`` per file, relative to the directory."""
        changed = False
        previous = self._entries
        current, files, file_errors = state.entries, state.files, state.file_errors
        prefix = directory if directory.endswith("/") else directory + "/"
        stat = os.stat
        for name in names:
            path = prefix + name
            entry = current.get(path) or previous.get(path)
            try:
                info = stat(name, dir_fd=fd)
            except FileNotFoundError:
                if entry is not None:
                    changed = True
                if os.path.islink(path):  # a dangling link is reported, as upstream
                    file_errors[path] = SpecError(
                        f"failed to load CDI Spec open {path}: no such file or directory",
                        path=path,
                    )
                continue  # otherwise it vanished since the listing: it is gone
            except OSError as err:
                file_errors[path] = SpecError(
                    "failed to load CDI Spec "
                    f"failed to read CDI Spec {quote(path)}: {path_error(err, 'stat', path)}",
                    path=path,
                )
                changed = changed or entry is not None
                continue
            key = _file_key(info)
            if entry is None or entry.key != key or entry.racy:
                entry, reloaded = self._load(path, key, info.st_ctime_ns, entry, state.started)
                changed = changed or reloaded
            current[path] = entry
            spec_file = entry.files.get(priority) or entry.spec_file(path, priority)
            if spec_file is not None:
                files.append(spec_file)
            elif entry.error is not None:
                file_errors[path] = entry.error
        return changed

    @staticmethod
    def _load(
        path: str, key: _FileKey, ctime: int, old: _Entry | None, started: int
    ) -> tuple[_Entry, bool]:
        """A fresh entry for *path*, and whether its content differs from *old*'s."""
        # ctime, not mtime: it moves on every change and cannot be set back by utime().
        window = RACY_WINDOW_COARSE_NS if ctime % 1_000_000_000 == 0 else RACY_WINDOW_NS
        racy = ctime >= started - window
        try:
            data = read_spec_bytes(path)
        except SpecError as err:
            failure = load_error(err)
            same = old is not None and old.digest is None and str(old.error) == str(failure)
            return _Entry(key, racy, None, None, failure), not same
        digest = _digest(data)
        if old is not None and old.digest == digest:
            old.key, old.racy = key, racy
            return old, False
        spec: Spec | None = None
        error: CDIError | None = None
        try:
            spec = parse_spec(data, path)
        except SpecError as err:
            error = load_error(err)
        except Exception as err:  # a parser bug must not take the other specs down
            _log.exception("unexpected error parsing %s", path)
            error = SpecError(f"failed to load CDI Spec {err!r}", path=path)
        return _Entry(key, racy, digest, spec, error), True
