"""Build progress: vertices (steps) with their output, shown the way BuildKit shows them.

The executor reports through a :class:`Progress`; it never prints. Three displays:

* :class:`PlainProgress` (``--progress plain``), BuildKit's plain format::

      #5 [2/2] RUN env | grep ^FOO=
      #5 0.213 FOO=injected
      #5 DONE 0.3s

* :class:`TtyProgress` (``--progress auto`` on a terminal): a live view that redraws itself,
  with the running step's latest output lines;
* :class:`Progress` itself records without showing anything (library use, tests).
"""

from __future__ import annotations

import codecs
import os
import shutil
import threading
import time
from collections.abc import Callable

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from types import TracebackType
    from typing import TextIO

#: How many output lines the failure summary and the live view show per vertex.
TAIL_LINES = 10
_LIVE_LINES = 6
#: Output lines a vertex keeps (a long compile's log would otherwise pile up in memory).
_KEEP_LINES = 200


class Vertex:
    """One step shown in the progress: a name, its output lines, and how it ended."""

    def __init__(self, progress: Progress, number: int, name: str) -> None:
        self.progress = progress
        self.number = number
        self.name = name
        self.started = progress.clock()
        self.finished: float | None = None
        self.error: str | None = None
        self.cached = False
        #: (seconds since start, line) of the output so far.
        self.logs: list[tuple[float, str]] = []
        self.statuses: list[str] = []
        self._partial = ""
        # Output arrives in arbitrary chunks: a character may be split between two.
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    # --- reporting ---------------------------------------------------------------------------

    def log(self, text: str) -> None:
        """Output of the step; may hold partial lines (completed by later calls)."""
        with self.progress.lock:
            data = self._partial + text
            *lines, self._partial = data.split("\n")
            for line in lines:
                self._emit(line.rstrip("\r"))

    def log_bytes(self, data: bytes) -> None:
        self.log(self._decoder.decode(data))

    def _emit(self, line: str) -> None:
        elapsed = self.progress.clock() - self.started
        self.logs.append((elapsed, line))
        if len(self.logs) > _KEEP_LINES:
            del self.logs[: -_KEEP_LINES // 2]
        self.progress.on_log(self, elapsed, line)

    def status(self, text: str) -> None:
        """A status line (``transferring context: 2B done``)."""
        with self.progress.lock:
            self.statuses.append(text)
            self.progress.on_status(self, text)

    def _flush(self) -> None:
        self._partial += self._decoder.decode(b"", final=True)
        if self._partial:
            line, self._partial = self._partial, ""
            self._emit(line)

    def done(self) -> None:
        with self.progress.lock:
            if self.finished is not None:
                return
            self._flush()
            self.finished = self.progress.clock()
            self.progress.on_done(self)

    def fail(self, message: str) -> None:
        with self.progress.lock:
            if self.finished is not None:
                return
            self._flush()
            self.finished = self.progress.clock()
            self.error = message
            self.progress.failed = self
            self.progress.on_done(self)

    def mark_cached(self) -> None:
        with self.progress.lock:
            self.cached = True
            self.done()

    @property
    def duration(self) -> float:
        end = self.finished if self.finished is not None else self.progress.clock()
        return end - self.started

    def tail(self, count: int = TAIL_LINES) -> list[tuple[float, str]]:
        return self.logs[-count:]

    # --- context manager: done on success, failed with the exception's text otherwise ---------

    def __enter__(self) -> Vertex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            self.done()
        else:
            self.fail(str(exc) or type(exc).__name__)


class Progress:
    """Records vertices; subclasses show them. Thread-safe (step output arrives on threads)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.vertices: list[Vertex] = []
        self.warnings: list[str] = []
        self.failed: Vertex | None = None
        self.started = clock()

    def vertex(self, name: str) -> Vertex:
        """Start a new vertex called *name*."""
        with self.lock:
            vertex = Vertex(self, len(self.vertices) + 1, name)
            self.vertices.append(vertex)
            self.on_start(vertex)
            return vertex

    def warn(self, message: str) -> None:
        with self.lock:
            self.warnings.append(message)
            self.on_warning(message)

    def close(self) -> None:
        """The build is over (whatever the outcome)."""

    # Display hooks, called with the lock held.
    def on_start(self, vertex: Vertex) -> None: ...

    def on_log(self, vertex: Vertex, elapsed: float, line: str) -> None: ...

    def on_status(self, vertex: Vertex, text: str) -> None: ...

    def on_done(self, vertex: Vertex) -> None: ...

    def on_warning(self, message: str) -> None: ...


class PlainProgress(Progress):
    """BuildKit's ``--progress plain`` output on *stream*."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self.stream = stream
        self._current: Vertex | None = None

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def _header(self, vertex: Vertex) -> None:
        # Output of a vertex other than the last one shown is introduced again, as BuildKit does.
        if self._current is not vertex:
            self._current = vertex
            self._write(f"#{vertex.number} {vertex.name}\n")

    def on_start(self, vertex: Vertex) -> None:
        self._current = None
        self._header(vertex)

    def on_log(self, vertex: Vertex, elapsed: float, line: str) -> None:
        self._header(vertex)
        self._write(f"#{vertex.number} {elapsed:.3f} {line}\n")

    def on_status(self, vertex: Vertex, text: str) -> None:
        self._header(vertex)
        self._write(f"#{vertex.number} {text}\n")

    def on_done(self, vertex: Vertex) -> None:
        self._header(vertex)
        if vertex.error is not None:
            self._write(f"#{vertex.number} ERROR: {vertex.error}\n\n")
        elif vertex.cached:
            self._write(f"#{vertex.number} CACHED\n\n")
        else:
            self._write(f"#{vertex.number} DONE {vertex.duration:.1f}s\n\n")
        self._current = None

    def on_warning(self, message: str) -> None:
        self._write(f"WARNING: {message}\n")
        self._current = None


class TtyProgress(Progress):
    """A live progress view for a terminal, redrawn in place (``--progress auto``/``tty``)."""

    def __init__(
        self,
        stream: TextIO,
        clock: Callable[[], float] = time.monotonic,
        *,
        interval: float = 0.1,
        width: int | None = None,
    ) -> None:
        super().__init__(clock)
        self.stream = stream
        self.width = width
        self._drawn_lines = 0
        self._stop = threading.Event()
        self._closed = False
        self._ticker = threading.Thread(target=self._tick, args=(interval,), daemon=True)
        self._ticker.start()

    def _tick(self, interval: float) -> None:
        while not self._stop.wait(interval):
            with self.lock:
                self._redraw()

    def _columns(self) -> int:
        if self.width:
            return self.width
        try:
            return os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            return shutil.get_terminal_size((100, 24)).columns

    def render(self, *, final: bool = False) -> list[str]:
        """The lines of the view as it stands."""
        width = max(self._columns(), 40)
        total = len(self.vertices)
        finished = sum(1 for v in self.vertices if v.finished is not None)
        elapsed = self.clock() - self.started
        state = " FINISHED" if final and self.failed is None else ""
        lines = [f"[+] Building {elapsed:.1f}s ({finished}/{total}){state}"]
        for vertex in self.vertices:
            label = f" => {vertex.name}"
            if vertex.error is not None:
                label = f" => ERROR {vertex.name}"
            elif vertex.cached:
                label = f" => CACHED {vertex.name}"
            timing = f"{vertex.duration:.1f}s"
            room = width - len(timing) - 1
            if len(label) > room:
                label = label[: max(room - 3, 0)] + "..."
            lines.append(label.ljust(room) + " " + timing)
            if vertex.finished is None:
                for text in vertex.statuses[-1:]:
                    lines.append(f" => => {text}"[:width])
                for _, line in vertex.logs[-_LIVE_LINES:]:
                    lines.append(f" => => # {line}"[:width])
        return lines

    def _redraw(self, *, final: bool = False) -> None:
        if self._closed:
            return
        lines = self.render(final=final)
        out = []
        if self._drawn_lines:
            out.append(f"\x1b[{self._drawn_lines}A\r")
        out.append("\x1b[J")
        out.append("\n".join(lines) + "\n")
        self.stream.write("".join(out))
        self.stream.flush()
        self._drawn_lines = len(lines)

    def on_start(self, vertex: Vertex) -> None:
        self._redraw()

    def on_done(self, vertex: Vertex) -> None:
        self._redraw()

    def on_warning(self, message: str) -> None:
        # Printed above the view, which is redrawn below it.
        if self._drawn_lines:
            self.stream.write(f"\x1b[{self._drawn_lines}A\r\x1b[J")
            self._drawn_lines = 0
        self.stream.write(f"WARNING: {message}\n")
        self._redraw()

    def close(self) -> None:
        self._stop.set()
        self._ticker.join()
        with self.lock:
            self._redraw(final=True)
            self._closed = True


def format_source_excerpt(
    filename: str, lines: list[str], start: int, end: int | None = None
) -> str:
    """The Dockerfile excerpt BuildKit prints under an error about lines *start*..*end*."""
    end = start if end is None else end
    if start < 1 or start > len(lines):
        return ""
    end = min(end, len(lines))
    first, last = start, end
    pad = 4 if start == end else 2
    padded = 0
    while padded < pad:
        moved = False
        if first > 1:
            first -= 1
            padded += 1
            moved = True
        if last < len(lines):
            last += 1
            padded += 1
            moved = True
        if not moved:
            break
    out = [f"{filename}:{start}", "-" * 20]
    for number in range(first, last + 1):
        marker = ">>>" if start <= number <= end else "   "
        out.append(f" {number:3d} | {marker} {lines[number - 1]}")
    out.append("-" * 20)
    return "\n".join(out) + "\n"


def format_failure(vertex: Vertex) -> str:
    """The block BuildKit prints for the step that failed, with its last output lines."""
    out = ["------", f" > {vertex.name}:"]
    for elapsed, line in vertex.tail():
        out.append(f"{elapsed:.3f} {line}")
    out.append("------")
    return "\n".join(out) + "\n"
