"""cdi.filecheck: spec files checked one by one, for ``cdi validate``."""

from __future__ import annotations

from pathlib import Path

from cdi.errors import SpecError
from cdi.filecheck import VersionTooLowError, check_directories, check_file
from cdi.registry import ConflictError, Registry, SpecDirError

SPEC = (
    "cdiVersion: {version}\nkind: vendor.com/gpu\n"
    "devices:\n- name: {name}\n  containerEdits: {{env: [A=1]}}\n"
)


def test_valid_file_and_strict_version(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(SPEC.format(version="0.6.0", name="dev"))
    report = check_file(str(path))
    assert (report.ok, report.cdi_version, report.minimum_version) == (True, "0.6.0", "0.3.0")
    assert (report.warnings, report.notes) == ([], [])
    strict = check_file(str(path), strict=True)
    assert strict.ok and strict.notes == [
        "cdiVersion 0.6.0 is higher than needed (minimum 0.3.0); "
        "runtimes that know only versions below 0.6.0 would refuse this spec"
    ]


MASKED = (
    "cdiVersion: 0.3.0\nkind: vendor.com/gpu\ndevices:\n"
    "- name: a\n  containerEdits: {deviceNodes: [{path: /dev/a, hostPath: /dev/b}]}\n"
    "- name: b\n  containerEdits: {env: [A=1]}\n"
)


def test_version_accepted_only_by_the_reference_defect(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(MASKED)
    report = check_file(str(path))
    assert (report.ok, report.cdi_version, report.minimum_version) == (True, "0.3.0", "0.5.0")
    assert len(report.warnings) == 1 and "requiresV050" in report.warnings[0]
    strict = check_file(str(path), strict=True)
    assert [type(e) for e in strict.errors] == [VersionTooLowError]
    assert str(strict.errors[0]) == report.warnings[0] and strict.warnings == []


def test_invalid_file(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(SPEC.format(version="0.3.0", name="-dev"))
    report = check_file(str(path))
    assert not report.ok and report.cdi_version is None
    assert isinstance(report.errors[0], SpecError) and report.errors[0].line == 4


def test_directories_add_conflicts_and_unreadable_dirs(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    for name in ("a.yaml", "b.yaml"):
        (etc / name).write_text(SPEC.format(version="0.3.0", name="dev"))
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    reports = check_directories(Registry([etc, not_a_dir]))
    assert [(r.path, r.priority, r.ok) for r in reports] == [
        (str(etc / "a.yaml"), 0, False),
        (str(etc / "b.yaml"), 0, False),
        (str(not_a_dir), 1, False),
    ]
    assert [type(e) for e in reports[0].errors] == [ConflictError]
    assert [type(e) for e in reports[2].errors] == [SpecDirError]
