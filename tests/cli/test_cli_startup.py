"""Start-up stays cheap: commands import only what they use (timings: bench/startup.py)."""

from __future__ import annotations

import subprocess
import sys

from clitools import EXAMPLES


def _modules_loaded_by(*args: str) -> set[str]:
    code = (
        "import sys\n"
        "from cdi.cli.main import main\n"
        f"main({list(args)!r}, standalone_mode=False)\n"
        "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return set(result.stderr.split())


def _ours(modules: set[str]) -> set[str]:
    return {name for name in modules if name == "yaml" or name.startswith("cdi.")}


def test_help_loads_no_command() -> None:
    assert _ours(_modules_loaded_by("--help")) == {
        "cdi.cli",
        "cdi.cli.lazygroup",
        "cdi.cli.main",
        "cdi.lazy",
    }


def test_devices_json_loads_the_registry_and_nothing_else() -> None:
    loaded = _modules_loaded_by("--spec-dir", str(EXAMPLES), "devices", "-o", "json")
    assert "cdi.registry.core" in loaded
    for unwanted in (
        "cdi.runtime",
        "cdi.build",
        "cdi.policy",
        "cdi.diagnose",
        "cdi.globs",
        "cdi.cli.inspect",
        "cdi.cli.run",
        "cdi.spec.encode",  # listing writes nothing
        "inotify_simple",  # nor watches
        "click.testing",
    ):
        assert unwanted not in loaded
