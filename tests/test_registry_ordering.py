"""Read-your-writes with auto-refresh: the ordering of event counting and scanning.

The invariant (``cdi/registry/core.py``): every change the watcher had counted before a scan
started is covered by that scan, and an access after a write finished sees that write. These
tests force the interleavings that matter one step at a time, with hooks standing in for the
watcher thread or with a fake watcher; none depends on timing. ``bench/read_your_writes.py``
is the stress run of the same promise under CPU load.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

import cdi
import cdi.registry.core
import cdi.registry.scan
import cdi.registry.watch
from cdi.registry.scan import SpecDirError

DEADLINE = 10.0
#: Long enough that the watcher thread never refreshes by itself during a test.
QUIET = 3600.0


def spec_text(vendor: str, name: str = "d") -> str:
    return (
        f"cdiVersion: 0.3.0\nkind: {vendor}/device\n"
        f"devices:\n- {{name: {name}, containerEdits: {{env: [A=1]}}}}\n"
    )


def rename_into_place(path: Path, text: str) -> None:
    """What producers do: a temporary file, then an atomic rename."""
    temporary = path.with_name(f".{path.name}.test.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


class ScanCounter:
    """Counts the registry's scans (each refresh is one) and can run a hook after one."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self.after: Callable[[], None] | None = None
        original = cdi.registry.scan.Scanner.scan

        def scan(scanner: cdi.registry.scan.Scanner, dirs: Any) -> Any:
            self.count += 1
            result = original(scanner, dirs)
            hook, self.after = self.after, None
            if hook is not None:
                hook()
            return result

        monkeypatch.setattr(cdi.registry.scan.Scanner, "scan", scan)


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> ScanCounter:
    return ScanCounter(monkeypatch)


@pytest.fixture(autouse=True)
def _no_env_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDI_SPEC_DIRS", raising=False)


def as_watcher_thread(watcher: cdi.registry.watch.Watcher) -> None:
    """Take the queued events in, as the watcher thread does when it wakes up."""
    watcher._take()


def parked_watcher(registry: cdi.Registry) -> cdi.registry.watch.Watcher:
    """The registry's watcher with its thread stopped, so that the test decides when events
    are taken in (:func:`as_watcher_thread`); the registry still sees a live watcher."""
    watcher = registry._watcher
    assert watcher is not None
    watcher._stopping = True
    os.write(watcher._wake_write, b"x")
    watcher._thread.join(DEADLINE)
    assert not watcher._thread.is_alive()
    watcher._stopping = False  # close() still releases everything
    watcher.alive = True
    return watcher


# -- the real watcher ----------------------------------------------------------------------


def test_a_change_counted_while_a_scan_runs_is_not_covered_by_it(
    tmp_path: Path, scans: ScanCounter
) -> None:
    with cdi.Registry([tmp_path], auto_refresh=True, debounce=QUIET) as registry:
        watcher = parked_watcher(registry)

        def write_after_the_scan_looked() -> None:
            rename_into_place(tmp_path / "late.yaml", spec_text("vendor.com"))
            as_watcher_thread(watcher)  # counted before the refresh records what it covered

        scans.after = write_after_the_scan_looked
        registry.refresh()
        assert registry.list_devices() == ["vendor.com/device=d"]


def test_a_change_counted_before_a_scan_is_covered_by_it(
    tmp_path: Path, scans: ScanCounter
) -> None:
    with cdi.Registry([tmp_path], auto_refresh=True, debounce=QUIET) as registry:
        watcher = parked_watcher(registry)
        rename_into_place(tmp_path / "a.yaml", spec_text("vendor.com"))
        as_watcher_thread(watcher)
        registry.refresh()
        before = scans.count
        assert registry.list_devices() == ["vendor.com/device=d"]
        assert scans.count == before, "covered, yet the access scanned again"


