"""cdi-runtime's start path: what a new process imports before it executes the runtime.

Pass-through commands (``state``, ``kill``, ``delete`` ...) must load none of the CDI
library, and ``create`` from a warm registry index none of the costly modules. Timings are in
``bench/runtime.py``; this checks the imports they depend on.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import time

from shimtools import ShimWorld

from cdi.registry.scan import RACY_WINDOW_NS
from test_start_path import FORBIDDEN

# Runs the shim's main with execve replaced by a report of the modules loaded by then.
SHIM = """
import os, sys
OWN = {"cdi.lazy", "cdi.shim", "cdi.shim.argv", "cdi.shim.config", "cdi.shim.log",
       "cdi.shim.lookup", "cdi.shim.main", "cdi.shim.tomlsubset"}
def report(path, argv, env):
    library = sorted(m for m in sys.modules if m.startswith("cdi.") and m not in OWN)
    costly = sorted(set(sys.modules) & FORBIDDEN)
    print(repr([path, costly, library, "tomllib" in sys.modules]))
    sys.stdout.flush()
    os._exit(0)
os.execve = report
sys.argv = ["cdi-runtime", *sys.argv[1:]]
from cdi.shim.main import main
main()
"""


def _loaded(world: ShimWorld, *args: str) -> tuple[list[str], list[str], bool]:
    script = SHIM.replace("FORBIDDEN", repr(set(FORBIDDEN) | {"tomllib"}))
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=world.environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    path, costly, library, toml = ast.literal_eval(result.stdout.strip())
    assert path == str(world.fake)
    return costly, library, toml


def test_pass_through_imports_no_library(world: ShimWorld) -> None:
    for args in (["state", "c1"], ["--root", "/r", "delete", "--force", "c1"], ["kill", "c1", "9"]):
        costly, library, toml = _loaded(world, *args)
        assert (costly, library, toml) == ([], [], False), args


def test_create_from_a_warm_index_imports_nothing_costly(world: ShimWorld) -> None:
    (world.root / "index").mkdir(mode=0o700)
    # Older than the racy window when the index is written: else it is read again each time.
    time.sleep((RACY_WINDOW_NS + 20_000_000) / 1e9)
    create = ["create", "--bundle", str(world.bundle), "c1"]
    _loaded(world, *create)  # parses the spec and writes the index
    original = json.loads(world.config_json.read_text())
    assert "FOO=injected" in original["process"]["env"]
    world.write_config_json({**original, "process": {"env": ["PATH=/bin"]}})
    costly, library, toml = _loaded(world, *create)
    assert costly == [] and not toml
    # The devices came from the index, without building a registry.
    assert "cdi.registry.quick" in library and "cdi.registry.core" not in library
    assert "FOO=injected" in json.loads(world.config_json.read_text())["process"]["env"]


def test_a_plain_config_file_needs_no_toml_parser(world: ShimWorld) -> None:
    world.write_config(f'# plain\nruntimes = ["{world.fake}"]\n\n[env]\nunprivileged = false\n')
    assert _loaded(world, "state", "c1") == ([], [], False)
    world.write_config(f"runtimes = [\n  '{world.fake}',\n]\n")  # multi-line: tomllib reads it
    assert _loaded(world, "state", "c1")[2] is True
