"""Writing generated specs: tests/vectors/generate/output_format.yaml, and the file itself."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cdi.errors import SpecError
from cdi.generate.output import (
    OutputFormatError,
    choose_format,
    output_path,
    render,
    write_output,
)
from cdi.spec.goencode import encode_go
from cdi.spec.model import ContainerEdits, Device, DeviceNode, Spec
from tables import cases

SPEC = Spec(
    "0.5.0",
    "nvidia.com/gpu",
    devices=(
        Device("0", container_edits=ContainerEdits(device_nodes=(DeviceNode("/dev/nvidia0"),))),
    ),
    container_edits=ContainerEdits(env=("NVIDIA_VISIBLE_DEVICES=void",)),
)
#: A device without edits: invalid.
INVALID = Spec("0.5.0", "nvidia.com/gpu", devices=(Device("0"),))


@cases("generate/output_format.yaml")
def test_output_format(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(OutputFormatError) as raised:
            choose_format(case["output"], case["format"], case["explicit"])
        assert str(raised.value) == case["error"]
        return
    fmt, warning = choose_format(case["output"], case["format"], case["explicit"])
    assert (fmt, warning) == (case["expected"], case.get("warning"))
    if case["output"]:
        assert output_path(case["output"], fmt, cwd="/work") == case["path"]


@pytest.fixture
def umask() -> Iterator[None]:
    """The usual umask (022) while the test runs."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_write_output_is_0644_in_a_new_0755_directory(tmp_path: Path, umask: None) -> None:
    target = tmp_path / "cdi" / "nvidia.yaml"
    written = write_output(SPEC, str(target), "yaml")
    assert written == str(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o755
    assert target.read_bytes() == encode_go(SPEC, "yaml")


def test_write_output_mode_ignores_a_strict_umask(tmp_path: Path) -> None:
    previous = os.umask(0o077)
    try:
        target = Path(write_output(SPEC, str(tmp_path / "nvidia.json"), "json"))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert target.read_bytes() == encode_go(SPEC, "json")


def test_write_output_replaces_atomically_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "nvidia.yaml"
    target.write_text("old\n")
    old_inode = target.stat().st_ino
    write_output(SPEC, str(target), "yaml")
    assert target.stat().st_ino != old_inode  # a new file renamed over the old one
    assert sorted(os.listdir(tmp_path)) == ["nvidia.yaml"]


def test_write_output_adds_the_extension(tmp_path: Path) -> None:
    written = write_output(SPEC, str(tmp_path / "nvidia"), "json")
    assert written == str(tmp_path / "nvidia.json")
    assert os.listdir(tmp_path) == ["nvidia.json"]


def test_write_output_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert write_output(SPEC, "out/spec", "yaml") == str(tmp_path / "out" / "spec.yaml")
    assert (tmp_path / "out" / "spec.yaml").is_file()


def test_an_invalid_spec_is_not_written(tmp_path: Path) -> None:
    target = tmp_path / "nvidia.yaml"
    with pytest.raises(SpecError, match="invalid CDI Spec"):
        write_output(INVALID, str(target), "yaml")
    assert os.listdir(tmp_path) == []
    with pytest.raises(SpecError, match="invalid CDI Spec"):
        render(INVALID, "yaml")


def test_render_reads_nothing_from_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # nvidia-ctk's stdout path walks $TMPDIR; here a broken one changes nothing.
    broken = tmp_path / "tmp"
    broken.mkdir()
    (broken / "loop.yaml").symlink_to(broken / "loop.yaml")
    (broken / "bad.json").write_text("{")
    monkeypatch.setenv("TMPDIR", str(broken))
    assert render(SPEC, "yaml") == encode_go(SPEC, "yaml")
    assert sorted(os.listdir(broken)) == ["bad.json", "loop.yaml"]
