"""``cdi doctor``: the reason for each name, in words; exit 1 when one does not resolve."""

from __future__ import annotations

import json
from pathlib import Path

from clitools import VENDOR1, Invoke, spec, write


def test_resolves(cdi: Invoke, vendor1: Path) -> None:
    result = cdi("--spec-dir", str(vendor1), "doctor", "vendor1.com/device=foo")
    assert result.exit_code == 0
    assert result.stdout == (
        "vendor1.com/device=foo: resolves\n"
        f'  - defined in "{vendor1}/vendor1.yaml" (spec directory "{vendor1}", priority 0)\n'
    )


def test_overrides_a_lower_priority_file(cdi: Invoke, tmp_path: Path) -> None:
    etc, run = tmp_path / "etc", tmp_path / "run"
    write(etc, "v.yaml", VENDOR1)
    write(run, "v.yaml", VENDOR1)
    result = cdi("--spec-dir", str(etc), "--spec-dir", str(run), "doctor", "vendor1.com/device=foo")
    assert result.exit_code == 0
    assert result.stdout == (
        "vendor1.com/device=foo: resolves\n"
        f'  - defined in "{run}/v.yaml" (spec directory "{run}", priority 1)\n'
        f'  - it overrides the definition in lower-priority file "{etc}/v.yaml"\n'
    )


def test_no_spec_directory(cdi: Invoke, tmp_path: Path) -> None:
    result = cdi("--spec-dir", str(tmp_path / "nope"), "doctor", "vendor1.com/device=foo")
    assert result.exit_code == 1
    assert result.stdout == (
        "vendor1.com/device=foo: does not resolve\n"
        f"  - none of the spec directories exists: {tmp_path}/nope "
        "(they are set by --spec-dir or CDI_SPEC_DIRS)\n"
    )


def test_no_spec_files(cdi: Invoke, tmp_path: Path) -> None:
    result = cdi("--spec-dir", str(tmp_path), "doctor", "vendor1.com/device=foo")
    assert result.stdout == (
        "vendor1.com/device=foo: does not resolve\n"
        f"  - the spec directories hold no spec files: {tmp_path}\n"
    )


def test_unknown_vendor_with_close_matches(cdi: Invoke, vendor1: Path) -> None:
    result = cdi("--spec-dir", str(vendor1), "doctor", "vendr1.com/device=foo")
    assert result.exit_code == 1
    assert result.stdout == (
        "vendr1.com/device=foo: does not resolve\n"
        '  - no spec file defines vendor "vendr1.com" (known vendors: vendor1.com); '
        'did you mean "vendor1.com"?\n'
        "  did you mean: vendor1.com/device=foo\n"
    )


def test_unknown_class(cdi: Invoke, vendor1: Path) -> None:
    result = cdi("--spec-dir", str(vendor1), "doctor", "vendor1.com/gpu=foo")
    assert result.stdout == (
        "vendor1.com/gpu=foo: does not resolve\n"
        '  - vendor "vendor1.com" has no device class "gpu" (its classes: device)\n'
    )


def test_unknown_device(cdi: Invoke, vendor1: Path) -> None:
    result = cdi("--spec-dir", str(vendor1), "doctor", "vendor1.com/device=fo")
    assert result.stdout == (
        "vendor1.com/device=fo: does not resolve\n"
        '  - kind "vendor1.com/device" has no device "fo" (its devices: foo)\n'
        "  did you mean: vendor1.com/device=foo\n"
    )


def test_invalid_name_suggests_qualified_names(cdi: Invoke, vendor1: Path) -> None:
    result = cdi("--spec-dir", str(vendor1), "doctor", "foo")
    assert result.stdout == (
        "foo: does not resolve\n"
        "  - not a valid CDI device name (want vendor.com/class=name): "
        'unqualified device "foo", missing vendor\n'
        "  did you mean: vendor1.com/device=foo\n"
    )


def test_defining_file_failed_to_load(cdi: Invoke, tmp_path: Path) -> None:
    bad = write(
        tmp_path,
        "v.yaml",
        "cdiVersion: 0.3.0\nkind: vendor1.com/device\ndevices:\n  - name: foo\n",
    )
    result = cdi("--spec-dir", str(tmp_path), "doctor", "vendor1.com/device=foo")
    assert result.exit_code == 1
    assert result.stdout == (
        "vendor1.com/device=foo: does not resolve\n"
        f"  - the spec file that defines it failed to load: {bad}:4:5: failed to load CDI Spec "
        'invalid CDI Spec: failed add device "foo": invalid device, empty device edits\n'
    )


