"""The root of the hook subcommands' errors."""

from __future__ import annotations

from cdi.errors import CDIError


class HookError(CDIError):
    """A hook could not do its work; ``cdi-hook`` prints the message and exits 1."""
