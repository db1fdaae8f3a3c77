"""The ``cdi`` entry point answers the start-path commands without click, with the same result.

Every invocation runs twice, through the console script's entry point (``cdi.cli.fast``) and
through the click command line, each in a new process; stdout, stderr and the exit status
must be the same. The cases the fast path is meant to handle are also checked to be handled
there, without importing click.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from clitools import VENDOR1, write

FAST = "import sys; from cdi.cli.fast import main; sys.exit(main())"
FULL = "import sys; from cdi.cli.main import main; sys.exit(main())"
HANDLED = (
    "import sys; from cdi.cli import fast\n"
    "text = fast.run(sys.argv[1:])\n"
    "assert 'click' not in sys.modules, 'the fast path imported click'\n"
)

OCI_SPEC = {"ociVersion": "1.2.0", "process": {"args": ["sh"], "env": ["PATH=/bin"]}}


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    directory = tmp_path / "specs"
    write(directory, "vendor1.yaml", VENDOR1)
    write(
        directory,
        "gpu.json",
        json.dumps(
            {
                "cdiVersion": "0.6.0",
                "kind": "nvidia.com/gpu",
                "containerEdits": {"env": ["NVIDIA=1"]},
                "devices": [
                    {
                        "name": name,
                        "containerEdits": {
                            "deviceNodes": [
                                {"path": f"/dev/gpu{name}", "type": "c", "major": 195, "minor": 0}
                            ]
                        },
                    }
                    for name in ("0", "1", "all")
                ],
            }
        ),
    )
    write(tmp_path, "oci.json", json.dumps(OCI_SPEC))
    write(tmp_path, "oci.yaml", "ociVersion: 1.2.0\nprocess:\n  args: [sh]\n")
    return directory


def _run(code: str, args: list[str], cwd: Path, stdin: str = "") -> tuple[str, str, int]:
    env = {key: value for key, value in os.environ.items() if key != "CDI_SPEC_DIRS"}
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env,
    )
    return result.stdout, result.stderr, result.returncode


HANDLED_CASES = [
    ["devices"],
    ["devices", "-o", "json"],
    ["devices", "--output=yaml"],
    ["devices", "-o", "names"],
    ["-o", "json", "devs"],
    ["inject", "oci.json", "nvidia.com/gpu=1", "vendor1.com/device=foo"],
    ["inject", "oci.json", "nvidia.com/gpu=1", "nvidia.com/gpu=0", "nvidia.com/gpu=1"],
    ["inject", "-o", "yaml", "oci.json", "nvidia.com/gpu=all"],
    ["oci", "oci.yaml", "vendor1.com/device=foo"],
    ["-o", "json", "inject", "oci.yaml", "vendor1.com/device=foo"],
    ["inject", "-", "nvidia.com/gpu=0"],
]
FALLBACK_CASES = [
    ["devices", "-v"],
    ["devices", "-o", "bogus"],
    ["devices", "--help"],
    ["devices", "extra"],
    ["--help"],
    ["vendors"],
    ["inject", "oci.json", "nvidia.com/gpu=*"],
    ["inject", "oci.json", "nvidia.com/gpu=7"],
    ["inject", "missing.json", "nvidia.com/gpu=0"],
    ["inject", "oci.json"],
    ["inject", "oci.json", "nvidia.com/gpu=0", "-o", "json"],
    ["inject", "-", "nvidia.com/gpu=7"],
    ["--spec-dir"],
    [],
]


def _argv(specs: Path, case: list[str]) -> list[str]:
    return ["--spec-dir", str(specs), *case]


@pytest.mark.parametrize("case", HANDLED_CASES + FALLBACK_CASES, ids=" ".join)
def test_same_result_as_the_click_command(specs: Path, case: list[str]) -> None:
    stdin = json.dumps(OCI_SPEC)
    fast = _run(FAST, _argv(specs, case), specs.parent, stdin)
    assert fast == _run(FULL, _argv(specs, case), specs.parent, stdin)


@pytest.mark.parametrize("case", HANDLED_CASES, ids=" ".join)
def test_handled_without_click(specs: Path, case: list[str]) -> None:
    _, stderr, status = _run(HANDLED, _argv(specs, case), specs.parent, json.dumps(OCI_SPEC))
    assert status == 0, stderr


def test_a_spec_dir_with_problems_goes_to_the_click_command(specs: Path) -> None:
    """Its warnings come from the click command; the fast path does not print them."""
    write(specs, "broken.yaml", "cdiVersion: [")
    argv = _argv(specs, ["devices"])
    fast = _run(FAST, argv, specs.parent)
    assert fast == _run(FULL, argv, specs.parent)
    assert "failed to load" in fast[1]
    _, stderr, status = _run(HANDLED, argv, specs.parent)
    assert status != 0 and "_Fallback" in stderr


def test_spec_dir_equals_form_and_environment(specs: Path, tmp_path: Path) -> None:
    by_option = _run(FAST, [f"--spec-dir={specs}", "devices"], tmp_path)
    env_code = f"import os; os.environ['CDI_SPEC_DIRS'] = {str(specs)!r}; {FAST}"
    assert by_option == _run(env_code, ["devices"], tmp_path)
    assert "vendor1.com/device=foo" in by_option[0]


@pytest.mark.parametrize("entry", [FAST, FULL], ids=["fast", "click"])
def test_the_command_line_keeps_an_index(specs: Path, tmp_path: Path, entry: str) -> None:
    """Both ways in, ``cdi`` writes the persistent index; ``CDI_INDEX=0`` turns it off."""
    index_dir = tmp_path / "index"
    code = f"import os; os.environ['CDI_INDEX_DIR'] = {str(index_dir)!r}; {entry}"
    _run(code, _argv(specs, ["devices"]), tmp_path)
    assert len(list(index_dir.glob("specs-*.idx"))) == 1
    off = tmp_path / "off"
    code = f"import os; os.environ.update(CDI_INDEX_DIR={str(off)!r}, CDI_INDEX='0'); {entry}"
    _run(code, _argv(specs, ["devices"]), tmp_path)
    assert not off.exists()
