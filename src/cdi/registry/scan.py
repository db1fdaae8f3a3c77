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

With a trust policy (:mod:`cdi.registry.trust`), every file is checked on every scan from the
``stat`` just taken, before anything remembered about it (from the last scan or the index) is
used: a refused file is never read, and what was known of it is only kept, unused, so that the
index does not forget it.
"""

from __future__ import annotations

import gc
import os
import time

from cdi.errors import CDIError, SpecError
from cdi.gotext import path_error, quote
from cdi.registry.index import IndexEntry, IndexStore, LoadedIndex, digest
from cdi.registry.listing import SPEC_SUFFIXES, FileKey
from cdi.registry.listing import file_key as _file_key
from cdi.registry.listing import spec_names as _spec_names
from cdi.registry.specfile import SpecFile
from cdi.registry.trust import OFF, WRITABLE_BY_OTHERS, TrustCheck, log_warnings, trust_error

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Callable, Container, Mapping, Sequence

    from cdi.errors import TrustError
    from cdi.registry.index import StoredTable
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

#: A file whose inode changed this shortly before a scan started may change again within
#: the same timestamp tick, unseen by its key. File timestamps come from a clock that ticks
#: every 1-10 ms; filesystems that store whole seconds (FAT: two) get the longer window.
RACY_WINDOW_NS = 50_000_000
RACY_WINDOW_COARSE_NS = 2_000_000_000

_FileKey = FileKey


class SpecDirError(CDIError):
    """A spec directory could not be read or watched."""

    def __init__(self, message: str, directory: str) -> None:
        super().__init__(message)
        self.directory = directory


class _Entry:
    """What the scanner knows of one path: its key, and its spec (or its error)."""

    __slots__ = ("digest", "error", "files", "indexed", "key", "racy", "spec")

    def __init__(
        self,
        key: _FileKey,
        racy: bool,
        digest: bytes | None,
        spec: Spec | None,
        error: CDIError | None,
        *,
        indexed: IndexEntry | None = None,
    ) -> None:
        self.key = key
        self.racy = racy
        self.digest = digest
        self.spec = spec
        self.error = error
        # The index's record of the content: the spec is decoded from it on first use.
        self.indexed = indexed
        # One SpecFile per priority the path was seen at (normally one), reused across scans.
        self.files: dict[int, SpecFile] = {}

    @classmethod
    def from_index(cls, indexed: IndexEntry) -> _Entry:
        return cls(indexed.key, indexed.racy, indexed.content_digest, None, None, indexed=indexed)

    def spec_file(self, path: str, priority: int) -> SpecFile | None:
        found = self.files.get(priority)
        if found is None:
            if self.spec is not None:
                found = SpecFile(self.spec, path, priority)
            elif self.indexed is not None:
                indexed = self.indexed
                found = SpecFile.deferred(
                    lambda: _decode_indexed(indexed, path),
                    path,
                    priority,
                    indexed.kind,
                    indexed.device_names,
                )
            else:
                return None
            self.files[priority] = found
        return found

    def index_entry(self) -> IndexEntry | None:
        """This entry as the index stores it (``None``: not stored, e.g. an error)."""
        if self.indexed is None and self.spec is not None and self.digest is not None:
            from cdi.registry.indexcodec import encode_spec

            blob = encode_spec(self.spec)
            self.indexed = IndexEntry(
                self.key,
                self.racy,
                self.digest,
                kind=self.spec.kind,
                device_names=tuple(device.name for device in self.spec.devices),
                blob=blob,
                blob_digest=digest(blob),
            )
        if self.indexed is not None:
            self.indexed = self.indexed.moved(self.key, self.racy)
        return self.indexed


def _decode_indexed(indexed: IndexEntry, path: str) -> Spec:
    """The spec the index holds for *path*; from the file itself if the index is damaged."""
    from cdi.registry.indexcodec import decode_spec

    blob = indexed.intact_blob()
    if blob is not None:
        try:
            return decode_spec(blob)
        except Exception:
            pass
    from cdi.spec.load import load_spec

    return load_spec(path)


def _stored(entry: _Entry | None) -> bool:
    """Whether the index keeps *entry* (a spec, not an error)."""
    return (
        entry is not None
        and entry.digest is not None
        and (entry.spec is not None or entry.indexed is not None)
    )


class _Scan:
    """What one scan collects as it goes."""

    __slots__ = ("entries", "file_errors", "files", "learnt", "started", "warnings", "withheld")

    def __init__(self, started: int) -> None:
        self.started = started
        # Whether a file was read whose entry the index keeps: then the index is rewritten.
        self.learnt = False
        self.entries: dict[str, _Entry] = {}
        self.files: list[SpecFile] = []
        self.file_errors: dict[str, CDIError] = {}
        # Untrusted files used all the same (trust policy "warn").
        self.warnings: dict[str, TrustError] = {}
        # Whether an entry is kept for the index although its file was refused (not used).
        self.withheld = False


class ScanResult:
    """One scan: the loaded specs in priority then name order, what failed, and the
    untrusted files used all the same (``warnings``, trust policy ``warn``)."""

    __slots__ = ("changed", "dir_errors", "file_errors", "files", "table", "warnings")

    def __init__(
        self,
        files: tuple[SpecFile, ...],
        file_errors: Mapping[str, CDIError],
        dir_errors: Mapping[str, SpecDirError],
        changed: bool,
        table: StoredTable | None = None,
        *,
        warnings: Mapping[str, TrustError] | None = None,
    ) -> None:
        self.files = files
        self.file_errors = file_errors
        self.dir_errors = dir_errors
        self.changed = changed
        #: The device table the index stored, when these files are exactly the ones it
        #: was resolved from (then resolving them again would give the same).
        self.table = table
        self.warnings = warnings or {}


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


class Scanner:
    """Scans a list of directories, keeping what it parsed for the next scan.

    With an *index*, the first scan starts from what the persistent index remembers, and
    every scan that learnt something new writes it back. *trust* is the trust policy
    (``off``, ``warn`` or ``strict``; see :mod:`cdi.registry.trust`). Not thread-safe: the
    registry serialises calls to :meth:`scan`.
    """

    def __init__(self, index: IndexStore | None = None, *, trust: str = OFF) -> None:
        self._entries: dict[str, _Entry] = {}
        self._errors: dict[str, str] = {}
        self._trust = None if trust == OFF else TrustCheck(trust)
        self._warnings: dict[str, str] = {}
        # Whether the last scan kept entries it did not use (refused files): then the device
        # table resolved from the files it used does not fit the entries the index lists.
        self._withheld = False
        self._index = index
        # The index read by the first scan; later scans start from what the last one found.
        self._seed: LoadedIndex | None = None
        self._unsaved = False  # whether the index lacks what the last scan learnt

    def scan(self, dirs: Sequence[str]) -> ScanResult:
        # A cold scan creates objects by the hundred thousand, all long-lived: the cyclic
        # collector would walk them again and again (a third of a cold scan's time) and
        # find nothing to free. Paused for the scan, if it was on; restored after.
        collecting = gc.isenabled()
        if collecting:
            gc.disable()
        try:
            return self._scan(dirs)
        finally:
            if collecting:
                gc.enable()

    def _scan(self, dirs: Sequence[str]) -> ScanResult:
        if self._index is not None and not self._entries:
            self._seed = self._index.load()
        previous = self._entries
        state = _Scan(time.time_ns())
        dir_errors: dict[str, SpecDirError] = {}
        changed = False
        trust = self._trust
        if trust is not None:
            trust.start()
        for priority, directory in enumerate(dirs):
            try:
                fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue  # not there (yet): that is fine
            except OSError as err:
                dir_errors[directory] = _dir_error(directory, err)
                continue
            try:
                links: set[str] = set()
                names = _spec_names(fd) if trust is None else _spec_names(fd, links)
                changed = (
                    self._scan_directory(fd, directory, names, priority, state, links=links)
                    or changed
                )
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
        warnings = self._warned(state.warnings)
        if warnings != self._warnings:
            changed = True
        files = tuple(state.files)
        learnt = state.learnt or self._dropped(current)
        self._unsaved = self._index is not None and (self._unsaved or learnt)
        seed = self._seed
        table = None
        # Exactly the files the index resolved, in its order, and no name defined twice
        # (the index keeps no definitions): the same devices, nothing to resolve.
        if (
            seed is not None
            and seed.complete
            and not self._unsaved
            and not errors
            and [f.path for f in files] == seed.order
        ):
            table = seed.table
        self._entries = current
        self._errors = errors
        self._warnings = warnings
        self._withheld = state.withheld
        self._seed = None
        return ScanResult(
            files, state.file_errors, dir_errors, changed, table, warnings=state.warnings
        )

    def _warned(self, found: dict[str, TrustError]) -> dict[str, str]:
        """The texts of this scan's trust warnings; those the last scan did not give are
        logged (once: a warning that stays the same is not logged again)."""
        if not found and not self._warnings:
            return {}
        texts = {path: str(warning) for path, warning in found.items()}
        new = [found[path] for path, text in texts.items() if self._warnings.get(path) != text]
        if new:
            log_warnings(new)
        return texts

    def _dropped(self, current: dict[str, _Entry]) -> bool:
        """Whether something the index holds is gone (or broken) now."""
        if self._seed is not None:
            return any(not _stored(current.get(path)) for path in self._seed.paths())
        return any(
            _stored(entry) and not _stored(current.get(path))
            for path, entry in self._entries.items()
        )

    def save_index(self, table: Callable[[], tuple[StoredTable, bool]]) -> None:
        """Write the index if the last scan learnt something, with the device *table*
        resolved from its files and whether it is the whole resolution (no name defined
        twice)."""
        if not self._unsaved or self._index is None:
            return
        self._unsaved = False
        current = self._entries
        self._index.save(
            (
                (path, indexed)
                for path, entry in current.items()
                if _stored(entry) and (indexed := entry.index_entry()) is not None
            ),
            *((None, False) if self._withheld else table()),
        )

    def _scan_directory(
        self,
        fd: int,
        directory: str,
        names: list[str],
        priority: int,
        state: _Scan,
        *,
        links: Container[str] = (),
    ) -> bool:
        """Scan the files *names* of the open directory *fd*; whether anything changed.
        *links* are the names that are symlinks (needed only with a trust policy).

        The hot path of a refresh: one ``stat`` per file, relative to the directory; with a
        trust policy, one ``fstat`` of the directory too."""
        changed = False
        trust = self._trust
        dir_reasons: list[str] = []
        owners: tuple[int, ...] = ()
        if trust is not None:
            dir_reasons = trust.directory_reasons(os.fstat(fd), directory)
            owners = trust.owners
        previous = self._entries
        seed = self._seed
        current, files, file_errors = state.entries, state.files, state.file_errors
        prefix = directory if directory.endswith("/") else directory + "/"
        stat = os.stat
        for name in names:
            path = prefix + name
            entry = current.get(path) or previous.get(path)
            if entry is None and seed is not None:
                indexed = seed.entry(path)
                if indexed is not None:
                    entry = _Entry.from_index(indexed)
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
            if trust is not None and (
                dir_reasons
                or info.st_mode & WRITABLE_BY_OTHERS
                or info.st_uid not in owners
                or name in links
            ):
                reasons = trust.file_reasons(path, info, name in links, dir_reasons)
                if reasons:
                    untrusted = trust_error(path, reasons, refused=trust.refuse)
                    if trust.refuse:
                        file_errors[path] = untrusted
                        if entry is not None:  # kept unused, so that the index keeps it
                            current[path] = entry
                            state.withheld = True
                        continue
                    state.warnings[path] = untrusted
            key = _file_key(info)
            if entry is None or entry.key != key or entry.racy:
                entry, reloaded = self._load(path, key, entry, state.started)
                changed = changed or reloaded
                state.learnt = state.learnt or _stored(entry)
            current[path] = entry
            spec_file = entry.files.get(priority) or entry.spec_file(path, priority)
            if spec_file is not None:
                files.append(spec_file)
            elif entry.error is not None:
                file_errors[path] = entry.error
        return changed

    @staticmethod
    def _load(path: str, key: _FileKey, old: _Entry | None, started: int) -> tuple[_Entry, bool]:
        """A fresh entry for *path*, and whether its content differs from *old*'s."""
        from cdi.spec import load  # the parser, only when a file is read

        # ctime, not mtime: it moves on every change and cannot be set back by utime().
        ctime = key[4]
        window = RACY_WINDOW_COARSE_NS if ctime % 1_000_000_000 == 0 else RACY_WINDOW_NS
        racy = ctime >= started - window
        try:
            data = load.read_spec_bytes(path)
        except SpecError as err:
            failure = load_error(err)
            same = old is not None and old.digest is None and str(old.error) == str(failure)
            return _Entry(key, racy, None, None, failure), not same
        content_digest = digest(data)
        if old is not None and old.digest == content_digest:
            old.key, old.racy = key, racy
            return old, False
        spec: Spec | None = None
        error: CDIError | None = None
        try:
            spec = load.parse_spec(data, path)
        except SpecError as err:
            error = load_error(err)
        except Exception as err:  # a parser bug must not take the other specs down
            import logging

            logging.getLogger(__name__).exception("unexpected error parsing %s", path)
            error = SpecError(f"failed to load CDI Spec {err!r}", path=path)
        return _Entry(key, racy, content_digest, spec, error), True
