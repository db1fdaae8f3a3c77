"""A logger that imports :mod:`logging` only when there is something to say.

Importing ``logging`` costs a new process about 5 ms (it loads ``threading``, ``traceback``
and more). Start paths -- a container start through runc, a build -- log only on problems:
their modules hold a :class:`LazyLogger`. A debug or info record is skipped while
``logging`` has never been imported: then no handler and no level are configured, and
Python's last-resort handler would drop it anyway. Warnings and errors import it.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    import logging

__all__ = ["LazyLogger"]


class LazyLogger:
    """``logging.getLogger(name)``'s methods, for code on a start path."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def logger(self) -> logging.Logger:
        import logging

        return logging.getLogger(self._name)

    def debug(self, message: str, *args: object) -> None:
        if "logging" in sys.modules:
            self.logger().debug(message, *args)

    def info(self, message: str, *args: object) -> None:
        if "logging" in sys.modules:
            self.logger().info(message, *args)

    def warning(self, message: str, *args: object) -> None:
        self.logger().warning(message, *args)

    def error(self, message: str, *args: object) -> None:
        self.logger().error(message, *args)

    def exception(self, message: str, *args: object) -> None:
        self.logger().exception(message, *args)
