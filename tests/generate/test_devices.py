"""The generic generator (cdi.generate.devices) on fake dev and sysfs trees.

The vector tables ``tests/vectors/generate/devices_*.yaml`` each hold cases of this shape:

``tree``
    The fake tree (see :mod:`generate.devicestree`).
``args``
    Keyword arguments of ``generate_devices`` (``kind`` included; ``dev_root`` and
    ``sysfs_root`` default to the fake tree's).
``expect``
    The spec in wire form, or ``error`` (the exact message) with ``error_type`` (the class
    name). ``{dev}`` and ``{sys}`` stand for the fake trees' directories.
``progress``
    Optional: the exact progress lines.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import cdi
from cdi.generate.devices import generate_devices
from cdi.generate.errors import GenerateError
from cdi.generate.output import write_output
from cdi.spec.plain import to_plain
from generate.devicestree import build_tree
from tables import cases

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="device nodes need root (mknod)")


def fill(value: Any, dev: Path, sys: Path) -> Any:
    """*value* with ``{dev}`` and ``{sys}`` replaced in every string."""
    if isinstance(value, str):
        return value.replace("{dev}", str(dev)).replace("{sys}", str(sys))
    if isinstance(value, list):
        return [fill(item, dev, sys) for item in value]
    if isinstance(value, dict):
        return {key: fill(item, dev, sys) for key, item in value.items()}
    return value


def run_case(case: dict[str, Any], base: Path) -> None:
    dev, sys = build_tree(base, case.get("tree") or {})
    args = fill({"dev_root": "{dev}", "sysfs_root": "{sys}", **case["args"]}, dev, sys)
    kind = args.pop("kind")
    lines: list[str] = []
    if "error" in case:
        with pytest.raises(GenerateError) as caught:
            generate_devices(kind, progress=lines.append, **args)
        assert type(caught.value).__name__ == case["error_type"]
        assert str(caught.value) == fill(case["error"], dev, sys)
    else:
        spec = generate_devices(kind, progress=lines.append, **args)
        assert to_plain(spec) == fill(case["expect"], dev, sys)
        # What is generated is a spec like any other: written, it loads back unchanged.
        written = write_output(spec, str(base / "out" / "spec.yaml"), "yaml")
        assert cdi.load_spec(written) == spec
        assert generate_devices(kind, **args) == spec, "a second run must give the same spec"
    if "progress" in case:
        assert lines == fill(case["progress"], dev, sys)


@cases("generate/devices_globs.yaml")
def test_glob_vectors(case: dict[str, Any], tmp_path: Path) -> None:
    run_case(case, tmp_path)


@cases("generate/devices_sysfs.yaml")
def test_sysfs_class_vectors(case: dict[str, Any], tmp_path: Path) -> None:
    run_case(case, tmp_path)


@cases("generate/devices_names.yaml")
def test_name_vectors(case: dict[str, Any], tmp_path: Path) -> None:
    run_case(case, tmp_path)


@cases("generate/devices_edits.yaml")
def test_env_and_mount_vectors(case: dict[str, Any], tmp_path: Path) -> None:
    run_case(case, tmp_path)


@cases("generate/devices_hardware.yaml")
def test_hardware_vectors(case: dict[str, Any], tmp_path: Path) -> None:
    run_case(case, tmp_path)


def test_the_real_dev_needs_no_host_path(tmp_path: Path) -> None:
    """With the host's own /dev the node is its own host path: no hostPath is written, and
    the numbers are the kernel's (/dev/null is 1:3 everywhere)."""
    spec = generate_devices(
        "example.com/null", device_globs=["/dev/null"], sysfs_root=str(tmp_path)
    )
    node = spec.devices[0].container_edits.device_nodes[0]
    assert (node.path, node.host_path, node.major, node.minor) == ("/dev/null", "", 1, 3)
    assert spec.cdi_version == "0.5.0"  # the name "0" starts with a digit


def test_an_unstatable_node_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dev, sys = build_tree(tmp_path, {"dev": {"fpga0": {"char": "240:0"}}})
    real_lstat = os.lstat

    def failing_lstat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if str(path) == f"{dev}/fpga0":
            raise PermissionError(13, "Permission denied")
        return real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", failing_lstat)
    with pytest.raises(GenerateError) as caught:
        generate_devices(
            "example.com/fpga", device_globs=["/dev/fpga*"], dev_root=str(dev), sysfs_root=str(sys)
        )
    assert str(caught.value) == f"cannot stat /dev/fpga0 ({dev}/fpga0): Permission denied"
