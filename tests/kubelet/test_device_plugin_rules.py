"""The device plugin's rules as tables: allocation, preferred allocation, health, names and
the command's usage errors (``tests/vectors/kubelet/device_plugin_*.yaml``)."""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from cdi.cli.main import main
from cdi.kubelet import allocation, pluginnames
from cdi.kubelet.health import kind_statuses
from cdi.registry import Registry
from tables import cases

GPU_IDS = ["gpu0", "gpu1", "gpu2", "gpu3"]


def _request_ids() -> Callable[[], str]:
    count = 0

    def next_id() -> str:
        nonlocal count
        count += 1
        return f"00000000-0000-4000-8000-{count:012d}"

    return next_id


@cases("kubelet/device_plugin_allocate.yaml")
def test_allocate(case: dict[str, Any]) -> None:
    def run() -> list[allocation.ContainerAllocation]:
        return allocation.allocate(
            case.get("kind", "vendor.com/gpu"),
            case["requests"],
            set(case.get("known", GPU_IDS)),
            case.get("strategies", [allocation.CDI_CRI]),
            annotation_prefix=case.get("prefix", allocation.DEFAULT_ANNOTATION_PREFIX),
            request_id=_request_ids(),
        )

    if "error" in case:
        with pytest.raises(allocation.AllocationError) as caught:
            run()
        assert str(caught.value) == case["error"]
        return
    got = [
        {"cdi_devices": list(answer.cdi_devices), "annotations": dict(answer.annotations)}
        for answer in run()
    ]
    want = [
        {"cdi_devices": item.get("cdi_devices", []), "annotations": item.get("annotations", {})}
        for item in case["expect"]
    ]
    assert got == want


@cases("kubelet/device_plugin_preferred.yaml")
def test_preferred_allocation(case: dict[str, Any]) -> None:
    got = allocation.preferred_allocation(
        case["available"], case["must_include"], case["size"], case.get("order", GPU_IDS)
    )
    assert got == case["expect"]


class _FakeStat:
    """lstat over the ``host`` map of a health case."""

    TYPES: ClassVar[dict[str, int]] = {
        "char": stat.S_IFCHR,
        "block": stat.S_IFBLK,
        "fifo": stat.S_IFIFO,
        "file": stat.S_IFREG,
        "dir": stat.S_IFDIR,
        "symlink": stat.S_IFLNK,
    }

    def __init__(self, host: dict[str, str]) -> None:
        self.host = host

    def __call__(self, path: str) -> os.stat_result:
        what = self.host.get(path)
        if what is None:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        if what == "denied":
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return os.stat_result((self.TYPES[what] | 0o600, 0, 0, 1, 0, 0, 0, 0, 0, 0))


@cases("kubelet/device_plugin_health.yaml")
def test_health(case: dict[str, Any], tmp_path: Path) -> None:
    for name, text in case["specs"].items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    with Registry([tmp_path]) as registry:
        assert registry.errors() == {}
        statuses = kind_statuses(
            registry, case.get("kind", "vendor.com/gpu"), _FakeStat(case["host"])
        )
    got = [
        {"id": status.id, "health": status.health, "missing": list(status.missing)}
        for status in statuses
    ]
    want = [{**item, "missing": item.get("missing", [])} for item in case["expect"]]
    assert got == want


_NAME_CHECKS: dict[str, Callable[[str], str]] = {
    "kind": pluginnames.check_kind,
    "resource_name": pluginnames.check_resource_name,
    "socket_name": pluginnames.check_socket_name,
    "annotation_prefix": pluginnames.check_annotation_prefix,
    "default_socket_name": pluginnames.default_socket_name,
}


@cases("kubelet/device_plugin_names.yaml")
def test_names(case: dict[str, Any]) -> None:
    check = _NAME_CHECKS[case["check"]]
    if "error" in case:
        with pytest.raises(pluginnames.PluginNameError) as caught:
            check(case["value"])
        assert str(caught.value) == case["error"]
    else:
        assert check(case["value"]) == case["expect"]


@cases("kubelet/device_plugin_cli.yaml")
def test_usage_errors(case: dict[str, Any]) -> None:
    result = CliRunner().invoke(main, ["kubelet-plugin", "device-plugin", *case["args"]])
    assert result.exit_code == case["status"], result.output
    assert result.stderr.splitlines()[-1] == case["error"]


def test_strategies_are_checked() -> None:
    assert allocation.check_strategies(["cdi-annotations", "cdi-cri", "cdi-annotations"]) == (
        "cdi-annotations",
        "cdi-cri",
    )
    with pytest.raises(allocation.AllocationError, match='unknown strategy "envvar"'):
        allocation.check_strategies(["envvar"])
    with pytest.raises(allocation.AllocationError, match="no strategy"):
        allocation.check_strategies([])


def test_without_grpc_the_command_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "grpc", None)  # import grpc now raises ImportError
    args = ["--kind", "vendor.com/gpu", "--resource-name", "vendor.com/gpu"]
    result = CliRunner().invoke(main, ["kubelet-plugin", "device-plugin", *args])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: cdi kubelet-plugin needs grpcio, which is not installed",
        "Install the kubernetes extra: pip install 'container-device-interface[kubernetes]'",
    ]
