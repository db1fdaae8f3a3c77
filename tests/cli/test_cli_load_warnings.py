"""Listings that leave out what failed say so on stderr: vendors, classes, devices, inspect.

``specs`` and ``dirs`` list the errors themselves and add nothing. The exit status and stdout
stay as without the warning, so scripts reading the listing are unaffected.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clitools import Invoke, spec, write

BROKEN = "cdiVersion: 0.3.0\nkind: vendor1.com/device\ndevices:\n  - name: x\n"

EMPTY = {
    "vendors": "No CDI vendors found.\n",
    "classes": "No CDI device classes found.\n",
    "devices": "No CDI devices found.\n",
    "inspect": "No devices.\n",
}


def _hint(directory: Path) -> str:
    return (
        f'Run "cdi --spec-dir {directory} validate" to see why, or '
        f'"cdi --spec-dir {directory} doctor DEVICE" about one device.\n'
    )


@pytest.mark.parametrize("command", sorted(EMPTY))
def test_only_spec_failed(cdi: Invoke, tmp_path: Path, command: str) -> None:
    write(tmp_path, "a.yaml", BROKEN)
    result = cdi("--spec-dir", str(tmp_path), command)
    assert (result.exit_code, result.stdout) == (0, EMPTY[command])
    assert result.stderr == (
        "Warning: 1 of 1 CDI Spec files failed to load; what it defines is not listed.\n"
        + _hint(tmp_path)
    )


@pytest.mark.parametrize("command", sorted(EMPTY))
def test_some_failed_and_json_output(cdi: Invoke, tmp_path: Path, command: str) -> None:
    write(tmp_path, "a.yaml", spec("vendor2.com/gpu", "g"))
    write(tmp_path, "b.yaml", BROKEN)
    write(tmp_path, "c.yaml", BROKEN.replace("vendor1", "vendor3"))
    result = cdi("--spec-dir", str(tmp_path), command, "-o", "json")
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)) == 1  # the data is the same as without errors
    assert result.stderr == (
        "Warning: 2 of 3 CDI Spec files failed to load; what they define is not listed.\n"
        + _hint(tmp_path)
    )


def test_conflicts_and_unreadable_directories(cdi: Invoke, tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    write(etc, "a.yaml", spec("vendor1.com/device", "foo"))
    write(etc, "b.yaml", spec("vendor1.com/device", "foo"))
    not_a_dir = write(tmp_path, "file", "")
    result = cdi("--spec-dir", str(etc), "--spec-dir", str(not_a_dir), "devices")
    assert (result.exit_code, result.stdout) == (0, "No CDI devices found.\n")
    dirs = f"--spec-dir {etc} --spec-dir {not_a_dir}"
    assert result.stderr == (
        "Warning: 2 CDI Spec files define conflicting devices.\n"
        "Warning: 1 CDI Spec directory cannot be read.\n"
        f'Run "cdi {dirs} validate" to see why, or "cdi {dirs} doctor DEVICE" about one device.\n'
    )


def test_nothing_to_say(cdi: Invoke, tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", spec("vendor1.com/device", "foo"))
    for command in [*EMPTY, "specs", "dirs"]:
        result = cdi("--spec-dir", str(tmp_path), command)
        assert (result.exit_code, result.stderr) == (0, ""), command
    result = cdi("--spec-dir", str(tmp_path / "missing"), "devices")
    assert (result.stdout, result.stderr) == ("No CDI devices found.\n", "")


@pytest.mark.parametrize("command", ["specs", "dirs"])
def test_views_that_show_errors_add_nothing(cdi: Invoke, tmp_path: Path, command: str) -> None:
    write(tmp_path, "a.yaml", BROKEN)
    result = cdi("--spec-dir", str(tmp_path), command)
    assert result.exit_code == 0 and result.stderr == ""
    assert "a.yaml" in result.stdout


def test_inspect_names_the_directories_of_its_configuration(cdi: Invoke, tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    write(specs, "a.yaml", BROKEN)
    config = write(tmp_path, "buildkitd.toml", f'[cdi]\nspecDirs = ["{specs}"]\n')
    result = cdi("inspect", "--config", str(config))
    assert (result.exit_code, result.stdout) == (0, "No devices.\n")
    assert result.stderr.endswith(_hint(specs))
