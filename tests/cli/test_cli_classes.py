"""``cdi classes``: each class with the vendors that define it."""

from __future__ import annotations

import json
from pathlib import Path

from clitools import Invoke, spec, write


def test_classes_text(cdi: Invoke, tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", spec("vendor2.com/gpu", "a"))
    write(tmp_path, "b.yaml", spec("vendor1.com/gpu", "b"))
    write(tmp_path, "c.yaml", spec("vendor1.com/net", "c"))
    write(tmp_path, "d.yaml", spec("vendor1.com/gpu", "d"))
    result = cdi("--spec-dir", str(tmp_path), "classes")
    assert result.exit_code == 0
    assert result.stdout == (
        "CDI device classes found:\n"
        "  0. gpu (2 vendors: vendor1.com, vendor2.com)\n"
        "  1. net (1 vendors: vendor1.com)\n"
    )


def test_no_classes(cdi: Invoke, tmp_path: Path) -> None:
    result = cdi("--spec-dir", str(tmp_path), "classes")
    assert result.exit_code == 0
    assert result.stdout == "No CDI device classes found.\n"


def test_classes_json(cdi: Invoke, tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", spec("vendor2.com/gpu", "a"))
    write(tmp_path, "b.yaml", spec("vendor1.com/gpu", "b"))
    result = cdi("--spec-dir", str(tmp_path), "classes", "-o", "json")
    assert json.loads(result.stdout) == [{"name": "gpu", "vendors": ["vendor1.com", "vendor2.com"]}]
