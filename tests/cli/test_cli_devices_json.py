"""``cdi devices -o json`` is written from fragments: the same text as dumping the data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cdi
from benchmodules import bench_module
from cdi.cli import views
from cdi.ocispec import dump_document

generate = bench_module("specgen").generate


def _same(registry: cdi.Registry) -> str:
    text = views.devices_json(registry)
    assert text == dump_document(views.devices_data(registry), "json")
    return text


def test_a_generated_corpus(tmp_path: Path) -> None:
    generate(tmp_path / "low", 30, "json")
    generate(tmp_path / "high", 12, "yaml", seed=2)
    text = _same(cdi.Registry([tmp_path / "low", tmp_path / "high"], index=False))
    assert len(json.loads(text)) > 30


@pytest.mark.parametrize("directory", ['quote"d', "back\\slash", "ünïcode", "tab\tand\nnewline"])
def test_paths_that_need_escaping(tmp_path: Path, directory: str) -> None:
    spec_dir = tmp_path / directory
    spec_dir.mkdir()
    (spec_dir / "v.json").write_text(
        json.dumps(
            {
                "cdiVersion": "0.6.0",
                "kind": "vendor.com/class",
                "devices": [{"name": name, "containerEdits": {"env": ["A=1"]}} for name in "ba"],
            }
        )
    )
    _same(cdi.Registry([tmp_path / "none", spec_dir], index=False))


def test_no_devices(tmp_path: Path) -> None:
    assert _same(cdi.Registry([tmp_path], index=False)) == "[]"
