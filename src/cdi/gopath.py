"""Go's ``path/filepath.Clean`` on POSIX paths.

Spec directories are cleaned and mounts are ordered by the depth of their cleaned
destination, exactly as the reference does; :func:`posixpath.normpath` differs from Go on one
point (it keeps a leading ``//``), so the one rule that matters is restated here.
"""

from __future__ import annotations

import functools
import posixpath


@functools.lru_cache(maxsize=4096)  # paths repeat: sort keys, lookups under one root
def clean(path: str) -> str:
    """The shortest equivalent path: ``""`` is ``"."``, ``"//a/./b/"`` is ``"/a/b"``."""
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def depth(path: str) -> int:
    """The number of separators in the cleaned path (``/`` is 1, ``/a/b`` is 2)."""
    return clean(path).count("/")
