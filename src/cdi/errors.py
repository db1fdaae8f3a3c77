"""The exception hierarchy: everything the library raises derives from :class:`CDIError`.

``str(error)`` is always the reference implementation's message text, so tools that grep for
the Go library's messages keep working; location and hints are separate attributes (and are
combined by :meth:`SpecError.describe`).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Sequence

FieldPath = tuple[str | int, ...]


class CDIError(Exception):
    """Root of all errors raised by this package."""


class InvalidNameError(CDIError, ValueError):
    """A vendor, class, device or qualified device name breaks the naming rules."""


class AnnotationError(CDIError, ValueError):
    """A CDI container annotation could not be built or parsed."""


class SpecError(CDIError):
    """A spec file could not be read, parsed or validated.

    ``path`` is the file (``None`` for in-memory data), ``line``/``column`` are 1-based and
    point at the offending node when the input has one, ``field_path`` names that node the way
    the JSON document does (``("devices", 0, "name")``), and ``hint`` is an optional
    suggestion such as a close match for a misspelt key.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
        field_path: FieldPath = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        self.field_path = field_path
        self.hint = hint

    def location(self) -> str:
        """``file:line:col`` with whatever parts are known (may be empty)."""
        parts = [self.path] if self.path else []
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def describe(self) -> str:
        """The message prefixed with its location and followed by the hint, for people."""
        text = self.message
        where = self.location()
        if where:
            text = f"{where}: {text}"
        if self.hint:
            text = f"{text} ({self.hint})"
        return text


class SpecWriteError(CDIError):
    """A spec file could not be written or removed."""


class UnresolvableDevicesError(CDIError):
    """Some requested device names are not known to the registry."""

    def __init__(self, devices: Sequence[str]) -> None:
        self.devices = list(devices)
        super().__init__("unresolvable CDI devices " + ", ".join(self.devices))


class TrustError(CDIError):
    """A spec file the trust policy does not trust (see :mod:`cdi.registry.trust`).

    ``path`` is the file; ``reasons`` say why, one phrase each (``owned by uid 1000, not by
    root``). ``refused`` is true for a refusal (``strict``: the file was not used) and false
    for a warning (``warn``: it was used anyway).
    """

    def __init__(
        self, message: str, path: str, reasons: Sequence[str], *, refused: bool = True
    ) -> None:
        super().__init__(message)
        self.path = path
        self.reasons = tuple(reasons)
        self.refused = refused


class TrustModeError(CDIError, ValueError):
    """A trust mode that is not one of ``off``, ``warn``, ``strict``."""
