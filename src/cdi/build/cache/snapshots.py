"""Filesystem states of a build's stages, kept in the build cache, and roots to work on them.

A :class:`Snapshot` is an immutable state: a base's root filesystem, or that plus the results
of the steps on top of it, each a cache entry. A step that is not in the cache gets a
:class:`Working` root made from its parent snapshot; when it has run, the root becomes a new
entry (:meth:`Snapshots.commit`) and the next snapshot. Readers (``COPY --from``, the export)
get a :meth:`~Snapshots.view`, never to be written.

Two backends, chosen per cache directory (see :mod:`cdi.build.cache.store`):

* **overlay** (root, on a file system overlayfs accepts): a working root is an overlay mount
  of the parent's layers with a new upper directory; the upper directory, which holds only
  what the step changed, is the entry. Nothing is copied: a warm base costs one mount.
* **copy** (anywhere else): a working root is a copy of the parent's whole tree (``cp -a
  --reflink=auto``), and the entry is the whole tree after the step.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from cdi.build.cache.mounts import MAX_LOWERS, MountError, mount_overlay, unmount
from cdi.build.cache.store import BASES, OVERLAY, STEPS, BuildCache, CacheError, remove_tree
from cdi.build.fs import Root, copy_tree
from cdi.spec.record import record

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Callable


@record
class Snapshot:
    """An immutable filesystem state: its cache key, and the directories that make it,
    lowest first (overlay: a base root and the diffs on it; copy: one whole tree)."""

    key: str
    #: ``bases/KEY`` or ``steps/KEY``: the entry, for the ``parent`` of the next one.
    entry: str
    layers: tuple[Path, ...]


class Working:
    """A writable root made from a snapshot, for one step; committed or discarded after it."""

    def __init__(self, parent: Snapshot, staged: Path, root: Root, mounted: bool) -> None:
        self.parent = parent
        self.staged = staged
        self.root = root
        self.mounted = mounted


class Snapshots:
    """The snapshots of one build, in *cache*; mount points go under *workdir*."""

    def __init__(self, cache: BuildCache, workdir: Path) -> None:
        self.cache = cache
        self.workdir = workdir
        self._mounts: list[Path] = []
        self._views: dict[str, Root] = {}
        self._workings: list[Working] = []
        self._mount_points = 0

    @property
    def overlay(self) -> bool:
        """Whether this cache stacks overlays (known once the cache is open)."""
        return self.cache.backend == OVERLAY

    # --- finding and making snapshots ------------------------------------------------------------

    def base(
        self, key: str, description: str, fill: Callable[[Root], None], *, reuse: bool = True
    ) -> tuple[Snapshot, bool]:
        """The base snapshot *key*, made with *fill* (writing a root filesystem into an empty
        directory) when the cache does not have it; and whether the cache had it."""
        payload = self.cache.lookup(BASES, key) if reuse else None
        cached = payload is not None
        if payload is None:
            staged = self.cache.staging()
            root = Root(staged / "root")
            os.mkdir(root.path)
            os.chmod(root.path, 0o755)
            try:
                fill(root)
                payload = self.cache.publish(
                    staged, BASES, key, parent=None, description=description
                )
            except BaseException:
                remove_tree(staged)
                raise
        return Snapshot(key=key, entry=f"{BASES}/{key}", layers=(payload,)), cached

    def cached_step(self, parent: Snapshot, key: str) -> Snapshot | None:
        """The snapshot of the step keyed *key* on *parent*, if the cache has it."""
        payload = self.cache.lookup(STEPS, key)
        if payload is None:
            return None
        for layer in parent.layers:
            self.cache.touch(layer)
        return self._child(parent, key, payload)

    def _child(self, parent: Snapshot, key: str, payload: Path) -> Snapshot:
        layers = (*parent.layers, payload) if self.overlay else (payload,)
        return Snapshot(key=key, entry=f"{STEPS}/{key}", layers=layers)

    # --- working on one ------------------------------------------------------------------------

    def working(self, parent: Snapshot) -> Working:
        """A writable root with *parent*'s contents."""
        staged = self.cache.staging()
        try:
            if self.overlay:
                working = self._overlay_working(parent, staged)
            else:
                root = Root(staged / "root")
                _copy_whole(parent.layers[-1], root)
                working = Working(parent, staged, root, mounted=False)
        except BaseException:
            remove_tree(staged)
            raise
        self._workings.append(working)
        return working

    def _overlay_working(self, parent: Snapshot, staged: Path) -> Working:
        layers = self._stackable(parent.layers)
        os.mkdir(staged / "diff")
        os.mkdir(staged / "work")
        # The upper directory's mode and owner become the merged root's.
        info = os.stat(layers[-1])
        os.chmod(staged / "diff", info.st_mode & 0o7777)
        os.chown(staged / "diff", info.st_uid, info.st_gid)
        target = self._mount_point("step")
        mount_overlay(target, layers[::-1], staged / "diff", staged / "work")
        self._mounts.append(target)
        return Working(parent, staged, Root(target), mounted=True)

    def commit(self, working: Working, key: str, description: str) -> Snapshot:
        """Make *working*'s root the entry *key*; the snapshot it now is."""
        self._release(working)
        if working.mounted:
            remove_tree(working.staged / "work")
        try:
            payload = self.cache.publish(
                working.staged, STEPS, key, parent=working.parent.entry, description=description
            )
        except BaseException:
            remove_tree(working.staged)
            raise
        return self._child(working.parent, key, payload)

    def discard(self, working: Working) -> None:
        """Throw *working* away (its step failed)."""
        self._release(working)
        remove_tree(working.staged)

    def _release(self, working: Working) -> None:
        if working in self._workings:
            self._workings.remove(working)
        if working.mounted:
            self._unmount(working.root.path)

    # --- reading one ---------------------------------------------------------------------------

    def view(self, snapshot: Snapshot) -> Root:
        """A root to read *snapshot* from (the same one for the rest of the build)."""
        found = self._views.get(snapshot.key)
        if found is not None:
            return found
        layers = self._stackable(snapshot.layers) if self.overlay else snapshot.layers[-1:]
        if len(layers) == 1:
            root = Root(layers[0])
        else:
            target = self._mount_point("view")
            mount_overlay(target, layers[::-1])
            self._mounts.append(target)
            root = Root(target)
        self._views[snapshot.key] = root
        return root

    def close(self) -> None:
        """Unmount everything this build mounted and drop what it did not commit."""
        for working in list(self._workings):
            self.discard(working)
        for target in list(self._mounts):
            self._unmount(target)
        self._views.clear()

    # --- helpers ---------------------------------------------------------------------------------

    def _mount_point(self, kind: str) -> Path:
        self._mount_points += 1
        target = self.workdir / f"{kind}-{self._mount_points}"
        os.mkdir(target)
        return target

    def _unmount(self, target: Path) -> None:
        if target in self._mounts:
            self._mounts.remove(target)
        try:
            unmount(target)
        except MountError:
            return  # still mounted: never delete below a mount point
        with contextlib.suppress(OSError):
            os.rmdir(target)

    def _stackable(self, layers: tuple[Path, ...]) -> tuple[Path, ...]:
        if len(layers) + 1 > MAX_LOWERS:
            raise CacheError(
                f"this stage has more than {MAX_LOWERS - 2} steps that change files, more "
                "than one overlay mount stacks: merge some of its RUN steps, or build with "
                "a cache directory whose backend is copy"
            )
        return layers


def _copy_whole(source: Path, dest: Root) -> None:
    """Copy the tree at *source* to the new directory *dest*, exactly (owners, modes, links,
    hard links, extended attributes), sharing data blocks where the file system can."""
    cp = shutil.which("cp", path="/usr/bin:/bin")
    if cp is not None:
        import subprocess  # the overlay backend never copies: most builds do not need it

        result = subprocess.run(
            [cp, "-a", "--reflink=auto", "--", str(source), str(dest.path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        if result.returncode == 0:
            return
        with contextlib.suppress(FileNotFoundError):
            remove_tree(dest.path)
    os.mkdir(dest.path)
    copy_tree(source, dest)
