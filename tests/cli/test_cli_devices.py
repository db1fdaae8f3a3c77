"""``cdi devices``: names, -v with definitions, JSON; the ``devs``/``dev`` aliases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clitools import VENDOR1, Invoke, spec, write


def test_devices_text_sorted(cdi: Invoke, tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", spec("vendor2.com/gpu", "gpu1", "gpu0"))
    write(tmp_path, "a.yaml", VENDOR1)
    result = cdi("--spec-dir", str(tmp_path), "devices")
    assert result.exit_code == 0
    assert result.stdout == (
        "CDI devices found:\n"
        "  0. vendor1.com/device=foo\n"
        "  1. vendor2.com/gpu=gpu0\n"
        "  2. vendor2.com/gpu=gpu1\n"
    )


@pytest.mark.parametrize("alias", ["devs", "dev"])
def test_aliases_of_the_reference_tool(cdi: Invoke, vendor1: Path, alias: str) -> None:
    result = cdi("--spec-dir", str(vendor1), alias)
    assert result.stdout == "CDI devices found:\n  0. vendor1.com/device=foo\n"


def test_no_devices(cdi: Invoke, tmp_path: Path) -> None:
    result = cdi("--spec-dir", str(tmp_path), "devices")
    assert result.exit_code == 0
    assert result.stdout == "No CDI devices found.\n"


def test_verbose_shows_definition_and_spec_edits(cdi: Invoke, tmp_path: Path) -> None:
    path = write(tmp_path, "v.yaml", spec("vendor.com/gpu", "a", env="SHARED=1"))
    result = cdi("--spec-dir", str(tmp_path), "devices", "-v")
    assert result.exit_code == 0
    assert result.stdout == (
        "CDI devices found:\n"
        f"  vendor.com/gpu=a ({path})\n"
        "    name: a\n"
        "    containerEdits:\n"
        "        env:\n"
        "            - A=1\n"
        "    global Spec containerEdits:\n"
        "      env:\n"
        "          - SHARED=1\n"
    )


def test_verbose_shows_spec_edits_the_reference_would_hide(cdi: Invoke, tmp_path: Path) -> None:
    # The reference shows them only for env, deviceNodes, hooks or mounts; GIDs count here.
    text = spec("vendor.com/gpu", "a") + "containerEdits: {additionalGids: [44]}\n"
    write(tmp_path, "v.yaml", text.replace("0.3.0", "0.7.0"))
    result = cdi("--spec-dir", str(tmp_path), "devices", "-v")
    assert result.stdout.splitlines()[-3:] == [
        "    global Spec containerEdits:",
        "      additionalGids:",
        "          - 44",
    ]


def test_a_file_only_the_reference_defect_accepts_is_listed(cdi: Invoke, tmp_path: Path) -> None:
    # cdiVersion 0.3.0 with a hostPath (0.5.0) on the first device: every Go runtime loads it.
    text = (
        "cdiVersion: 0.3.0\nkind: vendor.com/gpu\ndevices:\n"
        "  - name: a\n    containerEdits: {deviceNodes: [{path: /dev/a, hostPath: /dev/b}]}\n"
        "  - name: b\n    containerEdits: {env: [B=1]}\n"
    )
    write(tmp_path, "v.yaml", text)
    result = cdi("--spec-dir", str(tmp_path), "devices")
    assert (result.stdout, result.stderr) == (
        "CDI devices found:\n  0. vendor.com/gpu=a\n  1. vendor.com/gpu=b\n",
        "",
    )


def test_verbose_without_spec_edits_and_in_the_files_format(cdi: Invoke, tmp_path: Path) -> None:
    document = {
        "cdiVersion": "0.3.0",
        "kind": "vendor.com/gpu",
        "devices": [{"name": "a", "containerEdits": {"env": ["A=1"]}}],
    }
    path = write(tmp_path, "v.json", json.dumps(document))
    result = cdi("--spec-dir", str(tmp_path), "devices", "-v")
    assert result.stdout == (
        "CDI devices found:\n"
        f"  vendor.com/gpu=a ({path})\n"
        "    {\n"
        '      "name": "a",\n'
        '      "containerEdits": {\n'
        '        "env": [\n'
        '          "A=1"\n'
        "        ]\n"
        "      }\n"
        "    }\n"
    )


def test_devices_json(cdi: Invoke, tmp_path: Path) -> None:
    low = write(tmp_path / "etc", "a.yaml", spec("vendor.com/gpu", "a", "b"))
    high = write(tmp_path / "run", "a.yaml", spec("vendor.com/gpu", "b"))
    dirs = ["--spec-dir", str(tmp_path / "etc"), "--spec-dir", str(tmp_path / "run")]
    result = cdi(*dirs, "devices", "-o", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == [
        {
            "name": "vendor.com/gpu=a",
            "vendor": "vendor.com",
            "class": "gpu",
            "device": "a",
            "path": str(low),
            "priority": 0,
        },
        {
            "name": "vendor.com/gpu=b",
            "vendor": "vendor.com",
            "class": "gpu",
            "device": "b",
            "path": str(high),
            "priority": 1,
        },
    ]


def test_devices_json_verbose(cdi: Invoke, tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", spec("vendor.com/gpu", "a", env="SHARED=1"))
    result = cdi("--spec-dir", str(tmp_path), "devices", "-v", "-o", "json")
    (entry,) = json.loads(result.stdout)
    assert entry["definition"] == {"name": "a", "containerEdits": {"env": ["A=1"]}}
    assert entry["specContainerEdits"] == {"env": ["SHARED=1"]}
