"""``cdi transform root``: reading, moving, writing; errors without tracebacks."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from clitools import Invoke, write

SPEC = """\
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
  - name: "0"
    containerEdits:
      deviceNodes:
        - path: /dev/nvidia0
          hostPath: /run/nvidia/driver/dev/nvidia0
containerEdits:
  hooks:
    - hookName: createContainer
      path: /run/nvidia/driver/usr/bin/nvidia-cdi-hook
      args: [nvidia-cdi-hook, create-symlinks, --link, "libcuda.so.1::/usr/lib/libcuda.so"]
  mounts:
    - hostPath: /run/nvidia/driver/usr/lib/libcuda.so.1
      containerPath: /usr/lib/libcuda.so.1
      options: [ro, nosuid, nodev, rbind, rprivate]
"""

MOVED = """\
---
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
    - name: "0"
      containerEdits:
        deviceNodes:
            - path: /dev/nvidia0
              hostPath: /dev/nvidia0
containerEdits:
    hooks:
        - hookName: createContainer
          path: /usr/bin/nvidia-cdi-hook
          args:
            - nvidia-cdi-hook
            - create-symlinks
            - --link
            - libcuda.so.1::/usr/lib/libcuda.so
    mounts:
        - hostPath: /usr/lib/libcuda.so.1
          containerPath: /usr/lib/libcuda.so.1
          options:
            - ro
            - nosuid
            - nodev
            - rbind
            - rprivate
"""

MOVE = ("transform", "root", "--from", "/run/nvidia/driver", "--to", "/")


def test_stdin_to_stdout_as_yaml(cdi: Invoke) -> None:
    result = cdi(*MOVE, input=SPEC)
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == MOVED


def test_file_to_stdout_with_an_explicit_json(cdi: Invoke, tmp_path: Path) -> None:
    path = write(tmp_path, "in.yaml", SPEC)
    result = cdi(*MOVE, "--input", str(path), "--format", "json")
    assert result.exit_code == 0
    assert not result.stdout.endswith("\n")
    moved = json.loads(result.stdout)
    assert moved["containerEdits"]["mounts"][0]["hostPath"] == "/usr/lib/libcuda.so.1"


def test_output_file_format_from_its_extension(cdi: Invoke, tmp_path: Path) -> None:
    path = write(tmp_path, "in.yaml", SPEC)
    target = tmp_path / "out" / "nvidia.json"
    result = cdi(*MOVE, "--input", str(path), "--output", str(target))
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    data = target.read_text()
    assert data.startswith('{"cdiVersion":"0.5.0","kind":"nvidia.com/gpu","devices":[')
    assert sorted(os.listdir(target.parent)) == ["nvidia.json"]


def test_output_file_without_extension_is_yaml(cdi: Invoke, tmp_path: Path) -> None:
    result = cdi(*MOVE, "--output", str(tmp_path / "nvidia"), input=SPEC)
    assert result.exit_code == 0
    assert (tmp_path / "nvidia.yaml").read_text() == MOVED


def test_explicit_format_wins_over_the_extension(cdi: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "nvidia.yaml"
    result = cdi(*MOVE, "--output", str(target), "--format", "json", input=SPEC)
    assert result.exit_code == 0
    assert result.stderr == (
        'Warning: Requested output format "json" does not match format implied by output '
        'file name: "yaml"; writing json as requested\n'
    )
    assert json.loads(target.read_text())["kind"] == "nvidia.com/gpu"


def test_relative_to_container(cdi: Invoke) -> None:
    result = cdi(
        "transform", "root", "--from", "/usr/lib", "--to", "/usr/lib64",
        "--relative-to", "container", input=SPEC,
    )  # fmt: skip
    assert result.exit_code == 0
    assert "            - libcuda.so.1::/usr/lib64/libcuda.so\n" in result.stdout
    assert "          containerPath: /usr/lib64/libcuda.so.1\n" in result.stdout
    assert "        - hostPath: /run/nvidia/driver/usr/lib/libcuda.so.1\n" in result.stdout


def test_invalid_input_is_an_error_without_traceback(cdi: Invoke) -> None:
    result = cdi(*MOVE, input="cdiVersion: 0.3.0\nkind: nvidia.com/gpu\ndevices: []\n")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "Error: 3:1: invalid CDI Spec: invalid spec, no devices\n"


def test_missing_input_file(cdi: Invoke, tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    result = cdi(*MOVE, "--input", str(missing))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith(f"Error: {missing}: failed to read CDI Spec ")
    assert result.stderr.endswith(": no such file or directory\n")
    assert "Traceback" not in result.stderr


def test_from_and_to_are_required(cdi: Invoke) -> None:
    result = cdi("transform", "root", "--to", "/", input=SPEC)
    assert result.exit_code == 2
    assert "Missing option '--from'" in result.stderr


def test_help_explains_the_rule(cdi: Invoke) -> None:
    result = cdi("transform", "root", "--help")
    assert result.exit_code == 0
    assert "component" in result.stdout and "--relative-to [host|container]" in result.stdout
    assert "root" in cdi("transform", "--help").stdout
