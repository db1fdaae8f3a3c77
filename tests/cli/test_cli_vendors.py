"""``cdi vendors``: the reference tool's text, and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from clitools import Invoke, spec, write


def test_vendors_text_counts_spec_files(cdi: Invoke, tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", spec("vendor2.com/gpu", "a"))
    write(tmp_path, "a1.yaml", spec("vendor1.com/device", "foo"))
    write(tmp_path, "a2.yaml", spec("vendor1.com/net", "bar"))
    result = cdi("--spec-dir", str(tmp_path), "vendors")
    assert result.exit_code == 0
    assert result.stdout == (
        "CDI vendors found:\n"
        '  0. "vendor1.com" (2 CDI Spec Files)\n'
        '  1. "vendor2.com" (1 CDI Spec Files)\n'
    )
    assert result.stderr == ""


def test_no_vendors(cdi: Invoke, tmp_path: Path) -> None:
    result = cdi("--spec-dir", str(tmp_path / "missing"), "vendors")
    assert result.exit_code == 0
    assert result.stdout == "No CDI vendors found.\n"


def test_vendors_json(cdi: Invoke, tmp_path: Path) -> None:
    first = write(tmp_path, "a1.yaml", spec("vendor1.com/device", "foo"))
    second = write(tmp_path, "a2.yaml", spec("vendor1.com/net", "bar"))
    result = cdi("--spec-dir", str(tmp_path), "vendors", "-o", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == [
        {"name": "vendor1.com", "specs": [str(first), str(second)]}
    ]


def test_vendors_yaml_and_global_output_option(cdi: Invoke, tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", spec("vendor1.com/device", "foo"))
    result = cdi("--spec-dir", str(tmp_path), "-o", "yaml", "vendors")
    assert result.exit_code == 0
    assert result.stdout == f"- name: vendor1.com\n  specs:\n  - {tmp_path}/a.yaml\n"


def test_files_that_fail_to_load_do_not_count(cdi: Invoke, tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", spec("vendor1.com/device", "foo"))
    write(tmp_path, "b.yaml", "cdiVersion: 0.3.0\nkind: vendor1.com/device\n")
    result = cdi("--spec-dir", str(tmp_path), "vendors")
    assert result.stdout == 'CDI vendors found:\n  0. "vendor1.com" (1 CDI Spec Files)\n'
