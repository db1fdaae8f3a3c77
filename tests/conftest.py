"""Shared fixtures.

End-to-end tests run containers under a real runc on a busybox root filesystem. They use the
``require_runtime`` fixture, which skips them where runc, a static busybox or root privileges
are missing -- unless ``CDI_E2E_REQUIRED=1`` (set by CI), where a missing piece fails them.

Every test gets a runc state directory of its own (``runtime_root``, also as
``$CDI_RUNTIME_ROOT`` for the code under test and the ``cdi`` processes it starts), so that
no test sees the containers of another test, another run of the suite or anyone else on the
machine, and none can disturb theirs. Likewise every test keeps the registry's persistent
indexes in a directory of its own (``index_dir``, also as ``$CDI_INDEX_DIR``).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from cdi.build.cache.store import CACHE_ENV
from cdi.registry.index import INDEX_DIR_ENV
from cdi.runtime import (
    RUNTIME_ROOT_ENV,
    RuntimeSetupError,
    check_privileges,
    find_busybox,
    find_runtime,
    make_busybox_rootfs,
)
from needs import unavailable
from runctools import RuncState

_ROOT_NUMBERS = itertools.count()


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


@pytest.fixture(scope="session")
def _runtime_roots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runc-roots")


@pytest.fixture(autouse=True)
def runtime_root(_runtime_roots: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's runc state directory (``runc --root``), set as ``$CDI_RUNTIME_ROOT``.

    Not created here: runc creates it on first use, so the thousand tests that run no
    container cost nothing. A numbered directory, not ``tmp_path``, keeps runc's state out of
    the directories tests inspect.
    """
    root = _runtime_roots / str(next(_ROOT_NUMBERS))
    monkeypatch.setenv(RUNTIME_ROOT_ENV, str(root))
    return root


@pytest.fixture(autouse=True)
def index_dir(_runtime_roots: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's directory for registry indexes, set as ``$CDI_INDEX_DIR`` (created on
    first use, by the registry)."""
    directory = _runtime_roots.parent / "indexes" / str(next(_ROOT_NUMBERS))
    monkeypatch.setenv(INDEX_DIR_ENV, str(directory))
    return directory


@pytest.fixture(autouse=True)
def build_cache_dir(_runtime_roots: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's build cache, set as ``$CDI_BUILD_CACHE`` (created by the first build
    that uses it): ``cdi build`` never uses the machine's own cache in a test."""
    directory = _runtime_roots.parent / "build-caches" / str(next(_ROOT_NUMBERS))
    monkeypatch.setenv(CACHE_ENV, str(directory))
    return directory


@pytest.fixture
def runc(runtime_root: Path) -> RuncState:
    """runc's view of this test's state directory: its containers and no one else's."""
    return RuncState(runtime_root)
