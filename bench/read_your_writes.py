"""Read-your-writes of an auto-refreshing registry, under CPU load: a stress run, not a timing.

Each round renames a new spec file into place (written to a temporary file first, as every
producer does), then asks the registry for the device it defines, at once. With
``auto_refresh=True`` that must always find it: an access after a write finished sees that
write, whatever the watcher thread is doing at that moment. A round that does not is a
**miss**; the script then waits for the device to show up and reports how long it stayed
missing (until the watcher thread's own refresh, if nothing else).

The interleavings that break this are rare (a thread switch at the wrong instruction), so
the run makes them likely: ``--load`` busy processes compete for the CPUs, ``--readers``
threads keep refreshing the same registry concurrently, the interpreter switches threads
every ``--switch`` seconds (default 10 µs instead of 5 ms), and the watcher thread is kept
busy by the temporary files' own events. Other work on the machine only helps. It also
reports how many scans a round cost, so that a fix that merely rescans more shows.

    .venv/bin/python bench/read_your_writes.py [--rounds 10000] [--load N] [--readers 1]

The exit status is 1 if any round missed, so the run can gate a change.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import cdi
import cdi.registry.scan

SPEC = (
    "cdiVersion: 0.3.0\nkind: vendor.com/device\n"
    "devices:\n- {{name: d{n}, containerEdits: {{env: [N={n}]}}}}\n"
)


def _burners(count: int) -> list[subprocess.Popen[bytes]]:
    code = "while True: pass"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGKILL)
    for process in processes:
        process.wait()


def _write(directory: Path, name: str, text: str) -> None:
    temporary = directory / f".{name}.bench.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, directory / name)


class _CountingScans:
    """Counts full scans (each refresh is one)."""

    def __init__(self) -> None:
        self.count = 0
        self._scan = cdi.registry.scan.Scanner.scan

    def install(self) -> None:
        original = self._scan

        def scan(scanner: cdi.registry.scan.Scanner, dirs: Any) -> Any:
            self.count += 1
            return original(scanner, dirs)

        cdi.registry.scan.Scanner.scan = scan  # type: ignore[method-assign]


SCANS = _CountingScans()


def run(rounds: int, readers: int, files: int) -> tuple[int, list[float]]:
    """``(misses, how long each missed device stayed missing, in seconds)``."""
    misses = 0
    stale: list[float] = []
    with tempfile.TemporaryDirectory(prefix="cdi-ryw-") as tmp:
        directory = Path(tmp)
        stop = threading.Event()
        with cdi.Registry([directory], auto_refresh=True) as registry:

            def hammer() -> None:
                while not stop.is_set():
                    registry.list_devices()

            threads = [threading.Thread(target=hammer, daemon=True) for _ in range(readers)]
            for thread in threads:
                thread.start()
            try:
                for n in range(rounds):
                    _write(directory, f"v{n % files}.yaml", SPEC.format(n=n))
                    wanted = f"vendor.com/device=d{n}"
                    if registry.get_device(wanted) is not None:
                        continue
                    misses += 1
                    started = time.monotonic()
                    while registry.get_device(wanted) is None:
                        if time.monotonic() - started > 5.0:
                            break
                        time.sleep(0.001)
                    stale.append(time.monotonic() - started)
            finally:
                stop.set()
                for thread in threads:
                    thread.join()
    return misses, stale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10_000)
    parser.add_argument("--load", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--readers", type=int, default=1)
    parser.add_argument("--files", type=int, default=4, help="spec files written in turn")
    parser.add_argument(
        "--switch",
        type=float,
        default=1e-5,
        help="thread switch interval in seconds (Python's default: 0.005); shorter means "
        "more interleavings of the threads per round",
    )
    args = parser.parse_args()
    sys.setswitchinterval(args.switch)
    SCANS.install()
    burners = _burners(args.load)
    try:
        started = time.monotonic()
        misses, stale = run(args.rounds, args.readers, args.files)
        elapsed = time.monotonic() - started
    finally:
        _stop(burners)
    print(
        f"{args.rounds} rounds in {elapsed:.1f} s, {args.load} busy processes, "
        f"{args.readers} reader threads, switch interval {args.switch:g} s, "
        f"load average {os.getloadavg()[0]:.1f}: "
        f"{misses} misses, {SCANS.count / args.rounds:.2f} scans per round"
    )
    if stale:
        print(f"  missing for: longest {max(stale) * 1e3:.1f} ms, {len(stale)} cases")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
