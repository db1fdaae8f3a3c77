"""The root of the generators' errors, so that callers can tell them from the rest."""

from __future__ import annotations

from cdi.errors import CDIError


class GenerateError(CDIError):
    """A spec could not be generated; the message is the reference tool's text for the same
    failure where it has one."""


class NoDevicesError(GenerateError):
    """The host (or the fake tree given as its root) has no device of the kind asked for:
    nothing is written."""


class DeviceNodeError(GenerateError):
    """A device node a spec needs cannot be described: missing, unreadable, or not a
    character device (never written with made-up numbers)."""
