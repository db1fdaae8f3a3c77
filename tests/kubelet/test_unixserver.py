"""A server serves on its socket and removes it when it stops."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdi.kubelet.unixserver import UnixServer


@pytest.fixture
def short_dir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="k", dir="/tmp"))  # the 107-byte limit
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_stop_removes_the_socket_it_bound(short_dir: Path) -> None:
    server = UnixServer(str(short_dir / "a.sock"), lambda _server: None)
    server.start()
    assert stat.S_ISSOCK(os.lstat(server.path).st_mode)
    server.stop(0)
    assert not os.path.lexists(short_dir / "a.sock")
