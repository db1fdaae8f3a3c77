"""The worst case a spec file can cost: documents at the size and node limits.

Each document is as large as the limits allow and shaped to be as expensive as possible
per byte (the most nodes, tiny mappings, long lists), once valid and once with an error at
its very end (so that the error's position has to be found too). Each is loaded in a fresh
process by ``cdi.load_spec``; the process's wall time and peak RSS are reported next to a
raw ``read`` + ``json.loads`` / libyaml ``CSafeLoader`` load of the same file, measured the
same way (the floor: no checks, no model).

    .venv/bin/python bench/limits.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from cdi.spec.load import MAX_SPEC_SIZE
from cdi.spec.yaml11 import MAX_NODES

HEAD = "cdiVersion: 0.3.0\nkind: vendor.com/device\n"


def _fill(make: Callable[[int], str], nodes_per_item: int | None) -> str:
    """The largest ``make(count)`` within the limits (size; nodes, for YAML)."""
    count = MAX_NODES // nodes_per_item - 20 if nodes_per_item else MAX_SPEC_SIZE
    text = make(count)
    while len(text.encode()) > MAX_SPEC_SIZE:
        count = int(count * MAX_SPEC_SIZE / len(text.encode())) - 10
        text = make(count)
    return text


def _yaml_flow_nodes(count: int, bad: bool) -> str:
    items = ",".join(["{path: /a}"] * count) + (",{path: ''}" if bad else "")
    return f"{HEAD}devices: [{{name: d, containerEdits: {{deviceNodes: [{items}]}}}}]\n"


def _yaml_block_env(count: int, bad: bool) -> str:
    lines = "".join("      - A=b\n" for _ in range(count)) + ("      - ab\n" if bad else "")
    return f"{HEAD}devices:\n  - name: d\n    containerEdits:\n      env:\n{lines}"


def _yaml_flow_gids(count: int, bad: bool) -> str:
    gids = ",".join(["1"] * count) + (",-1" if bad else "")
    return (
        "cdiVersion: 0.7.0\nkind: vendor.com/device\n"
        f"devices: [{{name: d, containerEdits: {{additionalGids: [{gids}]}}}}]\n"
    )


def _json_nodes(count: int, bad: bool) -> str:
    nodes = [{"path": "/a"}] * count + ([{"path": ""}] if bad else [])
    document = {
        "cdiVersion": "0.3.0",
        "kind": "vendor.com/device",
        "devices": [{"name": "d", "containerEdits": {"deviceNodes": nodes}}],
    }
    return json.dumps(document, separators=(",", ":"))


def _json_mounts(count: int, bad: bool) -> str:
    mounts = [{"hostPath": "/a", "containerPath": "/a"}] * count + ([{}] if bad else [])
    document = {
        "cdiVersion": "0.3.0",
        "kind": "vendor.com/device",
        "devices": [{"name": "d", "containerEdits": {"mounts": mounts}}],
    }
    return json.dumps(document, separators=(",", ":"))


# name -> (document builder, YAML nodes per repeated item; JSON has no node limit)
SHAPES: dict[str, tuple[Callable[[int, bool], str], int | None]] = {
    "YAML flow {path: /a} x N": (_yaml_flow_nodes, 3),
    "YAML block env list": (_yaml_block_env, 1),
    "YAML flow gid list": (_yaml_flow_gids, 1),
    "JSON deviceNodes x N": (_json_nodes, None),
    "JSON mounts x N": (_json_mounts, None),
}

_LOAD = "import cdi, sys\ntry:\n    cdi.load_spec(sys.argv[1])\nexcept cdi.SpecError:\n    pass\n"
_RAW = (
    "import json, sys, yaml\n"
    "data = open(sys.argv[1], 'rb').read()\n"
    "json.loads(data) if sys.argv[1].endswith('.json') "
    "else yaml.load(data, Loader=yaml.CSafeLoader)\n"
)
# Wall time and peak RSS of the child, measured by a small parent so that interpreter start
# is the same for both sides.
_MEASURE = (
    "import resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "subprocess.run([sys.executable, '-c', sys.argv[1], sys.argv[2]], check=True)\n"
    "elapsed = time.perf_counter() - start\n"
    "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
    "print(elapsed, rss)\n"
)


def _measure(code: str, path: Path, rounds: int) -> tuple[float, float]:
    times, peaks = [], []
    for _ in range(rounds):
        out = subprocess.run(
            [sys.executable, "-c", _MEASURE, code, str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        times.append(float(out[0]))
        peaks.append(float(out[1]))
    return statistics.median(times), max(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"limits: {MAX_SPEC_SIZE} bytes, {MAX_NODES} YAML nodes; median of {args.rounds}")
    print(f"{'document':36} {'size':>9} {'load_spec':>10} {'raw':>8} {'ratio':>6} {'peak RSS':>9}")
    with tempfile.TemporaryDirectory() as scratch:
        for name, (build, per_item) in SHAPES.items():
            for bad in (False, True):
                text = _fill(lambda count, b=build, e=bad: b(count, e), per_item)
                suffix = ".json" if text.startswith("{") else ".yaml"
                path = Path(scratch) / f"doc{suffix}"
                path.write_text(text)
                spent, peak = _measure(_LOAD, path, args.rounds)
                floor, _ = _measure(_RAW, path, args.rounds)
                label = f"{name}{', error at end' if bad else ''}"
                print(
                    f"{label:36} {len(text) / 1024:8.0f}K {spent:9.2f}s {floor:7.2f}s "
                    f"{spent / floor:5.1f}x {peak:7.0f}MB"
                )


if __name__ == "__main__":
    main()
