"""The plain-value type of a decoded mapping, apart from the YAML reader that makes most of
them: the JSON path, the decoder and the start path use it without importing PyYAML."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import Any


class Pairs(list[tuple[str, "Any"]]):
    """A decoded mapping: its ``(key, value)`` pairs in document order, duplicates kept."""
