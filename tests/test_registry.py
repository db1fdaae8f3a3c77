"""Registry behaviour that tables cannot show: incrementality, the watcher thread, threads,
lifecycle and the API surface. Behaviour rows live in tests/vectors/registry/."""

from __future__ import annotations

import errno
import gc
import os
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import cdi
import cdi.registry.core
import cdi.registry.scan
import cdi.registry.watch
import cdi.spec.load
from cdi.registry.dirs import DEFAULT_SPEC_DIRS

DEADLINE = 5.0


def spec_text(vendor: str, devices: dict[str, str], version: str = "0.3.0") -> str:
    lines = [f"cdiVersion: {version}", f"kind: {vendor}/device", "devices:"]
    for name, value in devices.items():
        lines.append(f"- {{name: {name}, containerEdits: {{env: [{value}]}}}}")
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def settle() -> None:
    """Wait until files written so far are old enough for their timestamps to be trusted."""
    time.sleep(cdi.registry.scan.RACY_WINDOW_NS / 1e9 + 0.02)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


class Counter:
    """Wraps a function and counts its calls."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.function(*args, **kwargs)


@pytest.fixture(autouse=True)
def _no_env_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDI_SPEC_DIRS", raising=False)


# -- directories ---------------------------------------------------------------------------


def test_default_and_cleaned_directories(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cdi.Registry().spec_dirs() == list(DEFAULT_SPEC_DIRS) == ["/etc/cdi", "/var/run/cdi"]
    assert cdi.Registry([]).spec_dirs() == ["/etc/cdi", "/var/run/cdi"]
    assert cdi.Registry("/x//y/").spec_dirs() == ["/x/y"]
    assert cdi.Registry(["a//b/../c/", Path("/d/./e")]).spec_dirs() == ["a/c", "/d/e"]
    monkeypatch.setenv("CDI_SPEC_DIRS", "/one/:/two")
    assert cdi.Registry().spec_dirs() == ["/one", "/two"]
    monkeypatch.setenv("CDI_SPEC_DIRS", "")
    assert cdi.Registry().spec_dirs() == ["/etc/cdi", "/var/run/cdi"]


def test_auto_refresh_is_off_by_default(tmp_path: Path) -> None:
    registry = cdi.Registry([tmp_path])
    assert registry.auto_refresh is False
    assert registry._watcher is None
    write(tmp_path / "a.yaml", spec_text("vendor.com", {"d": "A=1"}))
    assert registry.list_devices() == []  # nothing watches, nothing refreshes on access


# -- incremental refresh -------------------------------------------------------------------


def test_refresh_parses_only_what_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parse = Counter(cdi.spec.load.parse_spec)
    read = Counter(cdi.spec.load.read_spec_bytes)
    monkeypatch.setattr(cdi.spec.load, "parse_spec", parse)
    monkeypatch.setattr(cdi.spec.load, "read_spec_bytes", read)
    # Trust every timestamp at once (the racy window has a test of its own).
    monkeypatch.setattr(cdi.registry.scan, "RACY_WINDOW_NS", 0)
    monkeypatch.setattr(cdi.registry.scan, "RACY_WINDOW_COARSE_NS", 0)
    for index in range(20):
        write(tmp_path / f"v{index:02}.yaml", spec_text(f"vendor{index}.com", {"d": "A=1"}))
    registry = cdi.Registry([tmp_path])
    assert (parse.calls, read.calls) == (20, 20)
    assert len(registry.list_devices()) == 20

    registry.refresh()
    assert (parse.calls, read.calls) == (20, 20), "nothing changed: nothing read"

    write(tmp_path / "v03.yaml", spec_text("vendor3.com", {"d": "A=2", "e": "B=1"}))
    registry.refresh()
    assert (parse.calls, read.calls) == (21, 21)
    assert "vendor3.com/device=e" in registry.list_devices()
    registry.refresh()
    assert (parse.calls, read.calls) == (21, 21)

    (tmp_path / "v05.yaml").unlink()
    registry.refresh()
    assert (parse.calls, read.calls) == (21, 21)
    assert "vendor5.com/device=d" not in registry.list_devices()
    assert len(registry.list_devices()) == 20

    # New timestamps, same bytes (touch): read again, not parsed again.
    then = time.time() - 30
    os.utime(tmp_path / "v07.yaml", (then, then))
    registry.refresh()
    assert (parse.calls, read.calls) == (21, 22)
    registry.refresh()
    assert (parse.calls, read.calls) == (21, 22)


@pytest.mark.parametrize("racy", [True, False])
def test_racy_files_are_read_until_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, racy: bool
) -> None:
    """A rewrite that leaves the key unchanged is still seen while the file is "racy".

    Timestamps are left out of the key here, to stand for a second write within the same
    timestamp tick; with no racy window such a change goes unseen."""
    read = Counter(cdi.spec.load.read_spec_bytes)
    monkeypatch.setattr(cdi.spec.load, "read_spec_bytes", read)
    stamp = time.time_ns()  # every write "within the same tick", just before the first scan
    monkeypatch.setattr(
        cdi.registry.scan,
        "_file_key",
        lambda info: (info.st_ino, info.st_dev, info.st_size, stamp, stamp),
    )
    window = 3600 * 10**9 if racy else 0
    monkeypatch.setattr(cdi.registry.scan, "RACY_WINDOW_NS", window)
    monkeypatch.setattr(cdi.registry.scan, "RACY_WINDOW_COARSE_NS", window)
    path = tmp_path / "a.yaml"
    write(path, spec_text("vendor.com", {"d": "V=1"}))
    registry = cdi.Registry([tmp_path])
    assert registry.resolve_edits(["vendor.com/device=d"]).env == ("V=1",)
    with path.open("r+") as handle:  # same inode, same size
        handle.write(spec_text("vendor.com", {"d": "V=2"}))
    registry.refresh()
    env = registry.resolve_edits(["vendor.com/device=d"]).env
    assert env == (("V=2",) if racy else ("V=1",))
    assert read.calls == (2 if racy else 1)


def test_a_file_gone_before_it_is_read_is_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "a.yaml", spec_text("vendor.com", {"d": "A=1"}))
    listed = cdi.registry.scan._spec_names
    # As if b.yaml was listed and then removed by its producer before it could be read.
    monkeypatch.setattr(cdi.registry.scan, "_spec_names", lambda fd: [*listed(fd), "b.yaml"])
    registry = cdi.Registry([tmp_path])
    assert registry.list_devices() == ["vendor.com/device=d"]
    assert registry.errors() == {}


def test_manual_refresh_rescans_also_with_a_watcher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scans: list[int] = []
    original = cdi.registry.scan.Scanner.scan

    def counting(self: cdi.registry.scan.Scanner, dirs: Any) -> Any:
        scans.append(1)
        return original(self, dirs)

    monkeypatch.setattr(cdi.registry.scan.Scanner, "scan", counting)
    with cdi.Registry([tmp_path], auto_refresh=True) as registry:
        before = len(scans)
        registry.refresh()
        assert len(scans) == before + 1


def test_unchanged_refresh_keeps_the_same_snapshot(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", spec_text("vendor.com", {"d": "A=1"}))
    settle()
    registry = cdi.Registry([tmp_path])
    registry.refresh()  # the last look at a file written just before
    device = registry.get_device("vendor.com/device=d")
    registry.refresh()
    assert registry.get_device("vendor.com/device=d") is device


def test_on_change_only_for_changes(tmp_path: Path) -> None:
    calls: list[list[str]] = []
    write(tmp_path / "a.yaml", spec_text("vendor.com", {"d": "A=1"}))
    registry = cdi.Registry([tmp_path], on_change=lambda r: calls.append(r.list_devices()))
    assert calls == []  # the first scan is not a change
    registry.refresh()
    assert calls == []
    write(tmp_path / "b.yaml", spec_text("vendor.com", {"e": "A=1"}))
    registry.refresh()
    assert calls == [["vendor.com/device=d", "vendor.com/device=e"]]


# -- the watcher -------------------------------------------------------------------------------


def test_watcher_refreshes_without_any_access(tmp_path: Path) -> None:
    seen: list[list[str]] = []
    changed = threading.Event()

    def on_change(registry: cdi.Registry) -> None:
        seen.append(registry.list_devices())
        changed.set()

    with cdi.Registry([tmp_path], auto_refresh=True, on_change=on_change) as registry:
        assert registry.auto_refresh
        write(tmp_path / "a.yaml", spec_text("vendor.com", {"d": "A=1"}))
        assert changed.wait(DEADLINE), "the watcher thread never refreshed"
        assert threading.current_thread() is threading.main_thread()
        assert seen[-1] == ["vendor.com/device=d"]


def test_reads_never_lag_behind_finished_writes(tmp_path: Path) -> None:
    # A long debounce keeps the watcher thread from refreshing; accesses must not wait for it.
    with cdi.Registry([tmp_path], auto_refresh=True, debounce=5.0) as registry:
        for index in range(5):
            write(tmp_path / f"v{index}.yaml", spec_text(f"vendor{index}.com", {"d": "A=1"}))
            assert f"vendor{index}.com/device=d" in registry.list_devices()
        (tmp_path / "v0.yaml").unlink()
        assert "vendor0.com/device=d" not in registry.list_devices()


def test_watcher_notices_a_directory_that_appears(tmp_path: Path) -> None:
    changed = threading.Event()
    spec_dir = tmp_path / "later"
    with cdi.Registry([spec_dir], auto_refresh=True, on_change=lambda r: changed.set()) as registry:
        assert set(registry.dir_errors()) == {str(spec_dir)}
        write(spec_dir / "a.yaml", spec_text("vendor.com", {"d": "A=1"}))
        # No access to the registry: the watcher thread finds the directory by itself.
        assert changed.wait(DEADLINE), "the new directory was not noticed"
        assert registry.dir_errors() == {}


def test_watcher_debounces_bursts(tmp_path: Path) -> None:
    calls: list[float] = []
    with cdi.Registry(
        [tmp_path], auto_refresh=True, on_change=lambda r: calls.append(1), debounce=0.2
    ):
        for index in range(50):
            write(tmp_path / f"v{index}.yaml", spec_text(f"vendor{index}.com", {"d": "A=1"}))
        wait_for(lambda: len(calls) >= 1, "a refresh")
        time.sleep(0.5)
    assert 1 <= len(calls) <= 5, f"{len(calls)} refreshes for one burst of 50 files"


def test_watcher_ignores_other_files(tmp_path: Path) -> None:
    calls: list[int] = []
    with cdi.Registry([tmp_path], auto_refresh=True, on_change=lambda r: calls.append(1)):
        (tmp_path / "notes.txt").write_text("x")
        (tmp_path / "spec.1.tmp").write_text("x")
        write(tmp_path / "a.yaml", spec_text("vendor.com", {"d": "A=1"}))
        wait_for(lambda: len(calls) == 1, "one refresh")
        time.sleep(0.2)
    assert len(calls) == 1


def test_watcher_creation_failure_degrades_to_refresh_on_access(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_inotify(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(cdi.registry.watch, "INotify", no_inotify)
    (tmp_path / "etc").mkdir()
    (tmp_path / "run").mkdir()
    registry = cdi.Registry([tmp_path / "etc", tmp_path / "run"], auto_refresh=True)
    try:
        failure = "failed to create watcher: too many open files"
        assert {path: str(err) for path, err in registry.dir_errors().items()} == {
            str(tmp_path / "etc"): failure,
            str(tmp_path / "run"): failure,
        }
        write(tmp_path / "run" / "a.yaml", spec_text("vendor.com", {"d": "A=1"}))
        # No refresh() call: every access rescans while there is no watcher.
        assert registry.list_devices() == ["vendor.com/device=d"]
        monkeypatch.undo()
        monkeypatch.setattr(cdi.registry.core, "_WATCHER_RETRY_SECONDS", 0.0)
        monkeypatch.delenv("CDI_SPEC_DIRS", raising=False)
        registry.list_devices()  # recovers: a watcher now exists
        assert registry.dir_errors() == {}
        assert registry._watcher is not None and registry._watcher.alive
    finally:
        registry.close()


def test_a_dead_watcher_thread_falls_back(tmp_path: Path) -> None:
    with cdi.Registry([tmp_path], auto_refresh=True) as registry:
        watcher = registry._watcher
        assert watcher is not None
        watcher.close()  # as if its thread had died
        write(tmp_path / "a.yaml", spec_text("vendor.com", {"d": "A=1"}))
        assert registry.list_devices() == ["vendor.com/device=d"]


def test_close_stops_the_thread(tmp_path: Path) -> None:
    registry = cdi.Registry([tmp_path], auto_refresh=True)
    watcher = registry._watcher
    assert watcher is not None and watcher._thread.is_alive()
    registry.close()
    registry.close()  # idempotent
    assert not watcher._thread.is_alive()
    # Still usable, refreshed by hand.
    write(tmp_path / "a.yaml", spec_text("vendor.com", {"d": "A=1"}))
    assert registry.list_devices() == []
    registry.refresh()
    assert registry.list_devices() == ["vendor.com/device=d"]


def test_a_forgotten_registry_stops_its_watcher(tmp_path: Path) -> None:
    registry = cdi.Registry([tmp_path], auto_refresh=True)
    watcher = registry._watcher
    assert watcher is not None
    thread = watcher._thread
    ref = weakref.ref(registry)
    del registry
    gc.collect()
    assert ref() is None
    thread.join(DEADLINE)
    assert not thread.is_alive()


# -- threads -------------------------------------------------------------------------------------


def test_concurrent_injection_refresh_and_writes(tmp_path: Path) -> None:
    """Injections always see one whole version of a spec that is being replaced over and
    over, while other threads refresh and write specs (reference TestFuzzSelfRefreshCache,
    TestCacheConcurrentConfigure, TestCDIInjectionRace)."""
    variants = [
        cdi.parse_spec(spec_text("vendor.com", {"dev": f"V={index}", "other": f"W={index}"}))
        for index in range(3)
    ]
    expected = [[f"V={index}", f"W={index}"] for index in range(3)]
    registry = cdi.Registry([tmp_path / "etc", tmp_path / "run"], auto_refresh=True)
    registry.write_spec(variants[0], "vendor.yaml")
    stop = threading.Event()
    failures: list[BaseException] = []
    results: list[list[str]] = []

    def guarded(body: Callable[[int], None]) -> Callable[[], None]:
        def run() -> None:
            index = 0
            try:
                while not stop.is_set():
                    body(index)
                    index += 1
            except BaseException as err:
                failures.append(err)
                stop.set()

        return run

    def inject(index: int) -> None:
        oci = registry.inject({}, ["vendor.com/device=dev", "vendor.com/device=other"])
        env = oci["process"]["env"]
        results.append(env)
        assert env in expected, env

    def update(index: int) -> None:
        registry.write_spec(variants[index % 3], "vendor.yaml")

    def churn(index: int) -> None:
        extra = cdi.parse_spec(spec_text(f"churn{index % 5}.com", {"d": "A=1"}))
        registry.write_spec(extra, f"churn{index % 5}")
        registry.refresh()
        registry.remove_spec(f"churn{index % 5}")

    threads = [threading.Thread(target=guarded(f)) for f in (inject, inject, update, churn)]
    for thread in threads:
        thread.start()
    time.sleep(2.0)
    stop.set()
    for thread in threads:
        thread.join(DEADLINE)
    registry.close()
    assert not failures, failures[0]
    assert len(results) > 100
    assert {tuple(env) for env in results} > {tuple(expected[0])}


# -- injection through the registry ----------------------------------------------------------


def test_registered_device_and_spec_file(tmp_path: Path) -> None:
    write(tmp_path / "run" / "a.yaml", spec_text("vendor.com", {"d": "A=1"}))
    registry = cdi.Registry([tmp_path / "etc", tmp_path / "run"])
    found = registry.get_device("vendor.com/device=d")
    assert found is not None
    assert found.name == "vendor.com/device=d"
    assert found.device.name == "d"
    assert found.spec.path == str(tmp_path / "run" / "a.yaml")
    assert (found.spec.priority, found.priority) == (1, 1)
    assert found.spec.spec.kind == "vendor.com/device"
    assert (found.spec.vendor, found.spec.device_class) == ("vendor.com", "device")
    assert registry.get_device("vendor.com/device=nope") is None
    assert registry.vendor_specs("vendor.com") == [found.spec]
    assert registry.specs() == [found.spec]


def test_resolve_edits_without_an_oci_spec(tmp_path: Path) -> None:
    write(
        tmp_path / "a.yaml",
        "cdiVersion: 0.3.0\nkind: vendor.com/device\ncontainerEdits: {env: [S=1]}\n"
        "devices: [{name: d, containerEdits: {env: [D=1]}}, {name: e, containerEdits:"
        " {env: [E=1]}}]\n",
    )
    registry = cdi.Registry([tmp_path])
    edits = registry.resolve_edits(["vendor.com/device=e", "vendor.com/device=d"])
    assert edits == cdi.ContainerEdits(env=("S=1", "E=1", "D=1"))
    assert registry.resolve_edits("vendor.com/device=d").env == ("S=1", "D=1")
    assert registry.resolve_edits([]) == cdi.ContainerEdits()
    with pytest.raises(cdi.UnresolvableDevicesError) as caught:
        registry.resolve_edits(["x.com/y=z", "vendor.com/device=d", "a.com/b=c"])
    assert str(caught.value) == "unresolvable CDI devices x.com/y=z, a.com/b=c"
    assert caught.value.devices == ["x.com/y=z", "a.com/b=c"]


def test_injected_spec_shares_nothing_with_the_input(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", spec_text("vendor.com", {"d": "A=1"}))
    registry = cdi.Registry([tmp_path])
    oci: dict[str, Any] = {"process": {"env": ["X=1"], "args": ["sh"]}, "mounts": [{"a": [1]}]}
    result = registry.inject(oci, ["vendor.com/device=d"])
    result["process"]["args"].append("changed")
    result["mounts"][0]["a"].append(2)
    assert oci == {"process": {"env": ["X=1"], "args": ["sh"]}, "mounts": [{"a": [1]}]}


def test_errors_are_copies(tmp_path: Path) -> None:
    write(tmp_path / "bad.yaml", "xyzzy: 1\n")
    registry = cdi.Registry([tmp_path])
    errors = registry.errors()
    errors.clear()
    assert list(registry.errors()) == [str(tmp_path / "bad.yaml")]
    (error,) = registry.errors()[str(tmp_path / "bad.yaml")]
    assert isinstance(error, cdi.SpecError)
    assert (error.path, error.line, error.column) == (str(tmp_path / "bad.yaml"), 1, 1)


def test_host_devices_are_read_with_lstat_by_default(tmp_path: Path) -> None:
    write(
        tmp_path / "a.yaml",
        "cdiVersion: 0.5.0\nkind: vendor.com/device\ndevices:\n"
        "- name: nul\n"
        "  containerEdits: {deviceNodes: [{path: /dev/cdi-null, hostPath: /dev/null}]}\n",
    )
    registry = cdi.Registry([tmp_path])
    result = registry.inject({}, ["vendor.com/device=nul"])
    info = os.lstat("/dev/null")
    assert result["linux"]["devices"] == [
        {
            "path": "/dev/cdi-null",
            "type": "c",
            "major": os.major(info.st_rdev),
            "minor": os.minor(info.st_rdev),
            "fileMode": info.st_mode & 0o7777,
        }
    ]


def test_repr(tmp_path: Path) -> None:
    registry = cdi.Registry([tmp_path])
    assert repr(registry) == f"<cdi.Registry [{str(tmp_path)!r}] manual, 0 devices>"


def test_a_failing_listener_breaks_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(registry: cdi.Registry) -> None:
        raise RuntimeError("listener bug")

    registry = cdi.Registry([tmp_path], on_change=broken)
    write(tmp_path / "a.yaml", spec_text("vendor.com", {"d": "A=1"}))
    registry.refresh()
    assert registry.list_devices() == ["vendor.com/device=d"]
    assert "on_change callback failed" in caplog.text
