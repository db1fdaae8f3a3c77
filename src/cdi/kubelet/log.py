"""Structured logs of the node agent: one line per event on stderr, JSON or text.

JSON lines (``{"time": ..., "level": "info", "msg": "registered", "resource": ...}``) are what
log collectors in a cluster read; text (``time=... level=info msg=registered resource=...``,
logfmt) is for people. The time is RFC 3339 in UTC with milliseconds.
"""

from __future__ import annotations

import sys
import threading
import time

from cdi.jsonout import dumps_compact

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import Any, TextIO

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("json", "text")


class AgentLog:
    """Writes events at *level* and above to *stream* in *fmt*; thread-safe (gRPC handlers
    log from their own threads)."""

    def __init__(
        self, *, fmt: str = "json", level: str = "info", stream: TextIO | None = None
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        if level not in LEVELS:
            raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}")
        self.fmt = fmt
        self.threshold = LEVELS.index(level)
        self.stream = stream if stream is not None else sys.stderr
        self._lock = threading.Lock()

    def debug(self, msg: str, **fields: Any) -> None:
        self.log("debug", msg, **fields)

    def info(self, msg: str, **fields: Any) -> None:
        self.log("info", msg, **fields)

    def warning(self, msg: str, **fields: Any) -> None:
        self.log("warning", msg, **fields)

    def error(self, msg: str, **fields: Any) -> None:
        self.log("error", msg, **fields)

    def log(self, level: str, msg: str, **fields: Any) -> None:
        if LEVELS.index(level) < self.threshold:
            return
        record: dict[str, Any] = {"time": _now(), "level": level, "msg": msg, **fields}
        line = dumps_compact(record) if self.fmt == "json" else _logfmt(record)
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()


def _now() -> str:
    seconds = time.time()
    whole = int(seconds)
    millis = int((seconds - whole) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


def _logfmt(record: dict[str, Any]) -> str:
    parts = []
    for key, value in record.items():
        text = value if isinstance(value, str) else dumps_compact(value)
        if not text or any(char in text for char in ' "=\\') or not text.isprintable():
            text = dumps_compact(text)
        parts.append(f"{key}={text}")
    return " ".join(parts)
