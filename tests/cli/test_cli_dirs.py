"""``cdi dirs``: directories in priority order, whether they exist, and their errors."""

from __future__ import annotations

import json
from pathlib import Path

from clitools import Invoke, spec, write


def test_dirs_text(cdi: Invoke, tmp_path: Path) -> None:
    etc, run = tmp_path / "etc", tmp_path / "run"
    write(etc, "a.yaml", spec("vendor1.com/device", "foo"))
    write(etc, "b.yaml", "kind: vendor1.com/device\n")
    result = cdi("--spec-dir", str(etc), "--spec-dir", str(run), "dirs")
    assert result.exit_code == 0
    assert result.stdout == (
        "CDI Spec directories in use:\n"
        f"  {etc} (priority 0)\n"
        f"    - has error {etc}/b.yaml:1:1: failed to load CDI Spec invalid CDI Spec: "
        'invalid version ""\n'
        f"  {run} (priority 1, does not exist)\n"
    )


def test_unreadable_directory(cdi: Invoke, tmp_path: Path) -> None:
    not_a_dir = write(tmp_path, "file", "")
    result = cdi("--spec-dir", str(not_a_dir), "dirs")
    assert result.stdout == (
        "CDI Spec directories in use:\n"
        f"  {not_a_dir} (priority 0, does not exist)\n"
        f'    - has error failed to read CDI Spec directory "{not_a_dir}": '
        f"open {not_a_dir}: not a directory\n"
    )


def test_default_directories(cdi: Invoke) -> None:
    result = cdi("dirs", "-o", "json")
    assert [(d["path"], d["priority"]) for d in json.loads(result.stdout)] == [
        ("/etc/cdi", 0),
        ("/var/run/cdi", 1),
    ]


def test_dirs_json(cdi: Invoke, tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", "kind: vendor1.com/device\n")
    result = cdi(
        "--spec-dir", str(tmp_path), "--spec-dir", str(tmp_path / "x"), "dirs", "-o", "json"
    )
    assert json.loads(result.stdout) == [
        {
            "path": str(tmp_path),
            "priority": 0,
            "exists": True,
            "errors": [
                {
                    "path": f"{tmp_path}/b.yaml",
                    "line": 1,
                    "column": 1,
                    "message": 'failed to load CDI Spec invalid CDI Spec: invalid version ""',
                    "hint": None,
                }
            ],
        },
        {"path": f"{tmp_path}/x", "priority": 1, "exists": False, "errors": []},
    ]
