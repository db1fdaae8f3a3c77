"""Go's ``path/filepath.Clean`` on POSIX paths.

Spec directories are cleaned and mounts are ordered by the depth of their cleaned
destination, exactly as the reference does; :func:`posixpath.normpath` differs from Go on one
point (it keeps a leading ``//``), so the one rule that matters is restated here.
"""

from __future__ import annotations

import posixpath

#: Cleaned paths, by path: they repeat (sort keys, lookups under one root). A plain dict,
#: not functools.lru_cache: functools loads the collections package, a cost on the start
#: path of the runtime shim.
_CLEANED: dict[str, str] = {}
_CACHE_SIZE = 4096


def clean(path: str) -> str:
    """The shortest equivalent path: ``""`` is ``"."``, ``"//a/./b/"`` is ``"/a/b"``."""
    cleaned = _CLEANED.get(path)
    if cleaned is None:
        cleaned = posixpath.normpath(path)
        if cleaned.startswith("//"):
            cleaned = "/" + cleaned.lstrip("/")
        if len(_CLEANED) >= _CACHE_SIZE:
            _CLEANED.clear()  # a bound, like lru_cache's; the paths in use come back at once
        _CLEANED[path] = cleaned
    return cleaned


def depth(path: str) -> int:
    """The number of separators in the cleaned path (``/`` is 1, ``/a/b`` is 2)."""
    return clean(path).count("/")
