"""``cdi validate``: files given, or every spec file of the spec directories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from clitools import EXAMPLES, VENDOR1, Invoke, spec, write

from tables import cases

BAD_ENV = 'invalid CDI Spec: failed add device "x": invalid device "x": invalid container edits: '
BROKEN = (
    "cdiVersion: 0.3.0\nkind: vendor1.com/device\ndevices:\n"
    "  - name: x\n    containerEdits: {env: ['=x']}\n"
)


def test_valid_file(cdi: Invoke) -> None:
    path = str(EXAMPLES / "vendor1.yaml")
    result = cdi("validate", path)
    assert result.exit_code == 0
    assert result.stdout == f"{path}: ok (cdiVersion 0.3.0, minimum 0.3.0)\n"
    assert result.stderr == ""


def test_invalid_file_goes_to_stderr_with_position(cdi: Invoke, tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", VENDOR1)
    bad = write(tmp_path, "bad.yaml", BROKEN)
    result = cdi("validate", str(good), str(bad))
    assert result.exit_code == 1
    assert result.stdout == f"{good}: ok (cdiVersion 0.3.0, minimum 0.3.0)\n"
    assert result.stderr == f'{bad}:5:28: {BAD_ENV}invalid environment variable "=x"\n'


def test_missing_file(cdi: Invoke, tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    result = cdi("validate", str(missing))
    assert result.exit_code == 1
    assert result.stderr == (
        f'{missing}: failed to read CDI Spec "{missing}": open {missing}: '
        "no such file or directory\n"
    )


@cases("cli/validate_versions.yaml")
def test_versions(cdi: Invoke, tmp_path: Path, case: dict[str, Any]) -> None:
    document: dict[str, Any] = {
        "cdiVersion": case["version"],
        "kind": "vendor.com/device",
        "devices": [
            {"name": f"dev{index}", "containerEdits": edits}
            for index, edits in enumerate(case["devices"])
        ],
    }
    if "specEdits" in case:
        document["containerEdits"] = case["specEdits"]
    path = write(tmp_path, "v.yaml", yaml.safe_dump(document, sort_keys=False))
    result = cdi("validate", *(["--strict"] if case.get("strict") else []), str(path))
    assert (result.exit_code, result.stdout, result.stderr) == (
        case["exit"],
        case["stdout"].format(path=path),
        case["stderr"].format(path=path),
    )


def test_strict_applies_annotation_rules(cdi: Invoke, tmp_path: Path) -> None:
    text = spec("vendor1.com/device", "foo", version="0.6.0") + "annotations: {'bad key!': x}\n"
    path = write(tmp_path, "v.yaml", text)
    assert cdi("validate", str(path)).exit_code == 0
    result = cdi("validate", "--strict", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}:6:")
    assert "bad key!" in result.stderr


def test_validate_json(cdi: Invoke, tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", VENDOR1)
    bad = write(tmp_path, "bad.yaml", BROKEN)
    result = cdi("validate", "-o", "json", str(good), str(bad))
    assert result.exit_code == 1
    assert json.loads(result.stdout) == [
        {
            "path": str(good),
            "ok": True,
            "cdiVersion": "0.3.0",
            "minimumVersion": "0.3.0",
            "errors": [],
            "warnings": [],
            "notes": [],
        },
        {
            "path": str(bad),
            "ok": False,
            "errors": [
                {
                    "message": BAD_ENV + 'invalid environment variable "=x"',
                    "line": 5,
                    "column": 28,
                    "hint": None,
                }
            ],
            "warnings": [],
            "notes": [],
        },
    ]


def test_warnings_and_notes_in_json(cdi: Invoke, tmp_path: Path) -> None:
    masked = write(
        tmp_path,
        "masked.yaml",
        "cdiVersion: 0.3.0\nkind: vendor.com/gpu\ndevices:\n"
        "- name: a\n  containerEdits: {mounts: [{hostPath: /a, containerPath: /a, type: bind}]}\n"
        "- name: b\n  containerEdits: {env: [A=1]}\n",
    )
    high = write(tmp_path, "high.yaml", spec("vendor1.com/device", "foo", version="1.1.0"))
    result = cdi("validate", "--strict", "-o", "json", str(high))
    assert result.exit_code == 0
    (entry,) = json.loads(result.stdout)
    assert (entry["ok"], entry["warnings"]) == (True, [])
    assert entry["notes"] == [
        "cdiVersion 1.1.0 is higher than needed (minimum 0.3.0); "
        "runtimes that know only versions below 1.1.0 would refuse this spec"
    ]
    result = cdi("validate", "-o", "json", str(masked))
    assert result.exit_code == 0
    (entry,) = json.loads(result.stdout)
    assert (entry["ok"], entry["cdiVersion"], entry["minimumVersion"]) == (True, "0.3.0", "0.4.0")
    assert entry["errors"] == [] and entry["notes"] == []
    assert [w.split(";")[0] for w in entry["warnings"]] == [
        "cdiVersion 0.3.0 is lower than the content needs "
        '(minimum 0.4.0: a mount type in device "a")'
    ]


# -- without files: the spec directories -----------------------------------------------------


def test_every_file_of_the_spec_directories(cdi: Invoke, tmp_path: Path) -> None:
    etc, run = tmp_path / "etc", tmp_path / "run"
    b = write(etc, "b.yaml", VENDOR1)
    a = write(etc, "a.yaml", BROKEN)
    c = write(run, "c.yaml", spec("vendor2.com/gpu", "g"))
    result = cdi("--spec-dir", str(etc), "--spec-dir", str(run), "validate")
    assert result.exit_code == 1
    assert result.stdout == (
        f"{b}: ok (cdiVersion 0.3.0, minimum 0.3.0)\n{c}: ok (cdiVersion 0.3.0, minimum 0.3.0)\n"
    )
    assert result.stderr == f'{a}:5:28: {BAD_ENV}invalid environment variable "=x"\n'


def test_all_valid(cdi: Invoke) -> None:
    result = cdi("--spec-dir", str(EXAMPLES), "validate")
    assert result.exit_code == 0
    assert result.stdout == f"{EXAMPLES}/vendor1.yaml: ok (cdiVersion 0.3.0, minimum 0.3.0)\n"


def test_conflicting_files_fail(cdi: Invoke, tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", VENDOR1)
    b = write(tmp_path, "b.yaml", VENDOR1)
    result = cdi("--spec-dir", str(tmp_path), "validate")
    assert result.exit_code == 1
    conflict = f'conflicting device "vendor1.com/device=foo" (specs "{b}", "{a}")'
    assert result.stdout == ""
    assert result.stderr == f"{a}: {conflict}\n{b}: {conflict}\n"


def test_unreadable_directory_fails(cdi: Invoke, tmp_path: Path) -> None:
    not_a_dir = write(tmp_path, "file", "")
    result = cdi("--spec-dir", str(not_a_dir), "validate")
    assert result.exit_code == 1
    assert result.stderr == (
        f'failed to read CDI Spec directory "{not_a_dir}": open {not_a_dir}: not a directory\n'
    )


def test_no_spec_files(cdi: Invoke, tmp_path: Path) -> None:
    result = cdi("--spec-dir", str(tmp_path), "--spec-dir", str(tmp_path / "x"), "validate")
    assert result.exit_code == 0
    assert result.stdout == f"No CDI Spec files found in {tmp_path}, {tmp_path}/x.\n"


def test_registry_mode_json(cdi: Invoke, tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", VENDOR1)
    b = write(tmp_path, "b.yaml", VENDOR1)
    result = cdi("--spec-dir", str(tmp_path), "validate", "-o", "json")
    conflict = f'conflicting device "vendor1.com/device=foo" (specs "{b}", "{a}")'
    error = {"message": conflict, "line": None, "column": None, "hint": None}
    assert json.loads(result.stdout) == [
        {
            "path": str(path),
            "ok": False,
            "cdiVersion": "0.3.0",
            "minimumVersion": "0.3.0",
            "errors": [error],
            "warnings": [],
            "notes": [],
            "priority": 0,
        }
        for path in (a, b)
    ]
