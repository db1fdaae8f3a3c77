"""The static launcher: nothing in a hook's environment loads code into it.

Each test starts the launcher with an environment prepared to run code of ours if it is
honoured anywhere: a preloaded library (``LD_PRELOAD``) whose constructor writes a marker, a
``sitecustomize`` module on ``PYTHONPATH`` that writes one, a bogus ``PYTHONHOME``. The hook
must work, and no marker may appear.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cdi.hooks.environment import SAFE_PATH
from cdi.hooks.launcher import build_launcher
from needs import unavailable

MARKER_LIBRARY = r"""
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void planted(void) {
    int fd = open(MARKER, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) { write(fd, "preload\n", 8); close(fd); }
}
"""


@pytest.fixture
def hostile_environment(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose every trick would write to the returned marker path."""
    marker = tmp_path / "marker"
    source = tmp_path / "planted.c"
    source.write_text(MARKER_LIBRARY)
    library = tmp_path / "planted.so"
    built = subprocess.run(
        ["cc", "-shared", "-fPIC", f'-DMARKER="{marker}"', "-o", str(library), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        unavailable(f"cannot build the preload library: {built.stderr}")
    modules = tmp_path / "modules"
    modules.mkdir()
    planted = f"open({str(marker)!r}, 'a').write('python\\n')\n"
    (modules / "sitecustomize.py").write_text(planted)
    (modules / "usercustomize.py").write_text(planted)
    (modules / "json.py").write_text(planted)  # shadows the stdlib module the hook imports
    environment = {
        "LD_PRELOAD": str(library),
        "LD_LIBRARY_PATH": str(modules),
        "PYTHONPATH": str(modules),
        "PYTHONHOME": str(tmp_path / "no-such-home"),
        "PYTHONSTARTUP": str(modules / "sitecustomize.py"),
        "PYTHONINSPECT": "1",
    }
    return environment, marker


def test_a_planted_library_runs_in_a_plain_process(
    hostile_environment: tuple[dict[str, str], Path],
) -> None:
    """The trap works: without the launcher, the preload runs (so its absence below means
    something)."""
    environment, marker = hostile_environment
    subprocess.run(["/bin/true"], env=environment, check=True)
    assert marker.read_text() == "preload\n"


def test_the_launcher_runs_the_hook_and_nothing_planted(
    hook_launcher: Path, hostile_environment: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    environment, marker = hostile_environment
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    state = json.dumps({"ociVersion": "1.2.0", "id": "c", "root": str(rootfs)})
    result = subprocess.run(
        [str(hook_launcher), "create-symlinks", "--link", "libcuda.so.1::/lib/libcuda.so"],
        input=state,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (rootfs / "lib/libcuda.so").readlink() == Path("libcuda.so.1")
    assert not marker.exists()


def test_the_launcher_hands_on_only_path_and_the_hooks_switches(tmp_path: Path) -> None:
    """Built for a spy "interpreter" that records what it gets: ``-I -m cdi.hooks`` and the
    arguments, ``PATH`` and the debug switch, nothing else."""
    if shutil.which("cc") is None:
        unavailable("no C compiler to build the cdi-hook launcher")
    record = tmp_path / "record"
    spy = tmp_path / "spy"
    spy.write_text(f'#!/bin/sh\nenv > {record}\necho "$@" >> {record}\n')
    spy.chmod(0o755)
    launcher = tmp_path / "cdi-hook"
    build_launcher(str(launcher), python=str(spy))
    subprocess.run(
        [str(launcher), "create-symlinks", "--link", "a::b"],
        env={"NVIDIA_CTK_DEBUG": "true", "HOME": "/root", "LD_BIND_NOW": "1", "PYTHONPATH": "/x"},
        check=True,
        timeout=60,
    )
    lines = record.read_text().splitlines()
    assert lines[-1] == "-I -m cdi.hooks create-symlinks --link a::b"
    # /bin/sh adds PWD (and may add SHLVL) itself.
    passed = {line for line in lines[:-1] if not line.startswith(("PWD=", "SHLVL=", "_="))}
    assert passed == {f"PATH={SAFE_PATH}", "NVIDIA_CTK_DEBUG=true"}
