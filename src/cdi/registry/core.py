"""The registry: every device of every spec directory, kept current, and injection by name.

State is an immutable snapshot swapped in whole by each refresh, so readers (including
injections running in other threads) never lock and always see one consistent set of
files; refreshes are serialised by a lock. With ``auto_refresh`` a watcher thread refreshes
after changes, and every access first checks that no change is pending.

The promise of auto-refresh is read-your-writes: **an access that starts after a write to a
spec directory finished sees that write** (or a later state). It rests on one invariant:

    Every change the watcher had counted before a scan started is covered by that scan.

A refresh therefore asks the watcher for its generation (:meth:`Watcher.sync
<cdi.registry.watch.Watcher.sync>`, which first takes in every queued event) *before* it
scans, and records that generation as covered only *after* publishing the snapshot. A
change counted later, even while the scan runs, is above the recorded generation and makes
the next access refresh again. An access syncs first too: a finished write's event was
queued before the write returned, so after the sync it is counted; if the count is covered,
the refresh that covered it scanned after the write, and its snapshot (or a newer one) is
what the access reads. Otherwise the access refreshes itself.
"""

from __future__ import annotations

import os
import time
import weakref
from _thread import RLock  # threading itself costs a new process more than it needs

from cdi.errors import CDIError, SpecWriteError, UnresolvableDevicesError
from cdi.lazylog import LazyLogger
from cdi.registry.dirs import resolve_spec_dirs
from cdi.registry.index import INDEX_ENV, IndexStore, default_index_dir
from cdi.registry.resolve import CONFLICT, DeviceTable, Resolution, Resolver
from cdi.registry.scan import Scanner, SpecDirError
from cdi.registry.trust import OFF, trust_mode

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from typing import Any

    from cdi.errors import TrustError
    from cdi.injection import StatDevice
    from cdi.registry.index import StoredTable
    from cdi.registry.resolve import DeviceDefinition, RegisteredDevice
    from cdi.registry.scan import ScanResult, SpecFile
    from cdi.registry.watch import Watcher
    from cdi.spec.model import ContainerEdits, Spec

__all__ = ["Registry"]


_log = LazyLogger(__name__)  # logging is imported only to say something


#: How often a registry without a watcher tries to create one again.
_WATCHER_RETRY_SECONDS = 1.0


class _Snapshot:
    """One consistent view of the directories. Never changed once published; the sorted
    lists are derived on first use (two threads may both derive one: same result)."""

    __slots__ = (
        "_by_vendor",
        "_classes",
        "_names",
        "_vendors",
        "definitions",
        "devices",
        "dir_errors",
        "file_errors",
        "files",
        "trust_warnings",
    )

    def __init__(
        self,
        files: tuple[SpecFile, ...] = (),
        devices: DeviceTable | None = None,
        definitions: Mapping[str, tuple[DeviceDefinition, ...]] | None = None,
        file_errors: Mapping[str, tuple[CDIError, ...]] | None = None,
        dir_errors: Mapping[str, SpecDirError] | None = None,
        *,
        trust_warnings: Mapping[str, TrustError] | None = None,
    ) -> None:
        self.files = files
        self.devices = devices if devices is not None else DeviceTable({})
        self.definitions = definitions or {}
        self.file_errors = file_errors or {}
        self.dir_errors = dir_errors or {}
        self.trust_warnings = trust_warnings or {}
        self._names: tuple[str, ...] | None = None
        self._vendors: tuple[str, ...] | None = None
        self._classes: tuple[str, ...] | None = None
        self._by_vendor: dict[str, tuple[SpecFile, ...]] | None = None

    def names(self) -> tuple[str, ...]:
        if self._names is None:
            self._names = self.devices.sorted_names()
        return self._names

    def by_vendor(self) -> dict[str, tuple[SpecFile, ...]]:
        if self._by_vendor is None:
            found: dict[str, list[SpecFile]] = {}
            for spec_file in self.files:
                found.setdefault(spec_file.vendor, []).append(spec_file)
            self._by_vendor = {vendor: tuple(files) for vendor, files in found.items()}
        return self._by_vendor

    def vendors(self) -> tuple[str, ...]:
        if self._vendors is None:
            self._vendors = tuple(sorted(self.by_vendor()))
        return self._vendors

    def classes(self) -> tuple[str, ...]:
        if self._classes is None:
            self._classes = tuple(sorted({spec_file.device_class for spec_file in self.files}))
        return self._classes