def test_events_read_but_not_yet_counted_keep_readers_waiting(tmp_path: Path) -> None:
    """The window the lock-free check must never fall into: the watcher thread has taken a
    finished write's event off the queue but not counted it yet."""
    with cdi.Registry([tmp_path], auto_refresh=True, debounce=QUIET) as registry:
        watcher = parked_watcher(registry)
        inotify = watcher._inotify
        read_done, resume = threading.Event(), threading.Event()

        class PausingAfterRead:
            def __getattr__(self, name: str) -> Any:
                return getattr(inotify, name)

            def read(self, timeout: float | None = None) -> Any:
                events = inotify.read(timeout=timeout)
                if threading.current_thread() is thief:
                    read_done.set()
                    assert resume.wait(DEADLINE)
                return events

        watcher._inotify = PausingAfterRead()
        rename_into_place(tmp_path / "a.yaml", spec_text("vendor.com"))
        thief = threading.Thread(target=as_watcher_thread, args=(watcher,))
        thief.start()
        assert read_done.wait(DEADLINE)
        # The event is gone from the queue and not counted: the fast path must not be taken.
        assert not watcher._queued()
        assert watcher._busy
        found: list[object] = []
        reader = threading.Thread(
            target=lambda: found.append(registry.get_device("vendor.com/device=d"))
        )
        reader.start()
        # Give a reader that wrongly trusts the count time to answer (a right one waits for
        # the lock); the outcome is checked below, whatever the time it took.
        reader.join(0.2)
        resume.set()
        thief.join(DEADLINE)
        reader.join(DEADLINE)
        watcher._inotify = inotify
        assert found and found[0] is not None


def test_sync_counts_every_finished_write_and_nothing_else(tmp_path: Path) -> None:
    watcher = cdi.registry.watch.Watcher([str(tmp_path)], lambda: None, debounce=QUIET)
    try:
        generation, unwatchable = watcher.sync()
        assert not unwatchable
        (tmp_path / "notes.txt").write_text("x")
        (tmp_path / ".a.yaml.tmp").write_text("x")
        assert watcher.sync()[0] == generation, "no spec file changed"
        rename_into_place(tmp_path / "a.yaml", spec_text("vendor.com"))
        after_write = watcher.sync()[0]
        assert after_write > generation
        (tmp_path / "a.yaml").unlink()
        assert watcher.sync()[0] > after_write
    finally:
        watcher.close()


def test_a_directory_the_watcher_thread_added_is_rescanned(tmp_path: Path) -> None:
    """Files put into a directory before it was watched made no event: adding the watch
    counts as a change, so an access does not trust a scan from before it."""
    spec_dir = tmp_path / "later"
    with cdi.Registry([spec_dir], auto_refresh=True, debounce=QUIET) as registry:
        watcher = parked_watcher(registry)
        assert registry.list_devices() == []
        spec_dir.mkdir()
        rename_into_place(spec_dir / "a.yaml", spec_text("vendor.com"))
        with watcher._busy_lock():  # the watcher thread's periodic retry, done here
            watcher._retry()
        assert watcher.errors() == {}
        assert registry.list_devices() == ["vendor.com/device=d"]


def test_a_directory_removed_and_made_again_is_watched_and_read(tmp_path: Path) -> None:
    spec_dir = tmp_path / "specs"
    spec_dir.mkdir()
    rename_into_place(spec_dir / "a.yaml", spec_text("vendor-a.com"))
    with cdi.Registry([spec_dir], auto_refresh=True, debounce=QUIET) as registry:
        assert registry.list_devices() == ["vendor-a.com/device=d"]
        shutil.rmtree(spec_dir)
        assert registry.list_devices() == []
        spec_dir.mkdir()
        rename_into_place(spec_dir / "b.yaml", spec_text("vendor-b.com"))
        assert registry.list_devices() == ["vendor-b.com/device=d"]
        assert registry.dir_errors() == {}
        rename_into_place(spec_dir / "c.yaml", spec_text("vendor-c.com"))
        assert registry.list_devices() == ["vendor-b.com/device=d", "vendor-c.com/device=d"]


def test_write_spec_covers_its_own_change(tmp_path: Path, scans: ScanCounter) -> None:
    spec = cdi.parse_spec(spec_text("vendor.com"))
    with cdi.Registry([tmp_path], auto_refresh=True, debounce=QUIET) as registry:
        registry.write_spec(spec, "a.yaml")
        after_write = scans.count
        assert registry.list_devices() == ["vendor.com/device=d"]
        assert scans.count == after_write, "the write's own refresh already covered it"
        registry.remove_spec("a.yaml")
        after_remove = scans.count
        assert registry.list_devices() == []
        assert scans.count == after_remove


