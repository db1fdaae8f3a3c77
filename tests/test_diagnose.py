"""cdi.diagnose: why a device name resolves or not (the library behind ``cdi doctor``)."""

from __future__ import annotations

from pathlib import Path

import pytest

import cdi
from cdi.diagnose import CODES, Diagnosis, diagnose

VENDOR1 = (
    "cdiVersion: 0.3.0\nkind: vendor1.com/device\ndevices:\n"
    "  - name: foo\n    containerEdits: {env: [FOO=1]}\n"
)


def _write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path


def _codes(result: Diagnosis) -> list[str]:
    return [finding.code for finding in result.findings]


def test_resolved_device(tmp_path: Path) -> None:
    path = _write(tmp_path, "v.yaml", VENDOR1)
    result = diagnose(cdi.Registry([tmp_path]), "vendor1.com/device=foo")
    assert result.resolved
    assert (result.path, result.priority) == (str(path), 0)
    assert _codes(result) == ["resolved"]
    assert result.findings[0].path == str(path)
    assert result.suggestions == ()


def test_overrides_are_listed(tmp_path: Path) -> None:
    low = _write(tmp_path / "a", "v.yaml", VENDOR1)
    _write(tmp_path / "b", "v.yaml", VENDOR1)
    result = diagnose(cdi.Registry([tmp_path / "a", tmp_path / "b"]), "vendor1.com/device=foo")
    assert _codes(result) == ["resolved", "overrides"]
    assert result.findings[1].path == str(low)


def test_load_error_carries_the_position(tmp_path: Path) -> None:
    bad = _write(
        tmp_path,
        "v.yaml",
        "cdiVersion: 0.3.0\nkind: vendor1.com/device\ndevices:\n"
        "  - name: foo\n    containerEdits: {env: ['=x']}\n",
    )
    result = diagnose(cdi.Registry([tmp_path]), "vendor1.com/device=foo")
    assert not result.resolved
    (finding,) = result.findings
    assert (finding.code, finding.path, finding.line, finding.column) == (
        "load-error",
        str(bad),
        5,
        28,
    )


