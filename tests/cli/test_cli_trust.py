"""The trust policy on the command line: ``cdi run --trust``, and the reports of
``cdi validate`` and ``cdi doctor`` on files the strict policy refuses."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from clitools import VENDOR1, Invoke, write

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="judged as root (files of root)")

NO_RUNTIME = (
    'Error: OCI runtime "/nonexistent/runc" not found: install Debian\'s runc package '
    "or pass --runtime\n"
)
FOO = "vendor1.com/device=foo"


@pytest.fixture
def untrusted(tmp_path: Path) -> Path:
    """A spec directory (0755) whose vendor1.yaml is writable by everyone."""
    directory = tmp_path / "cdi"
    write(directory, "vendor1.yaml", VENDOR1).chmod(0o666)
    directory.chmod(0o755)
    return directory


def _run(cdi: Invoke, directory: Path, *options: str) -> tuple[int, str]:
    result = cdi(
        "--spec-dir",
        str(directory),
        "run",
        "--runtime",
        "/nonexistent/runc",
        *options,
        "-d",
        FOO,
        "true",
    )
    assert result.stdout == ""
    return result.exit_code, result.stderr


# -- cdi run --------------------------------------------------------------------------------


@needs_root
def test_run_as_root_refuses_an_untrusted_spec_by_default(
    cdi: Invoke, untrusted: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    path = untrusted / "vendor1.yaml"
    assert _run(cdi, untrusted) == (
        1,
        f'Warning: refusing CDI Spec "{path}": writable by group and others (mode 0666)\n'
        f"Error: unresolvable CDI devices {FOO}\n"
        f'Run "cdi --spec-dir {untrusted} doctor {FOO}" to see why.\n',
    )
    assert _run(cdi, untrusted, "--trust", "strict") == _run(cdi, untrusted)


def test_run_not_as_root_trusts_by_default(
    cdi: Invoke, untrusted: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    # The device resolved (nothing about trust), then the runtime is missing.
    assert _run(cdi, untrusted) == (125, NO_RUNTIME)


@needs_root
def test_run_trust_off_and_warn(cdi: Invoke, untrusted: Path) -> None:
    path = untrusted / "vendor1.yaml"
    assert _run(cdi, untrusted, "--trust", "off") == (125, NO_RUNTIME)
    assert _run(cdi, untrusted, "--trust", "warn") == (
        125,
        f'Warning: untrusted CDI Spec "{path}": writable by group and others (mode 0666)\n'
        + NO_RUNTIME,
    )


def test_run_trusted_spec_under_strict(cdi: Invoke, vendor1: Path) -> None:
    vendor1.chmod(0o755)
    assert _run(cdi, vendor1, "--trust", "strict") == (125, NO_RUNTIME)


def test_run_trust_must_be_a_mode(cdi: Invoke) -> None:
    result = cdi("run", "--trust", "loose", "true")
    assert result.exit_code == 2
    assert "Invalid value for '--trust': 'loose' is not one of 'off', 'warn', 'strict'." in (
        result.stderr
    )


# -- cdi validate ---------------------------------------------------------------------------


def test_validate_file_warns_and_passes(cdi: Invoke, untrusted: Path) -> None:
    path = untrusted / "vendor1.yaml"
    result = cdi("validate", str(path))
    assert result.exit_code == 0
    assert result.stdout == f"{path}: ok (cdiVersion 0.3.0, minimum 0.3.0)\n"
    assert result.stderr == (
        f'{path}: warning: untrusted (trust policy "strict" refuses it): '
        "writable by group and others (mode 0666)\n"
    )


def test_validate_spec_dirs_judges_each_file_in_its_directory(cdi: Invoke, tmp_path: Path) -> None:
    directory = tmp_path / "cdi"
    good = write(directory, "a.yaml", VENDOR1)
    other = write(directory, "b.yaml", VENDOR1.replace("vendor1.com", "vendor2.com"))
    good.chmod(0o644)
    other.chmod(0o644)
    directory.chmod(0o775)
    result = cdi("--spec-dir", str(directory), "validate")
    assert result.exit_code == 0
    reason = f'directory "{directory}" is writable by group (mode 0775)'
    assert result.stderr == (
        f'{good}: warning: untrusted (trust policy "strict" refuses it): {reason}\n'
        f'{other}: warning: untrusted (trust policy "strict" refuses it): {reason}\n'
    )
    data = json.loads(cdi("--spec-dir", str(directory), "validate", "-o", "json").stdout)
    assert [entry["warnings"] for entry in data] == [
        [f'untrusted (trust policy "strict" refuses it): {reason}']
    ] * 2
    assert all(entry["ok"] for entry in data)


def test_validate_trusted_file_says_nothing_more(cdi: Invoke, vendor1: Path) -> None:
    vendor1.chmod(0o755)
    (vendor1 / "vendor1.yaml").chmod(0o644)
    result = cdi("--spec-dir", str(vendor1), "validate")
    assert (result.exit_code, result.stderr) == (0, "")


def test_validate_missing_file_keeps_its_error_only(cdi: Invoke, tmp_path: Path) -> None:
    result = cdi("validate", str(tmp_path / "gone.yaml"))
    assert result.exit_code == 1
    assert "untrusted" not in result.stderr


# -- cdi doctor -----------------------------------------------------------------------------


def test_doctor_flags_an_untrusted_defining_file(cdi: Invoke, untrusted: Path) -> None:
    path = untrusted / "vendor1.yaml"
    result = cdi("--spec-dir", str(untrusted), "doctor", FOO)
    assert result.exit_code == 0  # it resolves here (doctor reads every file)
    assert result.stdout == (
        f"{FOO}: resolves\n"
        f'  - defined in "{path}" (spec directory "{untrusted}", priority 0)\n'
        f'  - "{path}" is untrusted: writable by group and others (mode 0666); the strict '
        "trust policy (the default of cdi-runtime, and of cdi run as root) refuses it\n"
    )
    (diagnosis,) = json.loads(cdi("--spec-dir", str(untrusted), "doctor", FOO, "-o", "json").stdout)
    assert [finding["code"] for finding in diagnosis["findings"]] == ["resolved", "untrusted"]
    assert diagnosis["findings"][1]["path"] == str(path)


def test_doctor_says_nothing_of_a_trusted_file(cdi: Invoke, vendor1: Path) -> None:
    vendor1.chmod(0o755)
    (vendor1 / "vendor1.yaml").chmod(0o644)
    result = cdi("--spec-dir", str(vendor1), "doctor", FOO, "-o", "json")
    (diagnosis,) = json.loads(result.stdout)
    assert [finding["code"] for finding in diagnosis["findings"]] == ["resolved"]
