"""``cdi edits``: the merged container edits of devices (the resolved-edits API)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clitools import Invoke, spec, write


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    directory = tmp_path / "cdi"
    write(directory, "gpu.yaml", spec("vendor.com/gpu", "gpu0", "gpu1", env="GPU=yes"))
    write(directory, "net.yaml", spec("vendor.com/net", "eth"))
    return directory


def test_edits_yaml_in_request_order(cdi: Invoke, specs: Path) -> None:
    result = cdi(
        "--spec-dir",
        str(specs),
        "edits",
        "vendor.com/gpu=gpu1",
        "vendor.com/net=eth",
        "vendor.com/gpu=gpu0",
    )
    assert result.exit_code == 0
    # the spec's own edits once, before its first device
    assert result.stdout == "env:\n- GPU=yes\n- GPU1=1\n- ETH=1\n- GPU0=1\n"


def test_edits_json(cdi: Invoke, specs: Path) -> None:
    result = cdi("--spec-dir", str(specs), "-o", "json", "edits", "vendor.com/net=eth")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"env": ["ETH=1"]}


def test_spec_without_edits_of_its_own(cdi: Invoke, tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        "cdiVersion: 0.3.0\nkind: vendor.com/x\ndevices:\n"
        "  - name: a\n    containerEdits: {env: [A=1]}\n",
    )
    result = cdi("--spec-dir", str(tmp_path), "edits", "-o", "json", "vendor.com/x=a")
    assert json.loads(result.stdout) == {"env": ["A=1"]}


def test_unresolvable(cdi: Invoke, specs: Path) -> None:
    result = cdi(
        "--spec-dir", str(specs), "edits", "vendor.com/gpu=gpu0", "vendor.com/gpu=x", "a.com/b=c"
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: unresolvable CDI devices vendor.com/gpu=x, a.com/b=c\n"
        f'Run "cdi --spec-dir {specs} doctor vendor.com/gpu=x a.com/b=c" to see why.\n'
    )


def test_needs_devices(cdi: Invoke) -> None:
    result = cdi("edits")
    assert result.exit_code == 2
    assert result.stderr.endswith("Error: Missing argument 'DEVICE...'.\n")
