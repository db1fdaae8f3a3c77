"""Package attributes imported on first use (PEP 562).

``cdi``, ``cdi.spec`` and ``cdi.registry`` export names from their modules without importing
those modules up front: a start path (the runtime shim, a hook, ``cdi devices``) that needs
one module does not pay for the others.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: dict[str, str], namespace: dict[str, Any], public: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for *package*, whose *namespace* (its ``globals()``)
    gets each name of *exports* (name -> defining module) when it is first looked up."""

    def getattr_(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        # __import__, not importlib.import_module: importlib (and warnings) would be two
        # imports more for every process that uses one name.
        __import__(module)
        value = getattr(sys.modules[module], name)
        namespace[name] = value  # later lookups skip this function
        return value

    def dir_() -> list[str]:
        return sorted({*namespace, *public})

    return getattr_, dir_
