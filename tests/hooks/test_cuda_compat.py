"""``enable-cuda-compat``: the decision table, the conf file, and hostile compat dirs."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from cdi.hooks import main
from cdi.hooks.cuda_compat import (
    DEFAULT_COMPAT_ROOT,
    NOTE_NAME,
    NOTE_SECTION,
    CudaCompatError,
    in_root_path,
    parse_note,
    run,
)
from cdi.hooks.rootfs import ContainerRoot
from generate.fixtures import write_shared_object
from tables import cases

COMPAT_NOTE = '{"format":1,"CUDA version":"12.9","driver":[535,550,570,575]}'


def write_library(directory: Path, name: str, note: str | None) -> Path:
    notes = [] if note is None else [(NOTE_SECTION, NOTE_NAME, note.encode())]
    return write_shared_object(directory / name, "libcuda.so.1", notes=notes)


def compat_confs(root: Path) -> list[str]:
    """The contents of the 00-compat-*.conf files written (each checked 0644)."""
    directory = root / "etc" / "ld.so.conf.d"
    found = sorted(directory.glob("00-compat-*.conf")) if directory.is_dir() else []
    for path in found:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    return [path.read_text() for path in found]


def hook(root: Path, **options: str) -> None:
    with ContainerRoot(str(root)) as opened:
        run(opened, {name: [value] for name, value in options.items()})


@cases("hooks/cuda_compat.yaml")
def test_vectors(tmp_path: Path, case: dict[str, Any]) -> None:
    root = tmp_path / "root"
    compat_root = case.get("compat_root", DEFAULT_COMPAT_ROOT)
    directory = root / in_root_path(compat_root).lstrip("/")
    directory.mkdir(parents=True)
    for name, note in case["libraries"].items():
        write_library(directory, name, note)
    options = {"cuda-compat-container-root": compat_root} if "compat_root" in case else {}
    for key, flag in (("host_driver", "host-driver-version"), ("host_cuda", "host-cuda-version")):
        if key in case:
            options[flag] = str(case[key])
    hook(root, **options)
    expected = case.get("conf", DEFAULT_COMPAT_ROOT)
    assert compat_confs(root) == ([f"{expected}\n"] if case["use"] else [])


def test_missing_compat_dir_is_a_no_op(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    hook(root, **{"host-driver-version": "570.211.01"})
    assert not (root / "etc").exists()


def test_compat_dir_through_an_in_root_link(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_library(root / "usr/local/cuda-12.9/compat", "libcuda.so.575.57.08", COMPAT_NOTE)
    (root / "usr/local/cuda").symlink_to("/usr/local/cuda-12.9")  # absolute: rooted
    hook(root, **{"host-driver-version": "570.211.01"})
    assert compat_confs(root) == ["/usr/local/cuda/compat\n"]


def test_compat_dir_link_out_of_the_root_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write_library(outside, "libcuda.so.575.57.08", COMPAT_NOTE)
    root = tmp_path / "root"
    (root / "usr/local/cuda").mkdir(parents=True)
    (root / "usr/local/cuda/compat").symlink_to(outside)
    hook(root, **{"host-driver-version": "570.211.01"})
    # Resolved inside the root there is no such directory: nothing to decide on.
    assert compat_confs(root) == []


def test_library_link_is_not_a_regular_file(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write_library(outside, "libcuda.so.575.57.08", COMPAT_NOTE)
    root = tmp_path / "root"
    compat = root / DEFAULT_COMPAT_ROOT.lstrip("/")
    compat.mkdir(parents=True)
    (compat / "libcuda.so.575.57.08").symlink_to(outside / "libcuda.so.575.57.08")
    hook(root, **{"host-driver-version": "570.211.01"})
    assert compat_confs(root) == []


def test_fifo_and_directory_are_ignored(tmp_path: Path) -> None:
    root = tmp_path / "root"
    compat = root / DEFAULT_COMPAT_ROOT.lstrip("/")
    compat.mkdir(parents=True)
    os.mkfifo(compat / "libcuda.so.600.1.2")  # would block a reader that did not check
    (compat / "libcuda.so.700.1.2").mkdir()
    write_library(compat, "libcuda.so.333.1.2", None)
    hook(root, **{"host-driver-version": "222.1.2"})
    assert compat_confs(root) == [f"{DEFAULT_COMPAT_ROOT}\n"]


def test_conf_dir_link_out_of_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    write_library(root / DEFAULT_COMPAT_ROOT.lstrip("/"), "libcuda.so.333.1.2", None)
    (root / "etc").mkdir()
    (root / "etc" / "ld.so.conf.d").symlink_to(outside)
    hook(root, **{"host-driver-version": "222.1.2"})
    assert list(outside.iterdir()) == []
    inner = root / str(outside).lstrip("/")
    assert [p.read_text() for p in inner.glob("00-compat-*.conf")] == [f"{DEFAULT_COMPAT_ROOT}\n"]


@pytest.mark.parametrize(
    ("flag", "value"),
    [("host-driver-version", "570.x"), ("host-cuda-version", "twelve")],
)
def test_unusable_version_flag(tmp_path: Path, flag: str, value: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(CudaCompatError) as caught:
        hook(root, **{flag: value})
    assert str(caught.value) == f"--{flag}: {value!r} is not a version (such as 575.57.08)"


def test_empty_version_flags_are_not_given(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_library(root / DEFAULT_COMPAT_ROOT.lstrip("/"), "libcuda.so.333.1.2", None)
    hook(root, **{"host-driver-version": "", "host-cuda-version": ""})
    assert compat_confs(root) == []


@pytest.mark.parametrize(
    ("desc", "expected"),
    [
        (None, None),
        (b"not json", None),
        (b'"a string"', None),
        (b"\xff\xfe", None),
        (COMPAT_NOTE.encode() + b"\0\0", ((12, 9), {535, 550, 570, 575})),
        (b'{"CUDA version": 12.9, "driver": [true, 1.5, "x", 570]}', (None, {570})),
    ],
)
def test_parse_note(desc: bytes | None, expected: tuple[Any, set[int]] | None) -> None:
    note = parse_note(desc)
    if expected is None:
        assert note is None
    else:
        assert note is not None
        assert (note.cuda_version, set(note.drivers)) == expected


def test_through_the_command_line(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_library(root / "usr/local/cuda/compat", "libcuda.so.575.57.08", COMPAT_NOTE)
    argv = ["enable-cuda-compat", "--host-driver-version=570.211.01"]
    state = io.BytesIO(json.dumps({"ociVersion": "1.0.2", "root": str(root)}).encode())
    assert main.run(argv, state, {}) == 0
    assert compat_confs(root) == ["/usr/local/cuda/compat\n"]
