"""Device nodes with stat data (cdi.generate.devicenode)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from cdi.generate.devicenode import (
    device_node,
    lstat_or_none,
    needs_additional_gid,
    node_edits,
)
from cdi.spec.encode import edits_to_plain
from cdi.spec.model import DeviceNode
from generate.wire import fill_root
from tables import cases


def fill_host(value: Any, host: Path) -> Any:
    return fill_root(value, host, "{host}")


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")

_TYPES = {"c": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def make_file(path: Path, spec: dict[str, Any]) -> None:
    """The host file a vector describes (see tests/vectors/generate/device_nodes.yaml)."""
    kind = spec["type"]
    if kind == "missing":
        return
    if kind == "l":
        target = path.with_name("target")
        make_file(target, {**spec, "type": "c"})
        path.symlink_to(target)
        return
    if kind == "f":
        path.write_bytes(b"")
    else:
        device = os.makedev(spec.get("major", 0), spec.get("minor", 0))
        os.mknod(path, 0o600 | _TYPES[kind], device)
    # chown first: it clears the setuid and setgid bits.
    os.chown(path, 0, spec.get("gid", 0))
    os.chmod(path, int(spec.get("mode", "0600"), 8))


@needs_root
@cases("generate/device_nodes.yaml")
def test_device_node_vectors(case: dict[str, Any], tmp_path: Path) -> None:
    host = tmp_path / "host"
    make_file(host, case["file"])
    path = str(host) if case["path"] == "same" else case["path"]
    host_path = str(host) if case["host_path"] == "same" else fill_host(case["host_path"], host)
    edits = node_edits(path, host_path, additional_gids=case.get("additional_gids", True))
    assert edits_to_plain(edits) == fill_host(case["expect"], host)


def test_stat_function_is_used_for_the_host_path() -> None:
    seen: list[str] = []
    fields = (stat.S_IFCHR | 0o660, 0, 0, 1, 0, 44, 0, 0, 0, 0)
    fake = os.stat_result(fields, {"st_rdev": os.makedev(226, 128)})

    def fake_stat(path: str) -> os.stat_result | None:
        seen.append(path)
        return fake

    node = device_node("/dev/x", "/root/dev/x", stat=fake_stat)
    assert seen == ["/root/dev/x"]
    assert node == DeviceNode(
        path="/dev/x",
        host_path="/root/dev/x",
        major=226,
        minor=128,
        file_mode=0o660,
        permissions="rwm",
        gid=44,
    )


def test_stat_less_node_when_stat_gives_nothing() -> None:
    node = device_node("/dev/x", "/dev/x", stat=lambda _path: None)
    assert node == DeviceNode(path="/dev/x")


def test_lstat_or_none(tmp_path: Path) -> None:
    assert lstat_or_none(str(tmp_path / "missing")) is None
    assert lstat_or_none("bad\0path") is None
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "missing")
    info = lstat_or_none(str(link))
    assert info is not None and stat.S_ISLNK(info.st_mode)


@pytest.mark.parametrize(
    ("gid", "mode", "expected"),
    [(None, 0o660, False), (44, 0o666, False), (44, 0o660, True), (44, None, True)],
)
def test_needs_additional_gid(gid: int | None, mode: int | None, expected: bool) -> None:
    assert needs_additional_gid(DeviceNode(path="/d", gid=gid, file_mode=mode)) is expected
