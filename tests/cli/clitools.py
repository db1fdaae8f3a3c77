"""Helpers for the command-line tests (the fixtures are in this directory's conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import Result

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "cdi"

#: The CDI tutorial's device, as shipped in examples/cdi/vendor1.yaml.
VENDOR1 = """\
cdiVersion: 0.3.0
kind: vendor1.com/device
devices:
  - name: foo
    containerEdits:
      env:
        - FOO=injected
"""

Invoke = Callable[..., Result]


def write(directory: Path, name: str, text: str) -> Path:
    """Write *text* to ``directory/name`` (creating the directory) and return the path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def spec(kind: str, *devices: str, version: str = "0.3.0", env: str | None = None) -> str:
    """A spec file's text: each device sets ``<NAME>=1`` (``_0=1`` for device ``0``); *env* is
    the spec's own edit."""
    lines = [f"cdiVersion: {version}", f"kind: {kind}", "devices:"]
    for device in devices:
        variable = "".join(c if c.isalnum() else "_" for c in device.upper())
        if variable[:1].isdigit():
            variable = "_" + variable
        lines += [f"  - name: {device}", f"    containerEdits: {{env: [{variable}=1]}}"]
    if env is not None:
        lines.append(f"containerEdits: {{env: [{env}]}}")
    return "\n".join(lines) + "\n"


def run_cdi(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """The ``cdi`` entry point in a subprocess (text mode, output captured)."""
    env = {key: value for key, value in os.environ.items() if key != "CDI_SPEC_DIRS"}
    env.update(kwargs.pop("env", {}))
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from cdi.cli.main import main; sys.exit(main())",
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        **kwargs,
    )
