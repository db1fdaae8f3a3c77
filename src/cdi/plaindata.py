"""JSON-shaped data (OCI runtime specs): copying and measuring without recursion.

OCI specs reach us from users and engines as nested ``dict``/``list`` values of any depth.
A recursive walk over such a value raises ``RecursionError`` at a few hundred levels, an
exception no caller expects; these walks keep their own stack instead.
"""

from __future__ import annotations

# collections.abc without the collections package, which a start path need not import.
from _collections_abc import Mapping

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import Any

#: How deeply an OCI spec read from a file may nest. Real specs need about eight levels; the
#: limit keeps every later step (copying, JSON/YAML output) far from Python's recursion limit.
MAX_DEPTH = 100


def copy_plain(value: Any) -> Any:
    """A deep copy of *value*: mappings become ``dict``, lists are copied, the rest is shared.

    Scalars in JSON-shaped data are immutable, so only containers need copying (much faster
    than :func:`copy.deepcopy`, which also tracks every object it has seen).
    """
    root = _shallow(value)
    pending = [root] if root is not value else []
    while pending:
        container = pending.pop()
        if type(container) is dict:
            for key, item in container.items():
                copied = _shallow(item)
                if copied is not item:
                    container[key] = copied
                    pending.append(copied)
        else:
            for index, item in enumerate(container):
                copied = _shallow(item)
                if copied is not item:
                    container[index] = copied
                    pending.append(copied)
    return root


def _shallow(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    return value


def nesting_depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How many containers deep *value* nests (a scalar is 0); stops counting past *limit*."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        pending.extend((child, depth + 1) for child in children)
    return deepest
