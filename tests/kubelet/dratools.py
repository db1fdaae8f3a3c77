"""What the DRA tests share: short temporary directories, a device spec, claims, an agent.

Socket paths must fit 107 bytes, so the directories are made under ``/tmp`` with short
names, not under pytest's long ``tmp_path``.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fakewatcher import FakeWatcher

import cdi
from cdi.kubelet.claims import StaticClaimSource
from cdi.kubelet.claimspecs import ClaimSpecs
from cdi.kubelet.dra import DRAPlugin
from cdi.kubelet.draagent import DRAAgent
from cdi.kubelet.log import AgentLog
from cdi.kubelet.slicesync import SliceSync

DRIVER = "gpu.example.com"
KIND = "vendor.com/gpu"
NODE = "node-1"

#: The node's devices: each with an env variable of its own, the spec with one for all.
DEVICE_SPEC: dict[str, Any] = {
    "cdiVersion": "0.6.0",
    "kind": KIND,
    "containerEdits": {"env": ["VENDOR_DRIVER=1"]},
    "devices": [
        {"name": "gpu0", "containerEdits": {"env": ["GPU=gpu0"]}},
        {"name": "gpu1", "containerEdits": {"env": ["GPU=gpu1"]}},
        {"name": "GPU_2", "containerEdits": {"env": ["GPU=GPU_2"]}},
    ],
}


def short_dir(prefix: str = "k") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def write_device_spec(spec_dir: Path, document: dict[str, Any] | None = None) -> None:
    spec = cdi.parse_spec(json.dumps(document or DEVICE_SPEC))
    cdi.write_spec(spec, spec_dir, "vendor-gpu.yaml")


def result(
    device: str, request: str = "gpu", *, driver: str = DRIVER, pool: str = NODE, **extra: Any
) -> dict[str, Any]:
    return {"request": request, "driver": driver, "pool": pool, "device": device, **extra}


def claim(
    name: str,
    uid: str,
    results: Sequence[dict[str, Any]] | None,
    *,
    namespace: str = "default",
) -> dict[str, Any]:
    """A ResourceClaim; *results* ``None``: not allocated."""
    body: dict[str, Any] = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": name, "namespace": namespace, "uid": uid},
        "spec": {"devices": {"requests": [{"name": "gpu"}]}},
    }
    if results is not None:
        body["status"] = {"allocation": {"devices": {"results": list(results)}}}
    return body


@dataclass
class Node:
    """One node's directories and claims, and the agents started on it."""

    root: Path
    claims: StaticClaimSource = field(default_factory=StaticClaimSource)
    log_stream: io.StringIO = field(default_factory=io.StringIO)
    agents: list[DRAAgent] = field(default_factory=list)

    @property
    def spec_dir(self) -> Path:
        return self.root / "s"

    @property
    def cdi_root(self) -> Path:
        return self.root / "c"

    @property
    def registry_dir(self) -> Path:
        return self.root / "r"

    @property
    def plugin_dir(self) -> Path:
        return self.root / "p"

    @property
    def registration_socket(self) -> str:
        return str(self.registry_dir / f"{DRIVER}-reg.sock")

    @property
    def dra_socket(self) -> str:
        return str(self.plugin_dir / "dra.sock")

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_stream.getvalue().splitlines()]

    def spec_files(self) -> list[str]:
        return (
            sorted(path.name for path in self.cdi_root.iterdir()) if self.cdi_root.exists() else []
        )

    def plugin(
        self,
        *,
        auto_refresh: bool = False,
        claims: Any = None,
        on_change: Callable[[cdi.Registry], None] | None = None,
    ) -> DRAPlugin:
        registry = cdi.Registry([self.spec_dir], auto_refresh=auto_refresh, on_change=on_change)
        return DRAPlugin(
            driver=DRIVER,
            kind=KIND,
            registry=registry,
            claims=claims if claims is not None else self.claims,
            specs=ClaimSpecs(self.cdi_root, DRIVER),
            log=AgentLog(stream=self.log_stream),
        )

    def start(self, plugin: DRAPlugin | None = None, slices: SliceSync | None = None) -> DRAAgent:
        agent = DRAAgent(
            plugin or self.plugin(),
            registry_dir=str(self.registry_dir),
            plugin_dir=str(self.plugin_dir),
            log=AgentLog(stream=self.log_stream),
            slices=slices,
        )
        agent.start()
        self.agents.append(agent)
        return agent

    def stop(self, agent: DRAAgent) -> None:
        agent.stop()
        agent.plugin.registry.close()
        self.agents.remove(agent)


@contextmanager
def new_node() -> Iterator[Node]:
    """A node with the device spec in its spec directory; its agents stopped at the end."""
    found = Node(short_dir())
    found.spec_dir.mkdir()
    found.registry_dir.mkdir()
    write_device_spec(found.spec_dir)
    try:
        yield found
    finally:
        for agent in list(found.agents):
            found.stop(agent)
        shutil.rmtree(found.root, ignore_errors=True)


@contextmanager
def new_watcher(node: Node) -> Iterator[FakeWatcher]:
    """The kubelet's plugin watcher for an agent on *node* (started if none is)."""
    if not node.agents:
        node.start()
    found = FakeWatcher(node.registration_socket)
    try:
        yield found
    finally:
        found.close()