def test_load_error_of_another_device_of_the_kind_is_not_the_cause(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", VENDOR1)
    _write(
        tmp_path,
        "b.yaml",
        "cdiVersion: 0.3.0\nkind: vendor1.com/device\ndevices:\n  - name: bar\n",
    )
    result = diagnose(cdi.Registry([tmp_path]), "vendor1.com/device=baz")
    assert _codes(result) == ["unknown-device"]
    result = diagnose(cdi.Registry([tmp_path]), "vendor1.com/device=bar")
    assert _codes(result) == ["load-error"]


def test_load_error_whose_devices_cannot_be_read_still_counts(tmp_path: Path) -> None:
    _write(tmp_path, "b.yaml", "cdiVersion: 0.3.0\nkind: vendor1.com/device\ndevices: 5\n")
    result = diagnose(cdi.Registry([tmp_path]), "vendor1.com/device=anything")
    assert _codes(result) == ["load-error"]


def test_keys_are_matched_case_insensitively_when_peeking(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "b.yaml",
        "cdiVersion: 0.3.0\nKind: vendor1.com/device\nDevices:\n  - Name: foo\n",
    )
    assert _codes(diagnose(cdi.Registry([tmp_path]), "vendor1.com/device=foo")) == ["load-error"]


@pytest.mark.parametrize(
    "text",
    ["[1, 2]\n", "kind: 5\n", "a: [\n", "\x00\x01 binary"],
    ids=["list", "kind not a string", "broken yaml", "binary"],
)
def test_files_whose_kind_is_unknown(tmp_path: Path, text: str) -> None:
    _write(tmp_path, "a.yaml", VENDOR1)
    _write(tmp_path, "z.yaml", text)
    result = diagnose(cdi.Registry([tmp_path]), "vendor1.com/device=bar")
    assert _codes(result) == ["unknown-device", "load-error-unknown-kind"]


def test_conflict_and_shadowed(tmp_path: Path) -> None:
    _write(tmp_path / "a", "v.yaml", VENDOR1)
    _write(tmp_path / "b", "1.yaml", VENDOR1)
    _write(tmp_path / "b", "2.yaml", VENDOR1)
    result = diagnose(cdi.Registry([tmp_path / "a", tmp_path / "b"]), "vendor1.com/device=foo")
    assert _codes(result) == ["shadowed", "conflict"]


def test_three_files_conflicting_are_one_finding(tmp_path: Path) -> None:
    for name in ("1.yaml", "2.yaml", "3.yaml"):
        _write(tmp_path, name, VENDOR1)
    result = diagnose(cdi.Registry([tmp_path]), "vendor1.com/device=foo")
    assert _codes(result) == ["conflict"]
    assert result.findings[0].message.startswith(
        f'conflict between files "{tmp_path}/1.yaml" and "{tmp_path}/2.yaml" and '
        f'"{tmp_path}/3.yaml"'
    )


def test_no_spec_dirs_and_no_files(tmp_path: Path) -> None:
    assert _codes(diagnose(cdi.Registry([tmp_path / "x"]), "a.com/b=c")) == ["no-spec-dirs"]
    assert _codes(diagnose(cdi.Registry([tmp_path]), "a.com/b=c")) == ["no-spec-files"]
    assert _codes(diagnose(cdi.Registry([tmp_path]), "bad")) == ["invalid-name", "no-spec-files"]


def test_dir_error(tmp_path: Path) -> None:
    not_a_dir = _write(tmp_path, "f", "")
    _write(tmp_path / "d", "v.yaml", VENDOR1)
    result = diagnose(cdi.Registry([not_a_dir, tmp_path / "d"]), "vendor1.com/device=bar")
    assert _codes(result) == ["dir-error", "unknown-device"]
    assert result.findings[0].path == str(not_a_dir)


@pytest.mark.parametrize(
    ("name", "suggestions"),
    [
        ("vendr1.com/device=foo", ("vendor1.com/device=foo",)),
        ("vendor1.com/devices=foo", ("vendor1.com/device=foo",)),
        ("vendor1.com/device=fo0", ("vendor1.com/device=foo",)),
        ("vendor1.com/device=bar", ()),  # same kind, but another device: no typo
        ("vendor1.com/gpu=foo", ()),
        ("foo", ("vendor1.com/device=foo",)),
        ("device=foo", ("vendor1.com/device=foo",)),
        ("nothing-like-it", ()),
    ],
)
def test_suggestions(tmp_path: Path, name: str, suggestions: tuple[str, ...]) -> None:
    _write(tmp_path, "v.yaml", VENDOR1)
    _write(
        tmp_path,
        "w.yaml",
        "cdiVersion: 0.3.0\nkind: vendor2.com/net\ndevices:\n"
        "  - name: eth0\n    containerEdits: {env: [E=1]}\n",
    )
    assert diagnose(cdi.Registry([tmp_path]), name).suggestions == suggestions


def test_suggestions_are_ranked_and_capped(tmp_path: Path) -> None:
    devices = "".join(
        f"  - name: gpu{i}\n    containerEdits: {{env: [G{i}=1]}}\n" for i in range(5)
    )
    _write(tmp_path, "v.yaml", "cdiVersion: 0.3.0\nkind: v.com/gpu\ndevices:\n" + devices)
    result = diagnose(cdi.Registry([tmp_path]), "v.com/gpu=gpu")
    assert len(result.suggestions) == 3
    assert result.suggestions == ("v.com/gpu=gpu0", "v.com/gpu=gpu1", "v.com/gpu=gpu2")


def test_codes_are_documented_in_order() -> None:
    assert len(CODES) == len(set(CODES))
    cli_doc = (Path(__file__).parents[1] / "docs" / "cli.md").read_text()
    for code in CODES:
        assert f"`{code}`" in cli_doc
