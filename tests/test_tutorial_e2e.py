"""The CDI tutorial end to end, through the installed ``cdi`` command under real runc.

The acceptance scenario of device-aware builds: a spec for vendor1.com/device=foo injecting
FOO=injected, and a Dockerfile step asking for that device.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runctools import RuncState

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("require_runtime")]

CDI = str(Path(sys.executable).with_name("cdi"))
EXAMPLE_SPEC = Path(__file__).parents[1] / "examples" / "cdi" / "vendor1.yaml"
DOCKERFILE = """\
# syntax=docker/dockerfile:1-labs
FROM busybox
RUN --device=vendor1.com/device env | grep ^FOO=
"""
REFUSED = (
    "ERROR: failed to build: failed to solve: failed to load LLB: "
    "device vendor1.com/device=foo is requested by the build but not allowed\n"
)
AUTOALLOW_SPEC = """\
cdiVersion: 0.6.0
kind: vendor1.com/device
annotations:
  org.mobyproject.buildkit.device.autoallow: true
devices:
  - name: foo
    containerEdits:
      env: [FOO=injected]
"""


def cdi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CDI, *args], capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def tutorial(tmp_path: Path, busybox_rootfs: Path) -> tuple[Path, Path, list[str]]:
    spec_dir = tmp_path / "cdi"
    spec_dir.mkdir()
    shutil.copy(EXAMPLE_SPEC, spec_dir / "foo.yaml")
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    build = ["--spec-dir", str(spec_dir), "build", "--build-context", f"busybox={busybox_rootfs}"]
    return spec_dir, context, build


def test_tutorial(tutorial: tuple[Path, Path, list[str]]) -> None:
    spec_dir, context, build = tutorial

    # 1. The device is listed and not allowed automatically.
    listed = cdi("--spec-dir", str(spec_dir), "inspect")
    assert (listed.returncode, listed.stdout) == (
        0,
        "Devices:\n Name:                  vendor1.com/device=foo\n Automatically allowed: false\n",
    )

    # 2. Without --allow the build is refused when it loads, before any step runs.
    refused = cdi(*build, "--progress", "plain", str(context))
    assert refused.returncode == 1
    assert refused.stderr.endswith(REFUSED)
    assert "RUN --device" not in refused.stderr.replace(REFUSED, "")

    # 3. With --allow device the step runs with the device's edits.
    allowed = cdi(*build, "--allow", "device", "--progress", "plain", str(context))
    assert allowed.returncode == 0, allowed.stderr
    step = re.search(
        r"^#(\d+) \[2/2\] RUN --device=vendor1.com/device env \| grep \^FOO=$", allowed.stderr, re.M
    )
    assert step is not None, allowed.stderr
    assert re.search(rf"^#{step.group(1)} \d+\.\d+ FOO=injected$", allowed.stderr, re.M)
    assert re.search(rf"^#{step.group(1)} DONE \d+\.\ds$", allowed.stderr, re.M)

    # 4. With the autoallow annotation in the spec, no --allow is needed.
    (spec_dir / "foo.yaml").write_text(AUTOALLOW_SPEC)
    auto = cdi(*build, "--progress", "plain", str(context))
    assert auto.returncode == 0, auto.stderr
    assert re.search(r"^#\d+ \d+\.\d+ FOO=injected$", auto.stderr, re.M)
    listed = cdi("--spec-dir", str(spec_dir), "inspect")
    assert " Automatically allowed: true\n" in listed.stdout


def test_granting_the_kind_or_the_name(tutorial: tuple[Path, Path, list[str]]) -> None:
    _, context, build = tutorial
    # Both grants allow the same device: the step (run once) is cached for the second, the
    # one allow decision; --no-cache shows that each grant itself gets the step its device.
    for grant in ("device=vendor1.com/device", "device=vendor1.com/device=foo"):
        result = cdi(*build, "--allow", grant, "--progress", "plain", str(context))
        assert result.returncode == 0, (grant, result.stderr)
        assert "FOO=injected" in result.stderr or "#4 CACHED" in result.stderr
        again = cdi(*build, "--no-cache", "--allow", grant, "--progress", "plain", str(context))
        assert again.returncode == 0, (grant, again.stderr)
        assert "FOO=injected" in again.stderr


def test_build_runtime_root(
    tutorial: tuple[Path, Path, list[str]], tmp_path: Path, runc: RuncState
) -> None:
    # RUN steps keep their containers in --runtime-root, not in $CDI_RUNTIME_ROOT (the
    # fixture's, which runc would have created had it been used), and leave none there.
    _, context, build = tutorial
    state = tmp_path / "state"
    result = cdi(*build, "--runtime-root", str(state), "--allow", "device", str(context))
    assert result.returncode == 0, result.stderr
    assert "FOO=injected" in result.stderr
    assert state.is_dir()
    assert RuncState(state).ids() == set()
    assert not runc.root.exists()


def test_multi_stage_build_with_copy_from(
    tutorial: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    _, context, build = tutorial
    (context / "Dockerfile").write_text(
        "# syntax=docker/dockerfile:1-labs\n"
        "FROM busybox AS probe\n"
        "RUN --device=vendor1.com/device sh -c 'echo \"$FOO\" > /probe.txt'\n"
        "FROM busybox\n"
        "COPY --from=probe /probe.txt /result/probe.txt\n"
        'RUN test "$(cat /result/probe.txt)" = injected\n'
        # The device's edits reach only the step that asked for it.
        'RUN test -z "$FOO"\n'
    )
    out = tmp_path / "out"
    result = cdi(*build, "--allow", "device", "--output", f"type=local,dest={out}", str(context))
    assert result.returncode == 0, result.stderr
    assert (out / "result" / "probe.txt").read_text() == "injected\n"
