"""The persistent index never changes what a registry holds: a property test.

Two spec directories are mutated at random -- files added, removed, rewritten, renamed,
touched, chmod'ed, rewritten in place with the same size, broken -- and after each batch a
registry that starts from the index (as a new process would) must hold exactly what a registry
without an index holds. Sometimes the batch is left to age past the racy window, sometimes not:
then the index must not be trusted for the files just changed. After an aged batch, a second
registry must parse nothing but the broken files: the index is really used.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import cdi
import cdi.spec.load
from cdi.registry import quick_edits, scan

NAMES = [f"s{index}.json" for index in range(6)] + ["y0.yaml", "y1.yaml"]
KINDS = ["alpha.com/gpu", "beta.com/fpga"]
DEVICES = ["a", "b", "c"]


def _spec_text(rng: random.Random, name: str, kind: str | None = None) -> str:
    devices = [
        {"name": device, "containerEdits": {"env": [f"V={rng.randint(0, 99):02d}"]}}
        for device in rng.sample(DEVICES, rng.randint(1, len(DEVICES)))
    ]
    document = {"cdiVersion": "0.6.0", "kind": kind or rng.choice(KINDS), "devices": devices}
    if rng.random() < 0.3:
        document["containerEdits"] = {"env": ["SPEC=1"]}
    if name.endswith(".yaml"):
        lines = [f"cdiVersion: {document['cdiVersion']}", f"kind: {document['kind']}", "devices:"]
        for device in devices:
            lines += [f"- name: {device['name']}", "  containerEdits:", "    env:"]
            lines += [f"    - {entry}" for entry in device["containerEdits"]["env"]]
        return "\n".join(lines) + "\n"
    return json.dumps(document)


def _same_size_rewrite(path: Path) -> None:
    """Change one digit of the file in place: same inode, same size."""
    data = bytearray(path.read_bytes())
    digits = [index for index, byte in enumerate(data) if chr(byte).isdigit()]
    if not digits:
        return
    index = digits[-1]
    data[index] = ord("0") + (data[index] - ord("0") + 1) % 10
    with path.open("r+b") as handle:
        handle.write(data)


def _distinct_kind(path: Path) -> str:
    """A kind of the file's own: no name is defined twice, so the index keeps the devices."""
    return f"{path.parent.name}-{path.stem}.com/dev"


def _mutate(rng: random.Random, dirs: list[Path], distinct: bool) -> None:
    directory = rng.choice(dirs)
    name = rng.choice(NAMES)
    path = directory / name
    actions = ["add", "add", "remove", "rewrite", "rename", "touch", "chmod", "in-place"]
    action = rng.choice(actions if distinct else [*actions, "break"])
    if distinct and action == "rename":
        action = "rewrite"  # a moved file would keep the kind of its old name
    if action in ("add", "rewrite") or not path.exists():
        path.write_text(_spec_text(rng, name, _distinct_kind(path) if distinct else None))
    elif action == "remove":
        path.unlink()
    elif action == "rename":
        target = rng.choice(dirs) / rng.choice([n for n in NAMES if n[-5:] == name[-5:]])
        os.replace(path, target)
    elif action == "touch":
        then = time.time() - rng.randint(10, 10_000)
        os.utime(path, (then, then))
    elif action == "chmod":
        path.chmod(0o600 if path.stat().st_mode & 0o044 else 0o644)
    elif action == "in-place":
        _same_size_rewrite(path)
    else:
        path.write_text('{"cdiVersion": "0.6.0", "kind": "broken"')


def _view(registry: cdi.Registry) -> dict[str, Any]:
    devices = {}
    for name in registry.list_devices():
        found = registry.get_device(name)
        assert found is not None
        devices[name] = (found.path, found.priority, found.device)
    return {
        "devices": devices,
        "specs": [(f.path, f.priority, f.kind, f.device_names, f.spec) for f in registry.specs()],
        "errors": {path: [str(e) for e in found] for path, found in registry.errors().items()},
        "definitions": registry.definitions(),
        "vendors": registry.list_vendors(),
        "classes": registry.list_classes(),
    }


def _coarse_key(info: os.stat_result) -> tuple[int, int, int, int, int]:
    """A file's key on a filesystem that keeps whole seconds (FAT, some network mounts)."""
    second = 1_000_000_000
    mtime, ctime = info.st_mtime_ns // second * second, info.st_ctime_ns // second * second
    return (info.st_ino, info.st_dev, info.st_size, mtime, ctime)


@pytest.mark.parametrize("distinct", [False, True], ids=["shared-kinds", "distinct-kinds"])
@pytest.mark.parametrize("coarse", [False, True], ids=["fine-timestamps", "whole-seconds"])
@pytest.mark.parametrize("seed", range(2))
def test_index_agrees_with_a_full_scan(
    seed: int, coarse: bool, distinct: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With whole-second timestamps, a same-size rewrite within the second of the last scan
    leaves the key unchanged: only the racy rule sees it. With shared kinds, names are
    defined by several files (conflicts, shadowing) and some files are broken; with distinct
    kinds, none is, and unchanged files take their devices from the index's table."""
    if coarse:
        monkeypatch.setattr(scan, "_file_key", _coarse_key)
    rng = random.Random(seed)
    dirs = [tmp_path / "low", tmp_path / "high"]
    for directory in dirs:
        directory.mkdir()
    index_dir = tmp_path / "index"
    parsed: Counter[str] = Counter()
    parse_spec = cdi.spec.load.parse_spec

    def counting_parse(data: str | bytes, path: str | None = None, **options: Any) -> Any:
        parsed[str(path)] += 1
        return parse_spec(data, path, **options)

    monkeypatch.setattr(cdi.spec.load, "parse_spec", counting_parse)
    # One registry lives through all the steps (refreshing, writing the index as it goes).
    long_lived = cdi.Registry(dirs, index=index_dir)
    aged_checks = tables_reused = quick_answers = 0
    for _ in range(30):
        for _ in range(rng.randint(1, 4)):
            _mutate(rng, dirs, distinct)
        aged = rng.random() < 0.5
        if aged:  # older than the racy window, as files on a real host usually are
            time.sleep((scan.RACY_WINDOW_NS + 20_000_000) / 1e9)
        reference = cdi.Registry(dirs, index=False)
        expected = _view(reference)
        assert _view(cdi.Registry(dirs, index=index_dir)) == expected
        # The index's quick answer is a registry's, or none at all.
        for name in [*expected["devices"], "nowhere.com/x=y"]:
            quick = quick_edits([name], dirs, index=index_dir)
            if quick is not None:
                assert quick == reference.resolve_edits([name]), name
                quick_answers += 1
        long_lived.refresh()
        assert _view(long_lived) == expected
        if aged:
            parsed.clear()
            again = cdi.Registry(dirs, index=index_dir)
            assert _view(again) == expected
            broken = {
                path
                for path, errors in expected["errors"].items()
                if any(error.startswith("failed to load") for error in errors)
            }
            assert set(parsed) <= broken, "an aged, unchanged file was parsed again"
            aged_checks += 1
            tables_reused += again._snapshot.devices._stored is not None
    assert aged_checks > 0
    if not coarse:
        assert quick_answers > 0
    if not distinct:
        assert tables_reused == 0
    elif not coarse:  # (whole-second timestamps keep every file racy for two seconds)
        assert tables_reused > 0
