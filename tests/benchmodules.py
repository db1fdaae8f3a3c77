"""Modules of ``bench/`` for tests, loaded from their files.

Putting ``bench/`` on ``sys.path`` would let its modules shadow the tests' own packages
(``bench/generate.py`` hides ``tests/generate/``), so each is loaded by path, under a name
of its own (``bench_specgen``).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parent.parent / "bench"


def bench_module(name: str) -> ModuleType:
    """``bench/<name>.py``, imported once."""
    qualified = f"bench_{name}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    spec = importlib.util.spec_from_file_location(qualified, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    spec.loader.exec_module(module)
    return module