def _snapshot(resolver: Resolver, result: ScanResult) -> _Snapshot:
    if result.table is not None:  # the same files the index resolved: the same devices
        resolution = Resolution(DeviceTable.stored(result.table, result.files), {}, {})
    else:
        resolution = resolver.resolve(result.files)
    file_errors: dict[str, tuple[CDIError, ...]] = {
        path: (error,) for path, error in result.file_errors.items()
    }
    for path, conflicts in resolution.conflict_errors.items():
        file_errors[path] = file_errors.get(path, ()) + conflicts
    return _Snapshot(
        result.files,
        resolution.devices,
        resolution.definitions,
        file_errors,
        dict(result.dir_errors),
        trust_warnings=result.warnings,
    )


def _stored_table(snapshot: _Snapshot) -> tuple[StoredTable, bool]:
    """The snapshot's devices as the index stores them, and whether they are the whole
    resolution: not where a name is defined twice (the index keeps no definitions, so such a
    registry resolves again; the table still tells which definition is in use)."""
    return snapshot.devices.stored_form(snapshot.files), not snapshot.definitions


def _watch_callback(registry: Registry) -> Callable[[], None]:
    # A weak reference, so that a forgotten registry can be collected (and its watcher
    # stopped by the finalizer) although the watcher thread is still running.
    ref = weakref.ref(registry)

    def refresh() -> None:
        target = ref()
        if target is not None and not target._closed:
            # Only if needed: a reader may have covered the change already.
            target._refresh_if_required()

    return refresh


def _index_store(index: bool | str | os.PathLike[str], dirs: Sequence[str]) -> IndexStore | None:
    if index is False or (index is True and os.environ.get(INDEX_ENV) == "0"):
        return None
    directory = default_index_dir() if index is True else os.fspath(index)
    return IndexStore(directory, dirs)


