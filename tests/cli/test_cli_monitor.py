"""``cdi monitor``: a real process watching a spec directory, stopped with SIGINT."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clitools import VENDOR1, Invoke, spec

DEADLINE = 10.0
CDI = [sys.executable, "-c", "import sys; from cdi.cli.main import main; sys.exit(main())"]


class Monitor:
    """``cdi monitor`` in a subprocess, its stdout read line by line in the background."""

    def __init__(self, *args: str) -> None:
        env = {key: value for key, value in os.environ.items() if key != "CDI_SPEC_DIRS"}
        self.process = subprocess.Popen(
            [*CDI, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, *expected: str) -> None:
        """The next lines are exactly *expected* (waiting for them as long as needed)."""
        got = []
        deadline = time.monotonic() + DEADLINE
        while len(got) < len(expected):
            try:
                got.append(self.lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        assert got == list(expected)

    def next_json(self) -> object:
        return json.loads(self.lines.get(timeout=DEADLINE))

    def stop(self, sig: int = signal.SIGINT) -> tuple[int, str]:
        self.process.send_signal(sig)
        _, stderr = self.process.communicate(timeout=DEADLINE)
        return self.process.returncode, stderr

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def write(directory: Path, name: str, text: str) -> None:
    """Write a spec file atomically, as producers do (no half-written file is ever seen)."""
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f".{name}.tmp"
    temporary.write_text(text, encoding="utf-8")
    temporary.rename(directory / name)


@pytest.fixture
def monitors() -> Iterator[list[Monitor]]:
    started: list[Monitor] = []
    yield started
    for monitor in started:
        monitor.kill()


def test_prints_again_after_each_change(monitors: list[Monitor], tmp_path: Path) -> None:
    monitor = Monitor("--spec-dir", str(tmp_path), "monitor", "devices")
    monitors.append(monitor)
    monitor.expect("No CDI devices found.")
    write(tmp_path, "vendor1.yaml", VENDOR1)
    monitor.expect("", "CDI devices found:", "  0. vendor1.com/device=foo")
    write(tmp_path, "vendor2.yaml", spec("vendor2.com/gpu", "gpu0"))
    monitor.expect(
        "", "CDI devices found:", "  0. vendor1.com/device=foo", "  1. vendor2.com/gpu=gpu0"
    )
    (tmp_path / "vendor1.yaml").unlink()
    monitor.expect("", "CDI devices found:", "  0. vendor2.com/gpu=gpu0")
    status, stderr = monitor.stop()
    assert (status, stderr) == (0, "")
    assert monitor.lines.empty()


def test_a_change_that_leaves_the_view_alone_prints_nothing(
    monitors: list[Monitor], tmp_path: Path
) -> None:
    write(tmp_path, "vendor1.yaml", VENDOR1)
    monitor = Monitor("--spec-dir", str(tmp_path), "monitor", "vendors")
    monitors.append(monitor)
    monitor.expect("CDI vendors found:", '  0. "vendor1.com" (1 CDI Spec Files)')
    write(tmp_path, "vendor1.yaml", VENDOR1.replace("injected", "changed"))  # same vendors
    write(tmp_path, "vendor2.yaml", spec("vendor2.com/gpu", "gpu0"))
    monitor.expect(
        "",
        "CDI vendors found:",
        '  0. "vendor1.com" (1 CDI Spec Files)',
        '  1. "vendor2.com" (1 CDI Spec Files)',
    )
    assert monitor.stop() == (0, "")
    assert monitor.lines.empty()


def test_json_lines_with_singular_aspects(monitors: list[Monitor], tmp_path: Path) -> None:
    monitor = Monitor("--spec-dir", str(tmp_path), "-o", "json", "monitor", "vendor", "class")
    monitors.append(monitor)
    assert monitor.next_json() == {"vendors": [], "classes": []}
    write(tmp_path, "vendor1.yaml", VENDOR1)
    assert monitor.next_json() == {
        "vendors": [{"name": "vendor1.com", "specs": [f"{tmp_path}/vendor1.yaml"]}],
        "classes": [{"name": "device", "vendors": ["vendor1.com"]}],
    }
    assert monitor.stop(signal.SIGTERM) == (0, "")


def test_all_views_and_a_directory_created_later(monitors: list[Monitor], tmp_path: Path) -> None:
    later = tmp_path / "later"
    monitor = Monitor("--spec-dir", str(later), "monitor")
    monitors.append(monitor)
    monitor.expect(
        "No CDI vendors found.",
        "No CDI device classes found.",
        "No CDI devices found.",
        "No CDI Specs found.",
        f"  {later} has 1 errors:",
        "    0. failed to monitor for changes: no such file or directory",
    )
    later.mkdir()  # watched now: the error goes
    monitor.expect(
        "",
        "No CDI vendors found.",
        "No CDI device classes found.",
        "No CDI devices found.",
        "No CDI Specs found.",
    )
    write(later, "vendor1.yaml", VENDOR1)
    monitor.expect(
        "",
        "CDI vendors found:",
        '  0. "vendor1.com" (1 CDI Spec Files)',
        "CDI device classes found:",
        "  0. device (1 vendors: vendor1.com)",
        "CDI devices found:",
        "  0. vendor1.com/device=foo",
        "CDI Specs found:",
        "Vendor vendor1.com:",
        f"  Spec File {later}/vendor1.yaml",
    )
    assert monitor.stop() == (0, "")


def test_unknown_aspect_is_a_usage_error(cdi: Invoke, tmp_path: Path) -> None:
    result = cdi("--spec-dir", str(tmp_path), "monitor", "gpus")
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "Error: Invalid value for '[ASPECT]...': 'gpus' is not one of vendors, classes, "
        "devices, specs, dirs, all (or a singular form)\n"
    )
