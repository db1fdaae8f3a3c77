"""runc's view of one state directory, for tests that check what became of their containers.

Every test runs its containers under a state directory of its own (the autouse
``runtime_root`` fixture in conftest.py), so what runc lists there is the test's and nobody
else's: other test runs and other users of runc on the machine cannot change the answer.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from cdi.runtime import run_container


class RuncState:
    """``runc --root ROOT ...`` for one root."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _runc(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["runc", "--root", str(self.root), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )

    def ids(self) -> set[str]:
        """The ids of the containers in this root."""
        result = self._runc("list", "--format", "json")
        assert result.returncode == 0, result.stderr
        return {entry["id"] for entry in json.loads(result.stdout or "null") or []}

    def status(self, container_id: str) -> str | None:
        """``created``, ``running``, ``stopped``..., or ``None`` when there is no such container."""
        result = self._runc("state", container_id)
        if result.returncode != 0:
            return None
        status: str = json.loads(result.stdout)["status"]
        return status

    def kill(self, container_id: str, signal: str = "KILL") -> None:
        self._runc("kill", container_id, signal)


def run_for_output(oci: dict[str, Any], rootfs: Path, scratch: Path) -> tuple[int, list[str]]:
    """Run *oci* on *rootfs* under runc; its exit status and output lines (stdout and stderr
    together, collected in a file under *scratch*)."""
    out = scratch / "container.out"
    with open(out, "wb") as stdout:
        status = run_container(
            oci,
            rootfs,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            timeout=120,
        )
    return status, out.read_text().splitlines()
