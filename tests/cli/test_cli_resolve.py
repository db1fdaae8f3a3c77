"""``cdi resolve``: CDI names in ``linux.devices`` replaced by the devices' edits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from clitools import Invoke, spec, write


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    directory = tmp_path / "cdi"
    write(directory, "gpu.yaml", spec("vendor.com/gpu", "gpu0", "gpu1"))
    return directory


def _oci(tmp_path: Path, devices: list[dict[str, Any]], name: str = "config.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"process": {"env": []}, "linux": {"devices": devices}}))
    return path


def test_cdi_entries_are_resolved_and_others_kept(cdi: Invoke, specs: Path, tmp_path: Path) -> None:
    null_a = {"path": "/dev/null", "type": "c", "major": 1, "minor": 3}
    zero = {"path": "/dev/zero", "type": "c", "major": 1, "minor": 5}
    null_b = {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "uid": 7}
    oci = _oci(
        tmp_path,
        [null_a, {"path": "vendor.com/gpu=gpu1"}, zero, {"path": "vendor.com/gpu=gpu0"}, null_b],
    )
    result = cdi("--spec-dir", str(specs), "resolve", str(oci))
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        # request order, not sorted; the second /dev/null replaces the first in its place
        "process": {"env": ["GPU1=1", "GPU0=1"]},
        "linux": {"devices": [null_b, zero]},
    }


def test_all_entries_resolved_leaves_an_empty_list(
    cdi: Invoke, specs: Path, tmp_path: Path
) -> None:
    oci = _oci(tmp_path, [{"path": "vendor.com/gpu=gpu0"}])
    result = cdi("--spec-dir", str(specs), "resolve", str(oci))
    assert json.loads(result.stdout) == {"process": {"env": ["GPU0=1"]}, "linux": {"devices": []}}


def test_several_specs_as_a_yaml_stream(cdi: Invoke, specs: Path, tmp_path: Path) -> None:
    first = _oci(tmp_path, [{"path": "vendor.com/gpu=gpu0"}], "a.yaml")
    second = _oci(tmp_path, [{"path": "vendor.com/gpu=gpu1"}], "b.json")
    result = cdi("--spec-dir", str(specs), "resolve", str(first), str(second))
    assert result.exit_code == 0
    assert result.stdout == (
        "---\nprocess:\n  env:\n  - GPU0=1\nlinux:\n  devices: []\n"
        "---\nprocess:\n  env:\n  - GPU1=1\nlinux:\n  devices: []\n"
    )


def test_output_option(cdi: Invoke, specs: Path, tmp_path: Path) -> None:
    oci = _oci(tmp_path, [{"path": "vendor.com/gpu=gpu0"}], "a.yaml")
    result = cdi("--spec-dir", str(specs), "resolve", "-o", "json", str(oci))
    assert json.loads(result.stdout)["process"]["env"] == ["GPU0=1"]


def test_alias(cdi: Invoke, specs: Path, tmp_path: Path) -> None:
    oci = _oci(tmp_path, [{"path": "vendor.com/gpu=gpu0"}])
    assert cdi("--spec-dir", str(specs), "res", str(oci)).exit_code == 0


def test_unresolvable_prints_nothing(cdi: Invoke, specs: Path, tmp_path: Path) -> None:
    good = _oci(tmp_path, [{"path": "vendor.com/gpu=gpu0"}], "good.json")
    bad = _oci(tmp_path, [{"path": "vendor.com/gpu=gpu7"}], "bad.json")
    result = cdi("--spec-dir", str(specs), "resolve", str(good), str(bad))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f'Error: failed to resolve devices for OCI Spec "{bad}": '
        "unresolvable CDI devices vendor.com/gpu=gpu7\n"
        f'Run "cdi --spec-dir {specs} doctor vendor.com/gpu=gpu7" to see why.\n'
    )


def test_unreadable_spec(cdi: Invoke, specs: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    result = cdi("--spec-dir", str(specs), "resolve", str(missing))
    assert result.exit_code == 1
    assert result.stderr == (
        f'Error: failed to read OCI Spec ("{missing}"): open {missing}: no such file or directory\n'
    )


def test_spec_without_devices_is_unchanged(cdi: Invoke, specs: Path, tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"ociVersion": "1.0.2"}')
    result = cdi("--spec-dir", str(specs), "resolve", str(path))
    assert result.stdout == '{\n  "ociVersion": "1.0.2"\n}\n'
