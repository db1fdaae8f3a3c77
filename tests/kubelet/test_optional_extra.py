"""grpcio, protobuf and the Kubernetes client are the optional ``kubernetes`` extra: only
the node agent (``cdi.kubelet``, ``cdi.cli.kubelet_*``) may import them, so every other
command works without them installed."""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "src" / "cdi"
EXTRA = ("grpc", "grpc_tools", "google.protobuf", "kubernetes", "urllib3")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def _of_the_extra(module: str) -> bool:
    return any(module == top or module.startswith(top + ".") for top in EXTRA)


def test_only_the_node_agent_imports_the_extra() -> None:
    agent = {SOURCE / "kubelet", *SOURCE.glob("cli/kubelet_*.py")}
    offenders = {
        str(path.relative_to(SOURCE)): sorted(filter(_of_the_extra, _imports(path)))
        for path in SOURCE.rglob("*.py")
        if not any(path == part or part in path.parents for part in agent)
    }
    assert {path: found for path, found in offenders.items() if found} == {}


def test_the_agent_does_import_it() -> None:
    # The scan sees the imports it looks for (else the test above could not fail).
    assert _of_the_extra("grpc")
    assert any(_of_the_extra(m) for m in _imports(SOURCE / "kubelet" / "unixserver.py"))
