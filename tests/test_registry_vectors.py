"""The registry against the data-driven tables in tests/vectors/registry/.

Each case runs once per mode it lists (``manual``: explicit refreshes; ``auto``: inotify
watching, expectations polled with a deadline). Keys: see tests/vectors/registry/cache.yaml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from registry_scenario import Scenario, substitute
from tables import load_table

TABLES = ["cache", "refresh", "scan", "list", "write", "degrade"]


def _params() -> list[Any]:
    params = []
    for table in TABLES:
        for case in load_table(f"registry/{table}.yaml"):
            for mode in case.get("modes", ["manual"]):
                params.append(pytest.param(case, mode, id=f"{table}: {case['name']} [{mode}]"))
    return params


@pytest.mark.parametrize(("case", "mode"), _params())
def test_registry_vector(
    case: dict[str, Any], mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CDI_SPEC_DIRS", raising=False)
    for name, value in case.get("env", {}).items():
        monkeypatch.setenv(name, substitute(value, str(tmp_path)))
    Scenario(case, tmp_path, mode).run()