def test_file_that_cannot_be_read_at_all(cdi: Invoke, vendor1: Path) -> None:
    garbage = write(vendor1, "z.yaml", "devices: [\n")
    result = cdi("--spec-dir", str(vendor1), "doctor", "vendor1.com/device=bar")
    assert result.stdout == (
        "vendor1.com/device=bar: does not resolve\n"
        '  - kind "vendor1.com/device" has no device "bar" (its devices: foo)\n'
        "  - a spec file failed to load, so whether it defines this device is unknown: "
        f'{garbage}:2:1: failed to load CDI Spec failed to parse CDI Spec "{garbage}": '
        "failed to unmarshal CDI Spec: "
        "error converting YAML to JSON: yaml: line 1: did not find expected node content\n"
    )


def test_conflict_between_two_files(cdi: Invoke, tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", VENDOR1)
    write(tmp_path, "b.yaml", VENDOR1)
    result = cdi("--spec-dir", str(tmp_path), "doctor", "vendor1.com/device=foo")
    assert result.stdout == (
        "vendor1.com/device=foo: does not resolve\n"
        f'  - conflict between files "{tmp_path}/a.yaml" and "{tmp_path}/b.yaml": they have '
        "the same priority (0) and both define it, so neither is used\n"
    )


def test_shadowed_by_conflicting_higher_priority_files(cdi: Invoke, tmp_path: Path) -> None:
    etc, run = tmp_path / "etc", tmp_path / "run"
    write(etc, "v.yaml", VENDOR1)
    write(run, "a.yaml", VENDOR1)
    write(run, "b.yaml", VENDOR1)
    result = cdi("--spec-dir", str(etc), "--spec-dir", str(run), "doctor", "vendor1.com/device=foo")
    assert result.stdout == (
        "vendor1.com/device=foo: does not resolve\n"
        f'  - the definition in "{etc}/v.yaml" is shadowed by higher-priority files that '
        "conflict with each other\n"
        f'  - conflict between files "{run}/a.yaml" and "{run}/b.yaml": they have '
        "the same priority (1) and both define it, so neither is used\n"
    )


def test_unreadable_directory(cdi: Invoke, vendor1: Path, tmp_path: Path) -> None:
    not_a_dir = write(tmp_path, "file", "")
    result = cdi(
        "--spec-dir", str(vendor1), "--spec-dir", str(not_a_dir), "doctor", "vendor2.com/x=y"
    )
    assert result.stdout == (
        "vendor2.com/x=y: does not resolve\n"
        f'  - spec directory "{not_a_dir}" has a problem: failed to read CDI Spec directory '
        f'"{not_a_dir}": open {not_a_dir}: not a directory\n'
        '  - no spec file defines vendor "vendor2.com" (known vendors: vendor1.com); '
        'did you mean "vendor1.com"?\n'
    )


def test_several_names_and_json(cdi: Invoke, vendor1: Path) -> None:
    result = cdi(
        "--spec-dir", str(vendor1), "doctor", "-o", "json", "vendor1.com/device=foo", "a.com/b=c"
    )
    assert result.exit_code == 1
    path = f"{vendor1}/vendor1.yaml"
    assert json.loads(result.stdout) == [
        {
            "name": "vendor1.com/device=foo",
            "resolved": True,
            "path": path,
            "priority": 0,
            "findings": [
                {
                    "code": "resolved",
                    "message": f'defined in "{path}" (spec directory "{vendor1}", priority 0)',
                    "path": path,
                    "line": None,
                    "column": None,
                }
            ],
            "suggestions": [],
        },
        {
            "name": "a.com/b=c",
            "resolved": False,
            "path": None,
            "priority": None,
            "findings": [
                {
                    "code": "unknown-vendor",
                    "message": 'no spec file defines vendor "a.com" (known vendors: vendor1.com)',
                    "path": None,
                    "line": None,
                    "column": None,
                }
            ],
            "suggestions": [],
        },
    ]


def test_all_resolve_exit_zero(cdi: Invoke, tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", spec("vendor.com/gpu", "a", "b"))
    result = cdi("--spec-dir", str(tmp_path), "doctor", "vendor.com/gpu=a", "vendor.com/gpu=b")
    assert result.exit_code == 0
