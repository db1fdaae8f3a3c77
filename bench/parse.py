"""Parse+validate speed against the raw-parse floor, measured in the same run.

For 1,000 generated spec files of each format: ``cdi.load_spec`` per file versus reading the
same files and parsing them with ``json.loads`` (JSON) or libyaml's ``yaml.load`` with
``CSafeLoader`` (YAML), which builds plain values and checks nothing. Prints per-file times
and the ratio; rounds alternate between the two and the median round is reported. For JSON,
also how many of the files the fast path (``cdi.spec.fastparse``) takes on its own.

    .venv/bin/python bench/parse.py [--files 1000] [--rounds 7]
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

import cdi
from cdi.spec.fastparse import parse_json_spec

sys.path.insert(0, str(Path(__file__).parent))
from specgen import generate, raw_json, raw_yaml


def _round(function: Callable[[Path], Any], paths: list[Path]) -> float:
    started = time.perf_counter()
    for path in paths:
        function(path)
    return time.perf_counter() - started


def measure(paths: list[Path], baseline: Callable[[Path], Any], rounds: int) -> tuple[float, float]:
    ours, raw = [], []
    for _ in range(rounds):
        raw.append(_round(baseline, paths))
        ours.append(_round(cdi.load_spec, paths))
    return statistics.median(ours), statistics.median(raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(f"{args.files} generated spec files per format, median of {args.rounds} rounds")
    print(f"{'format':<6} {'cdi.load_spec':>16} {'raw read+parse':>16} {'ratio':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, baseline in (("json", raw_json), ("yaml", raw_yaml)):
            paths = generate(Path(tmp) / fmt, args.files, fmt)
            size = sum(path.stat().st_size for path in paths) / len(paths)
            ours, raw = measure(paths, baseline, args.rounds)
            per_ours = ours / len(paths) * 1e6
            per_raw = raw / len(paths) * 1e6
            fast = ""
            if fmt == "json":
                taken = sum(parse_json_spec(path.read_bytes()) is not None for path in paths)
                fast = f", {taken} of {len(paths)} on the fast path"
            print(
                f"{fmt:<6} {per_ours:>12.1f} us/f {per_raw:>12.1f} us/f {ours / raw:>6.2f}x"
                f"   (files average {size / 1024:.1f} KiB{fast})"
            )


if __name__ == "__main__":
    main()
