"""The shim's log lines, in the format the engine asked the runtime for.

Engines pass ``--log FILE --log-format json|text`` and read the file back: containerd decodes
it as a stream of JSON objects and keeps the ``msg`` of the last one whose ``level`` is
``error`` (a ``time`` that is not RFC 3339 makes it give up); podman reads its ``oci-log`` as
a single JSON object. So nothing is written on success at the default level, and a failure
is one line -- in the log file(s) and, for engines that read only stderr, on stderr.
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["LEVELS", "ShimLog", "format_line"]

#: Level names, most severe first, as logrus writes them.
LEVELS = ("error", "warning", "info", "debug")


def rfc3339(now_ns: int) -> str:
    """UTC time with nanoseconds, e.g. ``2026-12-01T13:14:07.123456789Z``."""
    seconds, fraction = divmod(now_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"


def format_line(level: str, message: str, log_format: str, now_ns: int) -> str:
    """One log line (with its newline): a JSON object, or logrus's text form."""
    stamp = rfc3339(now_ns)
    if log_format == "json":
        from cdi.jsonout import dumps_compact

        return dumps_compact({"level": level, "msg": message, "time": stamp}) + "\n"
    from cdi.gotext import quote

    return f"time={quote(stamp)} level={level} msg={quote(message)}\n"


class ShimLog:
    """Writes lines at or above *level* to *files* (appending; ``""`` and ``/dev/null``
    are skipped). A file that cannot be opened is skipped too: logging never fails a
    container."""

    def __init__(self, files: Sequence[str], log_format: str, level: str) -> None:
        self._files = [path for path in files if path and path != os.devnull]
        self._format = log_format if log_format in ("json", "text") else "text"
        self._limit = LEVELS.index(level if level in LEVELS else "warning")

    def enabled(self, level: str) -> bool:
        return LEVELS.index(level) <= self._limit

    def write(self, level: str, message: str) -> None:
        if not self.enabled(level) or not self._files:
            return
        line = format_line(level, message, self._format, time.time_ns()).encode()
        for path in self._files:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError:
                continue
            try:
                os.write(fd, line)
            except OSError:
                pass
            finally:
                os.close(fd)

    def debug(self, message: str) -> None:
        self.write("debug", message)

    def info(self, message: str) -> None:
        self.write("info", message)

    def warning(self, message: str) -> None:
        self.write("warning", message)

    def error(self, message: str) -> None:
        """The final error: in the log files and always on stderr."""
        self.write("error", message)
        try:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
