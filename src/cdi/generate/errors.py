"""The root of the generators' errors, so that callers can tell them from the rest."""

from __future__ import annotations

from cdi.errors import CDIError


class GenerateError(CDIError):
    """A spec could not be generated; the message is the reference tool's text for the same
    failure where it has one."""
