"""``cdi generate amd`` on fake AMD hosts (cdi.generate.amd, amdgpus, kfd, subtree, compare).

The vector tables re-express amd-ctk's own tests (internal/cdi/cdi_test.go: two mocked GPUs;
internal/amdgpu/amdgpu_test.go: the three-node KFD topology fixture) on trees built by
:mod:`generate.amdtree`, with real device nodes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import cdi
from cdi.generate import amd as amd_module
from cdi.generate.amd import DeviceNodeError, compare_specs, generate_amd
from cdi.generate.errors import GenerateError, NoDevicesError
from cdi.generate.kfd import parent_pci_id, parse_properties, render_minor_parents
from cdi.generate.output import render, write_output
from cdi.generate.subtree import Subtree
from generate.amdtree import AmdTree, build_case
from generate.fixtures import requires_root
from generate.wire import fill_root, spec_from_wire, wire
from tables import cases


def fill(value: Any, tree: AmdTree) -> Any:
    return fill_root(fill_root(value, tree.sysfs, "{sysfs}"), tree.dev, "{dev}")


def node_paths(spec: cdi.Spec) -> dict[str, list[str]]:
    return {
        device.name: [node.path for node in device.container_edits.device_nodes]
        for device in spec.devices
    }


# --------------------------------------------------------------------------- generate


@requires_root
@cases("generate/amd_generate.yaml")
def test_generate_vectors(case: dict[str, Any], tmp_path: Path) -> None:
    tree = build_case(tmp_path / "host", case)
    lines: list[str] = []

    def generate(progress: list[str]) -> cdi.Spec:
        return generate_amd(
            sysfs_root=str(tree.sysfs), dev_root=str(tree.dev), progress=progress.append
        )

    if "error" in case:
        with pytest.raises(GenerateError) as raised:
            generate(lines)
        assert type(raised.value).__name__ == case["error"]["type"]
        assert str(raised.value) == fill(case["error"]["message"], tree)
    else:
        spec = generate(lines)
        if "spec" in case:
            assert wire(spec) == fill(case["spec"], tree)
        if "devices" in case:
            assert node_paths(spec) == case["devices"]
        again: list[str] = []
        assert render(generate(again), "yaml") == render(spec, "yaml"), "not deterministic"
        assert again == lines
        written = write_output(spec, str(tmp_path / "cdi" / "amd.yaml"), "yaml")
        assert cdi.load_spec(written) == spec
    if "progress" in case:
        assert lines == fill(case["progress"], tree)


@requires_root
def test_generated_spec_resolves_in_a_registry(tmp_path: Path) -> None:
    tree = build_case(
        tmp_path / "host",
        {"gpus": [{"pci": "0000:03:00.0", "drm": ["card1", "renderD128"]}]},
    )
    spec = generate_amd(sysfs_root=str(tree.sysfs), dev_root=str(tree.dev))
    write_output(spec, str(tmp_path / "cdi" / "amd.json"), "json")
    with cdi.Registry([tmp_path / "cdi"]) as registry:
        assert registry.list_devices() == ["amd.com/gpu=0", "amd.com/gpu=all"]
        edits = registry.resolve_edits(["amd.com/gpu=0"])
    assert [node.path for node in edits.device_nodes] == [
        "/dev/dri/card1",
        "/dev/dri/renderD128",
        "/dev/kfd",
    ]


@requires_root
def test_library_never_prints(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    tree = build_case(tmp_path / "host", {"gpus": [{"pci": "0000:03:00.0", "drm": ["card1"]}]})
    with pytest.raises(NoDevicesError):
        generate_amd(sysfs_root=str(tree.sysfs), dev_root=str(tree.dev))
    (tree.dev / "kfd").unlink()
    tree.gpu("0000:04:00.0", ["renderD128"])
    tree.topology_node("location_id 1024\ndrm_render_minor 128\n")
    tree.drm_node("renderD128")
    with pytest.raises(DeviceNodeError):
        generate_amd(sysfs_root=str(tree.sysfs), dev_root=str(tree.dev))
    assert capfd.readouterr() == ("", "")


def test_dev_root_of_the_host_writes_no_host_path() -> None:
    # /dev itself as the dev root: the node is where the container path says.
    nodes = amd_module._Nodes(Subtree("/dev", "/dev"))
    node = nodes.get("null")
    assert (node.path, node.host_path, node.type, node.major, node.minor) == (
        "/dev/null",
        "",
        "c",
        1,
        3,
    )
    assert (node.uid, node.permissions) == (0, "rwm")


@pytest.mark.skipif(os.path.exists("/sys/module/amdgpu"), reason="this host has amdgpu")
def test_default_roots_on_a_host_without_amdgpu() -> None:
    with pytest.raises(NoDevicesError, match=r"^no AMD GPU found: /sys/module/amdgpu/drivers "):
        generate_amd()


# --------------------------------------------------------------------------- KFD topology


@cases("generate/amd_kfd_properties.yaml")
def test_kfd_properties_vectors(case: dict[str, Any]) -> None:
    properties = parse_properties(case["text"])
    assert properties == case["properties"]
    if "parent" in case:
        parent = parent_pci_id(properties.get("location_id", 0), properties.get("domain", 0))
        assert parent == case["parent"]


@cases("generate/amd_kfd_topology.yaml")
def test_kfd_topology_vectors(case: dict[str, Any], tmp_path: Path) -> None:
    tree = AmdTree(tmp_path)
    for text in case["nodes"]:
        tree.topology_node(text)
    for path, target in case.get("links", {}).items():
        tree.raw_link(path, target)
    parents = render_minor_parents(Subtree(str(tree.sysfs), "/sys"))
    assert parents == {int(minor): parent for minor, parent in case["parents"].items()}


# --------------------------------------------------------------------------- subtree


def _make_entry(top: Path, path: str, value: Any) -> None:
    where = top / path
    where.parent.mkdir(parents=True, exist_ok=True)
    if value == "dir":
        where.mkdir()
    elif value == "fifo":
        os.mkfifo(where)
    elif isinstance(value, dict):
        where.symlink_to(value["link"])
    else:
        where.write_text(str(value))


@cases("generate/amd_subtree.yaml")
def test_subtree_vectors(case: dict[str, Any], tmp_path: Path) -> None:
    top = tmp_path / "top"
    top.mkdir()
    for path, value in case["tree"].items():
        _make_entry(top, path, value)
    tree = Subtree(str(top), case.get("mount_point", "/sys"))
    for path, expected in case.get("resolve", {}).items():
        if isinstance(expected, dict):
            with pytest.raises(GenerateError) as raised:
                tree.resolve(path)
            assert type(raised.value).__name__ == expected["error"]
            assert str(raised.value) == fill_root(expected["message"], top)
        else:
            assert tree.resolve(path) == fill_root(expected, top)
    if "glob" in case:
        assert tree.glob(case["glob"]) == case["matches"]
    for path, text in case.get("read", {}).items():
        if text is None:
            with pytest.raises(OSError):
                tree.read_text(path)
        else:
            assert tree.read_text(path) == text


# --------------------------------------------------------------------------- compare


@cases("generate/amd_compare.yaml")
def test_compare_vectors(case: dict[str, Any]) -> None:
    existing = spec_from_wire(case["existing"])
    fresh = spec_from_wire(case["fresh"])
    assert compare_specs(existing, fresh) == case["diff"]


@requires_root
def test_compare_a_written_spec_with_a_fresh_one(tmp_path: Path) -> None:
    gpu = {"pci": "0000:03:00.0", "drm": ["card1", "renderD128"]}
    tree = build_case(tmp_path / "host", {"gpus": [gpu]})

    def generate() -> cdi.Spec:
        return generate_amd(sysfs_root=str(tree.sysfs), dev_root=str(tree.dev))

    written = write_output(generate(), str(tmp_path / "amd.json"), "json")
    assert compare_specs(cdi.load_spec(written), generate()) == []

    # The render node renumbered (a driver reload): the spec on disk is stale.
    (tree.dev / "dri/renderD128").unlink()
    tree.drm_node("renderD128", minor=129)
    diff = compare_specs(cdi.load_spec(written), generate())
    assert diff[:2] == ["--- existing", "+++ generated"]
    assert [line for line in diff if line[:1] in "+-" and line[1:2] == " "] == [
        "-              minor: 128",
        "+              minor: 129",
        "-              minor: 128",
        "+              minor: 129",
    ]