# -- the registry's side of the protocol, with a fake watcher -------------------------------


class FakeWatcher:
    """Counts changes only when told to, so every interleaving can be written down."""

    made: ClassVar[list[FakeWatcher]] = []

    def __init__(self, dirs: Any, on_change: Callable[[], None], **options: Any) -> None:
        self.on_change = on_change
        self.generation = 0
        self.unwatchable = False
        self.alive = True
        FakeWatcher.made.append(self)

    def sync(self) -> tuple[int, bool]:
        return self.generation, self.unwatchable

    def errors(self) -> dict[str, SpecDirError]:
        return {}

    def close(self) -> None:
        self.alive = False


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeWatcher]]:
    monkeypatch.setattr(cdi.registry.watch, "Watcher", FakeWatcher)
    FakeWatcher.made = []
    yield FakeWatcher


def test_fake_counted_during_the_scan(
    tmp_path: Path, scans: ScanCounter, fake: type[FakeWatcher]
) -> None:
    with cdi.Registry([tmp_path], auto_refresh=True) as registry:
        watcher = fake.made[-1]

        def write_and_count() -> None:
            rename_into_place(tmp_path / "a.yaml", spec_text("vendor.com"))
            watcher.generation += 1

        scans.after = write_and_count
        registry.refresh()
        assert registry.list_devices() == ["vendor.com/device=d"]
        before = scans.count
        assert registry.list_devices() == ["vendor.com/device=d"]
        assert scans.count == before


def test_fake_counted_before_the_scan(
    tmp_path: Path, scans: ScanCounter, fake: type[FakeWatcher]
) -> None:
    with cdi.Registry([tmp_path], auto_refresh=True) as registry:
        watcher = fake.made[-1]
        before = scans.count
        registry.list_devices()
        assert scans.count == before, "nothing counted: no scan"
        rename_into_place(tmp_path / "a.yaml", spec_text("vendor.com"))
        watcher.generation += 1
        assert registry.list_devices() == ["vendor.com/device=d"]
        assert scans.count == before + 1
        registry.list_devices()
        assert scans.count == before + 1


def test_fake_unwatchable_directory_rescans_on_every_access(
    tmp_path: Path, scans: ScanCounter, fake: type[FakeWatcher]
) -> None:
    with cdi.Registry([tmp_path], auto_refresh=True) as registry:
        fake.made[-1].unwatchable = True
        before = scans.count
        registry.list_devices()
        registry.list_devices()
        assert scans.count == before + 2


def test_fake_a_new_watcher_is_not_judged_by_the_old_ones_count(
    tmp_path: Path,
    scans: ScanCounter,
    fake: type[FakeWatcher],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cdi.registry.core, "_WATCHER_RETRY_SECONDS", 0.0)
    with cdi.Registry([tmp_path], auto_refresh=True) as registry:
        old = fake.made[-1]
        old.generation = 5
        registry.list_devices()  # covers generation 5 of the old watcher
        old.alive = False  # its thread died
        registry.list_devices()  # a new watcher, and a scan
        new = fake.made[-1]
        assert new is not old and registry._watcher is new
        rename_into_place(tmp_path / "a.yaml", spec_text("vendor.com"))
        new.generation = 1  # below the old watcher's 5, and still a change
        assert registry.list_devices() == ["vendor.com/device=d"]


def test_fake_the_watcher_threads_callback_refreshes_only_when_needed(
    tmp_path: Path, scans: ScanCounter, fake: type[FakeWatcher]
) -> None:
    changes: list[list[str]] = []
    with cdi.Registry(
        [tmp_path], auto_refresh=True, on_change=lambda r: changes.append(r.list_devices())
    ) as registry:
        watcher = fake.made[-1]
        rename_into_place(tmp_path / "a.yaml", spec_text("vendor.com"))
        watcher.generation += 1
        assert registry.list_devices() == ["vendor.com/device=d"]  # a reader got there first
        before = scans.count
        watcher.on_change()  # the thread's callback for the same change
        assert scans.count == before
        rename_into_place(tmp_path / "b.yaml", spec_text("vendor-b.com"))
        watcher.generation += 1
        watcher.on_change()
        assert scans.count == before + 1
        assert changes[-1] == ["vendor-b.com/device=d", "vendor.com/device=d"]
