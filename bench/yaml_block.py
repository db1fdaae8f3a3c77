"""The block-style YAML reader against the full YAML 1.1 reader and libyaml, same run.

For generated spec files in two layouts -- PyYAML's ``safe_dump`` (the ``specgen.py``
corpus) and yaml.v3's, as nvidia-ctk writes them (the same specs through
``cdi.spec.goencode``) -- the time per file of:

- ``CSafeLoader``: libyaml's own loader (``yaml.load``), the raw floor the targets use;
- ``yaml11.parse``: the full reader (libyaml events, YAML 1.1 resolution, positions);
- ``read_block``: the block reader (``None`` for documents it leaves to the full reader).

Bytes are in memory (no file reads); rounds alternate and the median round is reported,
with ratios to ``CSafeLoader``.

    .venv/bin/python bench/yaml_block.py [--files 1000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

import cdi
from cdi.spec import yaml11
from cdi.spec.goencode import encode_go
from cdi.spec.yamlblock import read_block

sys.path.insert(0, str(Path(__file__).parent))
from specgen import generate


def _csafe(data: bytes) -> Any:
    return yaml.load(data, Loader=yaml.CSafeLoader)


READERS: dict[str, Callable[[bytes], Any]] = {
    "CSafeLoader": _csafe,
    "yaml11.parse": yaml11.parse,
    "read_block": read_block,
}


def _round(reader: Callable[[bytes], Any], documents: list[bytes]) -> float:
    started = time.perf_counter()
    for data in documents:
        reader(data)
    return time.perf_counter() - started


def measure(documents: list[bytes], rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in READERS}
    for _ in range(rounds):
        for name, reader in READERS.items():
            times[name].append(_round(reader, documents))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pyyaml = [path.read_bytes() for path in generate(Path(tmp), args.files, "yaml")]
    layouts = {
        "PyYAML": pyyaml,
        "yaml.v3": [encode_go(cdi.parse_spec(data), "yaml") for data in pyyaml],
    }
    print(f"{args.files} generated spec files per layout, median of {args.rounds} rounds")
    print(f"{'layout':<8} {'fast path':>9}  " + "  ".join(f"{name:>22}" for name in READERS))
    for layout, documents in layouts.items():
        taken = sum(read_block(data) is not None for data in documents)
        result = measure(documents, args.rounds)
        floor = result["CSafeLoader"]
        cells = [
            f"{seconds / len(documents) * 1e6:8.1f} us/f ({seconds / floor:4.2f}x)"
            for seconds in result.values()
        ]
        print(
            f"{layout:<8} {taken / len(documents):>9.0%}  " + "  ".join(f"{c:>22}" for c in cells)
        )


if __name__ == "__main__":
    main()