class Registry:
    """The CDI devices defined in a list of spec directories.

    *spec_dirs* are given lowest priority first (``None``: ``CDI_SPEC_DIRS``, else
    ``/etc/cdi`` then ``/var/run/cdi``). The directories are scanned on construction; after
    that, :meth:`refresh` rescans (cheaply: only changed files are parsed again) and, with
    *auto_refresh*, changes are picked up without it. *stat_device* replaces the ``lstat``
    of host device nodes during injection; *on_change* is called with the registry after a
    refresh that changed what it holds (from the watcher thread when auto-refreshing).

    *index* keeps what scans learn in a persistent index (see :mod:`cdi.registry.index`), so
    that a new process re-parses only the files that changed and decodes only the specs it
    uses: ``True`` (the default) keeps it in ``$CDI_INDEX_DIR``, ``/var/cache/cdi`` for root,
    else the user's cache directory (``CDI_INDEX=0`` turns it off); a path keeps it there;
    ``False`` uses none.

    *trust* is the trust policy for spec files, whose hooks run as root (see
    :mod:`cdi.registry.trust`): ``"off"`` (the default) uses every file; ``"strict"`` refuses a
    file that a user other than root or the running one could have changed -- it is owned by
    someone else or writable by group or others, or so is its spec directory (or, for a
    symlink, a directory on the way to its target) -- with a :class:`~cdi.errors.TrustError`
    in :meth:`errors`, the other files staying usable; ``"warn"`` uses such a file but reports
    it in :meth:`trust_warnings` and logs it (logger ``cdi.registry.trust``) on the refresh
    that first finds it so. Any other value raises :class:`~cdi.errors.TrustModeError`.
    """

    def __init__(
        self,
        spec_dirs: Iterable[str | os.PathLike[str]] | str | os.PathLike[str] | None = None,
        auto_refresh: bool = False,
        *,
        stat_device: StatDevice | None = None,
        on_change: Callable[[Registry], None] | None = None,
        debounce: float = 0.05,
        index: bool | str | os.PathLike[str] = True,
        trust: str = OFF,
    ) -> None:
        self._trust = trust_mode(trust)
        self._dirs = resolve_spec_dirs(spec_dirs)
        self._auto_refresh = auto_refresh
        self._stat_device = stat_device
        self._on_change = on_change
        self._debounce = debounce
        self._lock = RLock()
        self._scanner = Scanner(_index_store(index, self._dirs), trust=self._trust)
        self._resolver = Resolver()
        self._snapshot = _Snapshot()
        self._scanned = False
        # (watcher, generation) the published snapshot covers; see the module docstring.
        self._covered: tuple[Watcher | None, int] = (None, 0)
        self._watcher: Watcher | None = None
        self._watcher_error: str | None = None
        self._watcher_attempt = 0.0
        self._closed = False
        self._finalizer: weakref.finalize[Any, Any] | None = None
        if auto_refresh:
            # Watch before the first scan, so that nothing changed in between goes unseen.
            self._start_watcher()
        self._refresh()

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        """Stop watching the directories (the registry stays usable, refreshed manually)."""
        self._closed = True
        watcher, self._watcher = self._watcher, None
        self._covered = (None, 0)
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if watcher is not None:
            watcher.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "auto" if self._auto_refresh else "manual"
        return f"<cdi.Registry {self._dirs!r} {mode}, {len(self._snapshot.devices)} devices>"

    def _start_watcher(self) -> None:
        # Imported here: processes that never watch (runtime hooks, one-shot commands) do not
        # pay for inotify and ctypes.
        from cdi.registry.watch import Watcher

        self._watcher_attempt = time.monotonic()
        try:
            watcher = Watcher(self._dirs, _watch_callback(self), debounce=self._debounce)
        except Exception as err:  # never fatal: degrade to refreshing on every access
            # Typically EMFILE: no inotify instances or descriptors left.
            reason = (err.strerror if isinstance(err, OSError) else None) or str(err)
            self._watcher_error = f"failed to create watcher: {reason[:1].lower()}{reason[1:]}"
            _log.warning("CDI registry: %s; refreshing on access instead", self._watcher_error)
            return
        if self._finalizer is not None:  # the one for a watcher that died
            self._finalizer.detach()
        # A new watcher counts from zero: `_covered` names the watcher its count belongs to,
        # so a generation of the old one can never pass for one of this one.
        self._watcher, self._watcher_error = watcher, None
        self._finalizer = weakref.finalize(self, watcher.close)

    # -- refreshing -------------------------------------------------------------------------

    @property
    def auto_refresh(self) -> bool:
        return self._auto_refresh

    @property
    def trust(self) -> str:
        """The trust policy: ``off``, ``warn`` or ``strict``."""
        return self._trust

    def refresh(self) -> None:
        """Rescan the directories now; only changed files are parsed again.

        Problems are not raised: they are kept, per file and per directory, in
        :meth:`errors`.
        """
        self._refresh()

    def _refresh(self) -> None:
        changed = False
        with self._lock:
            watcher = self._watcher
            # Before the scan: every change counted by now had finished, so the scan sees it.
            generation = watcher.sync()[0] if watcher is not None else 0
            result = self._scanner.scan(self._dirs)
            if result.changed or not self._scanned:
                self._snapshot = _snapshot(self._resolver, result)
                changed = self._scanned  # the first scan is no "change" to report
                self._scanned = True
            snapshot = self._snapshot
            self._scanner.save_index(lambda: _stored_table(snapshot))
            # After the snapshot: whoever reads this generation as covered then reads a
            # snapshot at least this new. Refreshes are serialised, so it only grows.
            if watcher is not None:
                self._covered = (watcher, generation)
        if changed and self._on_change is not None:
            try:
                self._on_change(self)
            except Exception:  # a listener's bug must not break whoever triggered the refresh
                _log.exception("CDI registry on_change callback failed")

    def _current(self) -> _Snapshot:
        if self._auto_refresh and not self._closed:
            self._refresh_if_required()
        return self._snapshot

    def _refresh_if_required(self) -> None:
        watcher = self._watcher
        if watcher is None or not watcher.alive:
            if watcher is not None:  # its thread died: fall back, and try a new one later
                self._watcher = None
                watcher.close()
            if time.monotonic() - self._watcher_attempt >= _WATCHER_RETRY_SECONDS:
                with self._lock:
                    if self._watcher is None and not self._closed:
                        self._start_watcher()
            self._refresh()
            return
        # Sync first, compare second: after the sync every finished write is counted.
        generation, unwatchable = watcher.sync()
        covered_by, covered = self._covered
        if unwatchable or covered_by is not watcher or generation > covered:
            self._refresh()

    # -- what the registry holds ------------------------------------------------------------

    def spec_dirs(self) -> list[str]:
        """The directories, lowest priority first (cleaned)."""
        return list(self._dirs)

    def list_devices(self) -> list[str]:
        """The qualified names of all resolvable devices, sorted."""
        return list(self._current().names())

    def list_vendors(self) -> list[str]:
        """The vendors with at least one valid spec file, sorted."""
        return list(self._current().vendors())

    def list_classes(self) -> list[str]:
        """The device classes of all valid spec files, sorted and de-duplicated."""
        return list(self._current().classes())

    def list_device_specs(self) -> list[tuple[str, SpecFile]]:
        """Each resolvable device's qualified name, sorted, with the spec file that defines
        it: what a listing needs, without taking each device out of its spec."""
        return self._current().devices.spec_files()

    def get_device(self, qualified: str) -> RegisteredDevice | None:
        """The device *qualified* (``vendor/class=name``) resolves to, or ``None``."""
        return self._current().devices.get(qualified)

    def specs(self) -> list[SpecFile]:
        """All valid spec files, in scan order (priority, then file name)."""
        return list(self._current().files)

    def vendor_specs(self, vendor: str) -> list[SpecFile]:
        """The valid spec files of *vendor*, in scan order."""
        return list(self._current().by_vendor().get(vendor, ()))

    def errors(self) -> dict[str, list[CDIError]]:
        """Problems per spec file path (load failures, conflicts, trust refusals) and per
        directory."""
        snapshot = self._current()
        result = {path: list(found) for path, found in snapshot.file_errors.items()}
        for directory, error in self._all_dir_errors(snapshot):
            result.setdefault(directory, []).append(error)
        return result

    def trust_warnings(self) -> dict[str, list[CDIError]]:
        """The untrusted spec files used all the same (trust policy ``warn``), per path:
        ``untrusted CDI Spec "<path>": <reasons>``. Always empty in the other modes (``strict``
        refuses such files: their errors are in :meth:`errors`)."""
        return {path: [warning] for path, warning in self._current().trust_warnings.items()}

    def dir_errors(self) -> dict[str, CDIError]:
        """One problem per directory: unreadable, or not watched (with auto-refresh)."""
        result: dict[str, CDIError] = {}
        for directory, error in self._all_dir_errors(self._current()):
            result.setdefault(directory, error)
        return result

    def _all_dir_errors(self, snapshot: _Snapshot) -> list[tuple[str, CDIError]]:
        found: list[tuple[str, CDIError]] = list(snapshot.dir_errors.items())
        if not self._auto_refresh or self._closed:
            return found
        watcher = self._watcher
        if watcher is not None:
            found += watcher.errors().items()
        elif self._watcher_error is not None:
            found += [(d, SpecDirError(self._watcher_error, d)) for d in self._dirs]
        return found

    def definitions(self) -> dict[str, list[DeviceDefinition]]:
        """For each name defined by more than one file, every definition and its fate."""
        return {name: list(found) for name, found in self._current().definitions.items()}

    def conflicts(self) -> dict[str, list[DeviceDefinition]]:
        """The names that two files of one directory both define (see :meth:`definitions`);
        a name whose definitions all have status ``conflict`` cannot be resolved."""
        return {
            name: list(found)
            for name, found in self._current().definitions.items()
            if any(item.conflicts_with or item.status == CONFLICT for item in found)
        }

    # -- injection --------------------------------------------------------------------------

    def resolve_edits(self, devices: Sequence[str] | str) -> ContainerEdits:
        """The merged edits for *devices*, in request order, without an OCI spec.

        Each spec's own edits come once, before its first requested device. Raises
        :class:`~cdi.errors.UnresolvableDevicesError` naming every unknown device.
        """
        if isinstance(devices, str):
            devices = [devices]
        snapshot = self._current()
        edits: list[ContainerEdits] = []
        seen: set[int] = set()
        unresolved: list[str] = []
        for name in devices:
            found = snapshot.devices.get(name)
            if found is None:
                unresolved.append(name)
                continue
            if id(found.spec) not in seen:
                seen.add(id(found.spec))
                edits.append(found.spec.spec.container_edits)
            edits.append(found.device.container_edits)
        if unresolved:
            raise UnresolvableDevicesError(unresolved)
        from cdi.injection import merge_edits

        return merge_edits(edits)

    def inject(
        self, oci_spec: Mapping[str, Any] | None, devices: Sequence[str] | str
    ) -> dict[str, Any]:
        """A copy of *oci_spec* with *devices* injected; *oci_spec* is never changed.

        Raises :class:`~cdi.errors.UnresolvableDevicesError` (``unresolvable CDI devices a,
        b``) or :class:`~cdi.injection.InjectionError` (``failed to inject devices: ...``).
        """
        from cdi.injection import InjectionError, inject_devices

        if oci_spec is None:
            raise InjectionError("can't inject devices, nil OCI Spec")
        return inject_devices(oci_spec, self.resolve_edits(devices), stat_device=self._stat_device)

    # -- producing --------------------------------------------------------------------------

    def write_spec(self, spec: Spec, name: str | None = None, *, fmt: str | None = None) -> str:
        """Write *spec* atomically into the highest-priority directory; returns its path.

        *name* defaults to ``<vendor>-<class>``; ``.json`` or ``.yaml`` picks the format
        (else *fmt*, else YAML). The registry is refreshed afterwards.
        """
        from cdi import producer  # the encoders are not needed to read specs

        if not self._dirs:
            raise SpecWriteError("no Spec directories to write to")
        path = producer.write_spec(spec, self._dirs[-1], name, fmt=fmt)
        self._refresh()
        return path

    def remove_spec(self, name: str) -> None:
        """Remove spec file *name* from the highest-priority directory (missing is fine)."""
        from cdi import producer

        if not self._dirs:
            raise SpecWriteError("no Spec directories to remove from")
        producer.remove_spec(self._dirs[-1], name)
        self._refresh()
