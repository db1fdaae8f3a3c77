"""``cdi build`` through the console script's fast path gives what the click command gives.

Each case runs in a new process both ways, from the same directory with the same cache
directory state; stdout, stderr (with step durations blanked out: they are timings) and the
exit status must be the same. Builds here have no RUN step, so they need no runtime. The
cases the fast path is for are also run without letting it fall back, and must not import
click.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FAST = "import sys; from cdi.cli.fast import main; sys.exit(main())"
FULL = "import sys; from cdi.cli.main import main; sys.exit(main())"
HANDLED = (
    "import sys; from cdi.cli import fast\n"
    "text, status = fast.run(sys.argv[1:])\n"
    "assert 'click' not in sys.modules, 'the fast path imported click'\n"
    "sys.exit(status)\n"
)
DOCKERFILE = "FROM scratch AS base\nCOPY a.txt /a.txt\nWORKDIR /work\n"
#: ``#4 DONE 0.1s`` and the live view's timings are measurements, not results.
_DURATION = re.compile(r"\b\d+\.\d+s\b")

HANDLED_CASES = [
    ["build", "--progress", "plain", "ctx"],
    ["build", "--progress=plain", "--no-cache", "ctx"],
    ["build", "ctx", "--progress", "plain", "-o", "type=local,dest=out"],
    ["build", "--progress", "quiet", "-f", "ctx/Other.Dockerfile", "ctx"],
    ["build", "--progress", "plain", "--build-arg", "X=1", "--target", "base", "ctx"],
    ["build", "--progress", "plain", "ctx", "--allow", "device", "--runtime", "runc"],
    ["build", "--progress", "plain", "--spec-dir", "specs", "--auto-allow", "a.com/b", "ctx"],
    ["build", "--progress", "plain", "--build-context", "other=ctx", "ctx"],
    # A failure the build itself reports (exit 1) is still the fast path's.
    ["build", "--progress", "plain", "-f", "ctx/Broken.Dockerfile", "ctx"],
]
FALLBACK_CASES = [
    ["build", "--help"],
    ["build"],
    ["build", "ctx", "ctx"],
    ["build", "--progress", "fancy", "ctx"],
    ["build", "--allow", "bogus=1", "ctx"],
    ["build", "-o", "type=nope", "ctx"],
    ["build", "--build-arg", "=x", "ctx"],
    ["build", "--build-context", "novalue", "ctx"],
    ["build", "--config", "missing.toml", "ctx"],
    ["build", "--host-root", "ctx/a.txt", "ctx"],
    ["build", "--no-cache=yes", "ctx"],
    ["build", "-"],
    ["build", "--progress", "plain", "-fctx/Other.Dockerfile", "ctx"],
    ["build", "--", "ctx"],
]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "a.txt").write_text("a\n")
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "Other.Dockerfile").write_text("FROM scratch\nCOPY a.txt /b.txt\n")
    (context / "Broken.Dockerfile").write_text("FROM scratch\nCOPY missing /m\n")
    (tmp_path / "specs").mkdir()
    return tmp_path


def _run(code: str, args: list[str], cwd: Path, cache: Path) -> tuple[str, str, int]:
    env = {**os.environ, "CDI_BUILD_CACHE": str(cache)}
    env.pop("CDI_SPEC_DIRS", None)
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env,
    )
    return result.stdout, _DURATION.sub("N.Ns", result.stderr), result.returncode


@pytest.mark.parametrize("case", HANDLED_CASES + FALLBACK_CASES, ids=" ".join)
def test_same_result_as_the_click_command(workspace: Path, case: list[str]) -> None:
    # Each way from an empty cache and no earlier output: the same state to start from.
    fast = _run(FAST, case, workspace, workspace / "cache-fast")
    shutil.rmtree(workspace / "out", ignore_errors=True)
    full = _run(FULL, case, workspace, workspace / "cache-full")
    assert fast == full


@pytest.mark.parametrize("case", HANDLED_CASES, ids=" ".join)
def test_handled_without_click(workspace: Path, case: list[str]) -> None:
    _, stderr, status = _run(HANDLED, case, workspace, workspace / "cache")
    assert "_Fallback" not in stderr and "the fast path imported click" not in stderr
    assert status == (1 if "Broken" in " ".join(case) else 0), stderr


def test_the_output_is_the_build_result(workspace: Path) -> None:
    _, stderr, status = _run(
        FAST, ["build", "-o", "type=local,dest=out", "ctx"], workspace, workspace / "c"
    )
    assert status == 0, stderr
    assert (workspace / "out" / "a.txt").read_text() == "a\n"
    assert (workspace / "out" / "work").is_dir()


@pytest.mark.parametrize("case", FALLBACK_CASES, ids=" ".join)
def test_fallback_cases_go_to_click(workspace: Path, case: list[str]) -> None:
    _, stderr, status = _run(HANDLED, case, workspace, workspace / "cache")
    assert status != 0 and "_Fallback" in stderr
