"""Shared fixtures.

End-to-end tests run containers under a real runc on a busybox root filesystem. They use the
``require_runtime`` fixture, which skips them where runc, a static busybox or root privileges
are missing -- unless ``CDI_E2E_REQUIRED=1`` (set by CI), where a missing piece fails them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

from cdi.runtime import (
    RuntimeSetupError,
    check_privileges,
    find_busybox,
    find_runtime,
    make_busybox_rootfs,
)

E2E_REQUIRED = os.environ.get("CDI_E2E_REQUIRED") == "1"


def unavailable(reason: str) -> NoReturn:
    """Skip the test for *reason*, or fail it when end-to-end tests are required."""
    if E2E_REQUIRED:
        pytest.fail(f"CDI_E2E_REQUIRED=1 but end-to-end tests cannot run: {reason}")
    pytest.skip(reason)


def runtime_problem() -> str | None:
    """Why containers cannot run here (runc, static busybox, root), or ``None``."""
    try:
        find_runtime("runc")
        find_busybox()
        check_privileges()
    except RuntimeSetupError as exc:
        return str(exc)
    return None


@pytest.fixture(scope="session")
def require_busybox() -> str:
    """The path of a static busybox (skips or fails without one)."""
    try:
        return find_busybox()
    except RuntimeSetupError as exc:
        unavailable(str(exc))


@pytest.fixture(scope="session")
def require_runtime() -> None:
    """Skip (or, with CDI_E2E_REQUIRED=1, fail) unless containers can run here."""
    problem = runtime_problem()
    if problem is not None:
        unavailable(problem)


@pytest.fixture(scope="session")
def busybox_rootfs(require_busybox: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A busybox root filesystem shared by the whole session: do not write into it.

    runc creates missing mount points (and ``relative`` destinations) in the root filesystem
    itself, so a test that mounts something at a path the root lacks uses ``fresh_rootfs``.
    """
    return make_busybox_rootfs(tmp_path_factory.mktemp("busybox") / "rootfs")


@pytest.fixture
def fresh_rootfs(require_busybox: str, tmp_path: Path) -> Path:
    """A busybox root filesystem of this test's own."""
    return make_busybox_rootfs(tmp_path / "rootfs", busybox=require_busybox)
