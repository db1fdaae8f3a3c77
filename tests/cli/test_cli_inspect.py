"""``cdi inspect``: the Devices section as docker buildx inspect prints it, and JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from cdi.cli.main import main
from cdi.cli.tabwriter import align
from tables import VECTORS

FIXTURES = VECTORS / "policy" / "fixtures"


def _spec_dir(tmp_path: Path, *names: str) -> str:
    for name in names:
        shutil.copy(FIXTURES / name, tmp_path / name)
    return str(tmp_path)


def test_tutorial_device_is_not_allowed(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["--spec-dir", _spec_dir(tmp_path, "vendor1-device.yaml"), "inspect"]
    )
    assert result.exit_code == 0
    assert result.output == (
        "Devices:\n Name:                  vendor1.com/device=foo\n Automatically allowed: false\n"
    )


def test_annotations_and_alignment_like_buildx(tmp_path: Path) -> None:
    spec_dir = _spec_dir(tmp_path, "vendor1-device.yaml", "vendor2-autoallow.yaml")
    result = CliRunner().invoke(main, ["--spec-dir", spec_dir, "inspect"])
    assert result.exit_code == 0
    # Go's tabwriter aligns a column over consecutive lines that have it, so an annotation
    # line followed by another device shares that device's column width.
    assert result.output.splitlines() == [
        "Devices:",
        " Name:                  vendor1.com/device=foo",
        " Automatically allowed: false",
        " Name:                  vendor2.com/device=bar",
        " Automatically allowed: true",
        " Annotations:",
        "                        org.mobyproject.buildkit.device.autoallow: true",
        " Name:                  vendor2.com/device=denied",
        " Automatically allowed: false",
        " Annotations:",
        "  org.mobyproject.buildkit.device.autoallow: no",
    ]


def test_auto_allow_flag_and_json(tmp_path: Path) -> None:
    spec_dir = _spec_dir(tmp_path, "vendor1-device.yaml")
    result = CliRunner().invoke(
        main,
        ["--spec-dir", spec_dir, "inspect", "--auto-allow", "vendor1.com/device", "-o", "json"],
    )
    assert result.exit_code == 0
    assert json.loads(result.output) == [
        {"name": "vendor1.com/device=foo", "autoAllow": True, "onDemand": False, "annotations": {}}
    ]


def test_config_file_sets_dirs_and_auto_allow(tmp_path: Path) -> None:
    spec_dir = _spec_dir(tmp_path, "vendor1-device.yaml")
    config = tmp_path / "buildkitd.toml"
    config.write_text(
        f'[cdi]\nspecDirs = ["{spec_dir}"]\nautoAllowed = ["vendor1.com/device=foo"]\n'
    )
    result = CliRunner().invoke(main, ["inspect", "--config", str(config)])
    assert result.output.splitlines()[1:] == [
        " Name:                  vendor1.com/device=foo",
        " Automatically allowed: true",
    ]
    config.write_text("[cdi]\ndisabled = true\n")
    result = CliRunner().invoke(main, ["inspect", "--config", str(config)])
    assert (result.exit_code, result.output) == (0, "CDI is disabled by the configuration.\n")


def test_no_devices(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--spec-dir", str(tmp_path), "inspect"])
    assert (result.exit_code, result.output) == (0, "No devices.\n")


def test_on_demand_rows() -> None:
    assert align(["\tName:\tnvidia.com/gpu", "\tOn-Demand:\ttrue"]) == [
        " Name:      nvidia.com/gpu",
        " On-Demand: true",
    ]
