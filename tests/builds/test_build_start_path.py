"""``cdi build`` imports only what it uses (issue 14: a fast start).

A new interpreter runs the command (or imports a module) and reports ``sys.modules``; each
test names modules that the path must not load, the ones whose import moved into the code
that needs them (image layouts and archives, outputs, a ``--config`` file, the on-demand
generators) or that the build package no longer uses (``dataclasses``). A module-level
import of any of them in the build path makes these tests fail. Timings stay in ``bench/``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

#: A runtime that does not exist: the build gets as far as its RUN step, then fails.
NO_RUNTIME = "/nonexistent/runc"

#: What a build from a directory context, without outputs or --config, must not load.
NOT_FOR_A_DIRECTORY_BUILD = frozenset(
    {
        "dataclasses",  # the build's classes are records (cdi.build.mutable, cdi.spec.record)
        "tarfile",  # image layers and archives (cdi.build.layers), ADD of an archive
        "gzip",  # outputs
        # (hashlib loads: a directory context's cache key is a digest of its content)
        "tomllib",  # --config
        "cdi.build.output",
        "cdi.build.layers",
        "cdi.generate.edits",  # the on-demand installers' generator, when they generate
        "cdi.generate.rootview",  # ... and their look at the host, when asked
        "logging",  # only to say something (cdi.lazylog)
        "cdi.runtime.rootfs",  # the busybox root maker (cdi.runtime exports lazily)
    }
)

#: What ``cdi build --help`` (and a refused flag) must not load: nothing of the build itself.
NOT_FOR_HELP = frozenset(
    {
        "cdi.build",
        "cdi.policy",
        "cdi.registry",
        "cdi.runtime",
        "cdi.spec",
        "dockerfile",  # BuildKit's parser: a Go runtime
        "dataclasses",
        "tarfile",
        "json",
        "hashlib",
        "logging",
        "subprocess",
        "tempfile",
    }
)

_RUN_MAIN = """
import sys
from cdi.cli.main import main
status = main(sys.argv[1:], standalone_mode=False)
print("STATUS", status, file=sys.stderr)
print("MODULES", " ".join(sorted(sys.modules)), file=sys.stderr)
"""


def _run(*args: str) -> tuple[str, set[str]]:
    """Run ``cdi ARGS`` in a new interpreter: its stderr and the modules it loaded."""
    result = subprocess.run(
        [sys.executable, "-c", _RUN_MAIN, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    text, _, modules = result.stderr.rpartition("MODULES ")
    return text, set(modules.split())


def _imported_by(code: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(result.stdout.split())


def test_build_help_loads_none_of_the_build() -> None:
    stderr, loaded = _run("--spec-dir", str(EXAMPLES / "cdi"), "build", "--help")
    assert "STATUS 0" in stderr
    assert "cdi.cli.build" in loaded
    assert sorted(loaded & NOT_FOR_HELP) == []


def test_importing_the_build_command_loads_none_of_the_build() -> None:
    loaded = _imported_by("import cdi.cli.build")
    assert sorted(loaded & NOT_FOR_HELP) == []


def test_a_directory_build_loads_only_what_it_uses(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "file").write_text("x\n")
    stderr, loaded = _run(
        "--spec-dir",
        str(EXAMPLES / "cdi"),
        "build",
        "--build-context",
        f"busybox={base}",
        "--allow",
        "device",
        "--runtime",
        NO_RUNTIME,
        "--progress",
        "plain",
        str(EXAMPLES / "build"),
    )
    # The build went through every phase up to running its RUN step (with its device).
    assert "#4 [2/2] RUN --device=vendor1.com/device" in stderr
    assert f'OCI runtime "{NO_RUNTIME}" not found' in stderr
    assert "STATUS 1" in stderr
    assert {"dockerfile", "cdi.build.run_step", "cdi.policy.devices"} <= loaded
    assert sorted(loaded & NOT_FOR_A_DIRECTORY_BUILD) == []


def test_the_build_package_exports_lazily() -> None:
    loaded = _imported_by("import cdi.build")
    assert {name for name in loaded if name.startswith("cdi.")} == {"cdi.build", "cdi.lazy"}
    # Parsing needs the parser, not the executor nor the policy.
    loaded = _imported_by("from cdi.build import parse\nparse('FROM scratch\\n')")
    assert "dockerfile" in loaded
    assert sorted(loaded & {"cdi.build.executor", "cdi.policy", "cdi.registry"}) == []
    # Importing the parser module does not start the Go parser.
    assert "dockerfile" not in _imported_by("import cdi.build.dockerfile")


def test_the_policy_package_exports_lazily() -> None:
    loaded = _imported_by("from cdi.policy import parse_entitlements")
    assert "cdi.policy.entitlements" in loaded
    assert sorted(loaded & {"cdi.policy.devices", "cdi.registry", "tomllib"}) == []
