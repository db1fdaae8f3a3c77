"""cdi.injection details beyond the tables in tests/vectors/inject/."""

from __future__ import annotations

import os
import stat
from types import MappingProxyType
from typing import Any

import pytest

import cdi
from cdi.injection import fill_device_node, lstat_device
from cdi.plaindata import MAX_DEPTH, copy_plain, nesting_depth


class HostNode:
    def __init__(self, kind: int, major: int, minor: int, mode: int) -> None:
        self.st_mode = kind | mode
        self.st_rdev = os.makedev(major, minor)


def test_wrong_json_types_are_reported() -> None:
    edits = cdi.ContainerEdits(env=("A=1",))
    with pytest.raises(cdi.InjectionError) as caught:
        cdi.inject({"process": "x"}, edits)
    assert str(caught.value) == "invalid OCI Spec: 'process' is not an object"
    with pytest.raises(cdi.InjectionError) as caught:
        cdi.inject({"process": {"env": "A=0"}}, edits)
    assert str(caught.value) == "invalid OCI Spec: 'env' is not a list"
    with pytest.raises(cdi.InjectionError) as caught:
        cdi.inject(["not", "a", "spec"], edits)  # type: ignore[arg-type]
    assert str(caught.value) == "invalid OCI Spec: not an object"


def test_null_members_are_created() -> None:
    edits = cdi.ContainerEdits(env=("A=1",), additional_gids=(5,))
    assert cdi.inject({"process": None}, edits) == {
        "process": {"env": ["A=1"], "user": {"additionalGids": [5]}}
    }


def test_unknown_hook_name() -> None:
    # Validation rejects such specs; edits built in code can still carry one.
    edits = cdi.ContainerEdits(hooks=(cdi.Hook(hook_name="preStart", path="/bin/true"),))
    with pytest.raises(cdi.InjectionError) as caught:
        cdi.inject({}, edits)
    assert str(caught.value) == 'unknown hook name "preStart"'


def test_no_edits_gives_an_equal_copy() -> None:
    oci: dict[str, Any] = {"process": {"env": ["A=1"]}}
    for edits in (None, cdi.ContainerEdits()):
        result = cdi.inject(oci, edits)
        assert result == oci
        assert result is not oci and result["process"] is not oci["process"]


def _nested(depth: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"ociVersion": "1.0.2"}
    inner = spec
    for _ in range(depth):
        inner["x"] = [{}]
        inner = inner["x"][0]
    return spec


def test_deeply_nested_specs_are_copied_without_recursion() -> None:
    oci = _nested(5000)  # far past Python's recursion limit
    result = cdi.inject(oci, cdi.ContainerEdits(env=("A=1",)))
    assert result["process"] == {"env": ["A=1"]}
    leaf, original = result, oci
    for _ in range(5000):
        leaf, original = leaf["x"][0], original["x"][0]
        assert leaf is not original
    leaf["changed"] = True
    assert "changed" not in original


def test_nesting_depth() -> None:
    assert nesting_depth("scalar") == 0
    assert nesting_depth({}) == 1
    assert nesting_depth({"a": [{"b": 1}], "c": 2}) == 3
    assert nesting_depth(_nested(5000)) == MAX_DEPTH + 1  # counting stops past the limit


def test_copy_plain_shares_only_scalars() -> None:
    value: dict[str, Any] = {"a": [1, {"b": "c"}], "m": MappingProxyType({"d": []})}
    copied = copy_plain(value)
    assert copied == {"a": [1, {"b": "c"}], "m": {"d": []}}
    assert type(copied["m"]) is dict
    assert copied["a"] is not value["a"] and copied["a"][1] is not value["a"][1]
    assert copied["m"]["d"] is not value["m"]["d"]
    assert copy_plain(7) == 7


def test_any_mapping_is_accepted() -> None:
    oci = MappingProxyType({"process": MappingProxyType({"env": ["A=1"]})})
    result = cdi.inject(oci, cdi.ContainerEdits(env=("B=2",)))
    assert result == {"process": {"env": ["A=1", "B=2"]}}


def test_filling_makes_a_new_node() -> None:
    node = cdi.DeviceNode(path="/dev/x")
    filled = fill_device_node(node, lambda path: HostNode(stat.S_IFBLK, 8, 1, 0o660))
    assert filled == cdi.DeviceNode(
        path="/dev/x", host_path="/dev/x", type="b", major=8, minor=1, file_mode=0o660
    )
    assert node == cdi.DeviceNode(path="/dev/x")


def test_setuid_and_sticky_bits_are_kept_in_the_mode() -> None:
    node = fill_device_node(
        cdi.DeviceNode(path="/dev/x"), lambda path: HostNode(stat.S_IFCHR, 1, 1, 0o4751)
    )
    assert node.file_mode == 0o4751


def test_the_default_host_lookup_is_lstat() -> None:
    info = os.lstat("/dev/null")
    assert lstat_device("/dev/null").st_rdev == info.st_rdev
    node = fill_device_node(cdi.DeviceNode(path="/dev/null"))
    assert (node.type, node.major, node.minor) == (
        "c",
        os.major(info.st_rdev),
        os.minor(info.st_rdev),
    )
    with pytest.raises(cdi.InjectionError) as caught:
        fill_device_node(cdi.DeviceNode(path="/dev/cdi-test-does-not-exist"))
    assert str(caught.value) == (
        'failed to stat CDI host device "/dev/cdi-test-does-not-exist": no such file or directory'
    )


def test_merge_keeps_a_single_edit_as_is() -> None:
    only = cdi.ContainerEdits(env=("A=1",))
    assert cdi.merge_edits([cdi.ContainerEdits(), only]) is only
    assert cdi.merge_edits([]) == cdi.ContainerEdits()


def test_annotation_devices_keep_the_mapping_order() -> None:
    annotations = {
        "cdi.k8s.io/b": "vendor.com/class=b1,vendor.com/class=b2",
        "other": "x",
        "cdi.k8s.io/a": "vendor.com/class=a",
    }
    assert cdi.devices_from_annotations(annotations) == [
        "vendor.com/class=b1",
        "vendor.com/class=b2",
        "vendor.com/class=a",
    ]
    assert cdi.devices_from_annotations(None) == []
    with pytest.raises(cdi.AnnotationError) as caught:
        cdi.devices_from_annotations({"cdi.k8s.io/x": "vendor.com/class=a, vendor.com/class=b"})
    assert str(caught.value) == 'invalid CDI device name " vendor.com/class=b"'
