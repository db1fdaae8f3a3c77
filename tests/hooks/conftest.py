"""Fixtures of the hook tests: a container root opened with each resolver, and the static
cdi-hook launcher, built once per session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdi.hooks import resolve
from cdi.hooks.errors import HookError
from cdi.hooks.launcher import build_launcher
from cdi.hooks.rootfs import ContainerRoot
from needs import unavailable


@pytest.fixture(scope="session")
def hook_launcher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``cdi install-hook``'s launcher for this interpreter (skips, or fails in CI, without a
    C compiler and a static C library)."""
    if shutil.which("cc") is None:
        unavailable("no C compiler (Debian: gcc, libc6-dev) to build the cdi-hook launcher")
    destination = tmp_path_factory.mktemp("launcher") / "cdi-hook"
    try:
        build_launcher(str(destination))
    except HookError as err:
        unavailable(str(err))
    return destination


@pytest.fixture(params=["openat2", "walk"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ContainerRoot]:
    """An empty container root at ``tmp_path / "root"``, opened with the kernel's
    ``openat2`` and with our own walk (skipped where the kernel lacks ``openat2``)."""
    if request.param == "openat2" and not resolve.openat2_works():
        pytest.skip("openat2 does not work on this kernel")
    (tmp_path / "root").mkdir()
    with ContainerRoot(str(tmp_path / "root"), use_openat2=request.param == "openat2") as opened:
        yield opened
