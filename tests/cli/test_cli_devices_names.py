"""``cdi devices -o names``: the output of ``nvidia-ctk cdi list``."""

from __future__ import annotations

from pathlib import Path

from clitools import Invoke, spec, write


def test_names_one_a_line_sorted_and_the_count_on_stderr(cdi: Invoke, tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", spec("nvidia.com/gpu", "all", "GPU-a", "10", "2", version="0.5.0"))
    write(tmp_path, "a.yaml", spec("example.com/device", "x"))
    result = cdi("--spec-dir", str(tmp_path), "devices", "-o", "names")
    assert result.exit_code == 0
    assert result.stdout == (
        "example.com/device=x\n"
        "nvidia.com/gpu=10\n"
        "nvidia.com/gpu=2\n"
        "nvidia.com/gpu=GPU-a\n"
        "nvidia.com/gpu=all\n"
    )
    assert result.stderr == "Found 5 CDI devices\n"


def test_no_devices(cdi: Invoke, tmp_path: Path) -> None:
    result = cdi("--spec-dir", str(tmp_path), "devices", "-o", "names")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "Found 0 CDI devices\n")


def test_broken_spec_files_are_reported_on_stderr(cdi: Invoke, tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", spec("example.com/device", "x"))
    write(tmp_path, "bad.yaml", "cdiVersion: [\n")
    result = cdi("--spec-dir", str(tmp_path), "devices", "-o", "names")
    assert result.exit_code == 0
    assert result.stdout == "example.com/device=x\n"
    lines = result.stderr.splitlines()
    assert lines[0] == "Found 1 CDI devices"
    assert lines[1].startswith("Warning: 1 of 2 CDI Spec files failed to load")
