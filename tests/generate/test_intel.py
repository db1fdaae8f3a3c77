"""The Intel generator (cdi.generate.intel) on fake sysfs and /dev trees.

The tables ``tests/vectors/generate/intel_{gpu,accel,roots}.yaml`` share this loader. A case:

* ``tree``: the fake host (:func:`generate.inteltree.build_tree`): ``pci`` (a list of PCI
  functions: the keyword arguments of :meth:`~generate.inteltree.IntelTree.pci`, with
  ``address`` and ``class``), then ``chmod`` (``{path: {mode, gid}}``), ``links`` (``{path:
  target}``), ``files`` (``{path: content}``), ``nodes`` (``{path: [major, minor]}``),
  ``remove`` (paths); every path relative to the base, which holds ``sys`` and ``dev``;
* ``family`` (default ``gpu``), ``naming`` (default ``classic``);
* ``expect``: the specs in wire form, in order; or ``error``: ``{type, message}``;
* ``progress`` (optional): the progress lines, in order.

``{dev}`` and ``{sys}`` in expectations stand for the two roots.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import cdi
from cdi.errors import CDIError
from cdi.generate.errors import GenerateError, NoDevicesError
from cdi.generate.hostnode import DeviceNodeError, char_node
from cdi.generate.intel import IntelOptionError, generate_intel
from cdi.generate.intel_device import DuplicateNameError
from cdi.generate.output import write_output
from cdi.generate.pci import address_key, number_key
from cdi.generate.subtree import OutsideTreeError, Subtree
from cdi.spec.plain import to_plain
from generate.inteltree import IntelTree, build_tree
from generate.wire import fill_root
from tables import cases

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="device nodes need root (mknod)")

ERRORS: dict[str, type[CDIError]] = {
    "NoDevicesError": NoDevicesError,
    "DeviceNodeError": DeviceNodeError,
    "DuplicateNameError": DuplicateNameError,
    "OutsideTreeError": OutsideTreeError,
    "IntelOptionError": IntelOptionError,
    "GenerateError": GenerateError,
}


def fill(value: Any, tree: IntelTree) -> Any:
    return fill_root(fill_root(value, tree.dev, "{dev}"), tree.sys, "{sys}")


def run_case(case: dict[str, Any], base: Path) -> None:
    tree = build_tree(base / "host", case.get("tree", {}))
    lines: list[str] = []

    def generate() -> list[cdi.Spec]:
        return generate_intel(
            case.get("family", "gpu"),
            sysfs_root=str(tree.sys),
            dev_root=str(tree.dev),
            naming=case.get("naming", "classic"),
            progress=lines.append,
        )

    if "error" in case:
        error = case["error"]
        with pytest.raises(ERRORS[error["type"]]) as raised:
            generate()
        assert type(raised.value) is ERRORS[error["type"]]
        assert str(raised.value) == fill(error["message"], tree)
    else:
        specs = generate()
        assert [to_plain(spec) for spec in specs] == fill(case["expect"], tree)
        # Identical on every run, and every spec is one a runtime loads as written.
        assert generate() == specs
        for spec in specs:
            written = write_output(spec, str(base / "cdi" / spec.kind.replace("/", "-")), "yaml")
            assert to_plain(cdi.load_spec(written)) == to_plain(spec)
    if "progress" in case:
        assert lines[: len(case["progress"])] == fill(case["progress"], tree)


@cases("generate/intel_gpu.yaml")
def test_intel_gpu(case: dict[str, Any], tmp_path: Path) -> None:
    run_case(case, tmp_path)


@cases("generate/intel_accel.yaml")
def test_intel_accelerators(case: dict[str, Any], tmp_path: Path) -> None:
    run_case(case, tmp_path)


@cases("generate/intel_roots.yaml")
def test_intel_roots(case: dict[str, Any], tmp_path: Path) -> None:
    run_case(case, tmp_path)


def test_progress_is_optional(tmp_path: Path) -> None:
    tree = IntelTree(tmp_path)
    tree.pci("0000:03:00.0", drm=["card1", "renderD128"])
    (spec,) = generate_intel("gpu", sysfs_root=str(tree.sys), dev_root=str(tree.dev))
    assert [device.name for device in spec.devices] == ["card1"]


def test_a_node_under_the_real_dev_root_has_no_host_path() -> None:
    """With ``/dev`` itself as the dev root, ``hostPath`` is left out (the container path is
    the host path): the host's ``/dev/null`` stands in for a GPU node."""
    edits = char_node(Subtree("/dev", "/dev"), "null", owner="test")
    assert to_plain(edits) == {
        "deviceNodes": [
            {"path": "/dev/null", "major": 1, "minor": 3, "fileMode": 438, "permissions": "rwm"}
        ]
    }


def test_pci_addresses_sort_numerically() -> None:
    addresses = ["10000:00:00.0", "0000:0a:00.0", "ffff:00:00.0", "0000:03:00.1", "0000:03:00.0"]
    assert sorted(addresses, key=address_key) == [
        "0000:03:00.0",
        "0000:03:00.1",
        "0000:0a:00.0",
        "ffff:00:00.0",
        "10000:00:00.0",
    ]
    with pytest.raises(ValueError):
        address_key("03:00.0")


def test_node_names_sort_by_number() -> None:
    assert sorted(["card10", "card2", "renderD128", "card"], key=number_key) == [
        "card",
        "card2",
        "card10",
        "renderD128",
    ]
