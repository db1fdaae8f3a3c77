"""Cache keys: a digest of what a step's result depends on, chained to its parent's key.

A key is the SHA-256 of the format version, the parent's key and the step's *material* -- a
plain-data description of the step as it will run (the instruction after expansion, its
environment, the digests of its inputs, the devices and their edits) -- written as compact
JSON. Two steps with equal keys produce equal results, so one can stand in for the other.
"""

from __future__ import annotations

from cdi.jsonout import dumps_compact

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import Any

#: Changes whenever what goes into a key changes, so that old entries are never taken.
KEY_FORMAT = "cdi-build-cache/1"


def new_hash() -> Any:
    """A SHA-256 hasher; the built-in module when there is one (``hashlib`` loads OpenSSL,
    about 3 ms of a build that is otherwise all cache hits)."""
    for name in ("_sha256", "_sha2"):  # Python 3.11, 3.12 on
        try:
            return __import__(name).sha256()
        except ImportError:
            continue
    import hashlib

    return hashlib.sha256()


def cache_key(parent: str, material: Any) -> str:
    """The key of a step with *material* (plain data) on top of the entry keyed *parent*."""
    hasher = new_hash()
    hasher.update(f"{KEY_FORMAT}\n{parent}\n".encode())
    hasher.update(dumps_compact(material).encode("utf-8", "surrogateescape"))
    return str(hasher.hexdigest())
