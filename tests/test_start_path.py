"""The start path imports next to nothing (issue 12: a new process must cost little more than
``python -c pass``).

A new interpreter runs what ``cdi devices -o json``, ``cdi inject``, ``cdi-runtime`` and the
hooks do on success, and reports which of the costly modules got imported. Timings stay in
``bench/``; this only checks the imports, which is what the timings depend on.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cdi.registry.scan import RACY_WINDOW_NS

#: Modules that cost a new process milliseconds each (or pull in ones that do).
FORBIDDEN = frozenset(
    {
        "yaml",
        "_yaml",
        "re",
        "dataclasses",
        "inspect",
        "typing",
        "logging",
        "json",
        "difflib",
        "decimal",
        "threading",
        "click",
        "msgspec",
        "enum",
        "hashlib",
        "ast",
        "tokenize",
        "datetime",
        "shlex",
        "string",
    }
)

# Builds edits by hand, injects them into an OCI spec read from a JSON file and writes the
# result as JSON; matches device names as `cdi inject` does. argv: the OCI spec file.
BY_HAND = """
import sys
import time
from cdi import globs, names, ocispec
from cdi.injection import inject, merge_edits
from cdi.spec.model import ContainerEdits, Device, DeviceNode, Mount, Spec

node = DeviceNode("/dev/cdi-test-null", type="c", major=1, minor=3, file_mode=0o666)
spec = Spec(
    "0.6.0",
    "vendor.com/c",
    devices=(Device("d", container_edits=ContainerEdits(device_nodes=(node,))),),
    container_edits=ContainerEdits(env=("A=1",), mounts=(Mount("/h", "/c", ("ro",)),)),
)
known = spec.qualified_names() + ["other.com/x=y"]
expansion = globs.expand(["vendor.com/c=d"], known)
assert expansion.names == ["vendor.com/c=d"] and expansion.unmatched == []
vendor, cls, name = names.parse_qualified_name(expansion.names[0])
device = spec.get_device(name)
edits = merge_edits([spec.container_edits, device.container_edits])
oci = ocispec.read_oci_spec(sys.argv[1])
print(ocispec.dump_document(inject(oci, edits), "json"))
"""

# The registry's path, from a warm index: list the devices, inject one. argv: the spec dir.
WITH_REGISTRY = """
import sys
import time
from cdi.registry import Registry
from cdi import ocispec

registry = Registry([sys.argv[1]])
assert registry.list_devices() == ["other.com/x=y", "vendor.com/c=d", "vendor.com/c=e"]
oci = ocispec.read_oci_spec(sys.argv[2])
print(ocispec.dump_document(registry.inject(oci, ["vendor.com/c=d"]), "json"))
"""

REPORT = "\nprint(sorted(set(sys.modules) & {forbidden!r}))\n"

OCI_SPEC = {"ociVersion": "1.0.2", "process": {"env": ["PATH=/bin"], "user": {"uid": 0}}}

SPECS = {
    "vendor.json": {
        "cdiVersion": "0.6.0",
        "kind": "vendor.com/c",
        "containerEdits": {"env": ["A=1"], "mounts": [{"hostPath": "/h", "containerPath": "/c"}]},
        "devices": [
            {
                "name": "d",
                "containerEdits": {
                    "deviceNodes": [
                        {
                            "path": "/dev/cdi-test-null",
                            "type": "c",
                            "major": 1,
                            "minor": 3,
                            "fileMode": 438,
                        }
                    ]
                },
            },
            {"name": "e", "containerEdits": {"env": ["E=1"]}},
        ],
    },
    "other.json": {
        "cdiVersion": "0.6.0",
        "kind": "other.com/x",
        "devices": [
            {
                "name": "y",
                "containerEdits": {
                    "deviceNodes": [{"path": "/dev/cdi-test-y", "type": "b", "major": 7}]
                },
            }
        ],
    },
}


def _run(code: str, *args: str, env: dict[str, str] | None = None) -> tuple[Any, list[str]]:
    """Run *code* in a new interpreter; its JSON output and the forbidden modules it loaded."""
    script = code + REPORT.format(forbidden=set(FORBIDDEN))
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr
    document, _, loaded = result.stdout.rstrip("\n").rpartition("\n")
    return json.loads(document), ast.literal_eval(loaded)


@pytest.fixture
def oci_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(OCI_SPEC))
    return path


def _expected_injection() -> dict[str, Any]:
    return {
        "ociVersion": "1.0.2",
        "process": {"env": ["PATH=/bin", "A=1"], "user": {"uid": 0}},
        "linux": {
            "devices": [
                {"path": "/dev/cdi-test-null", "type": "c", "major": 1, "minor": 3, "fileMode": 438}
            ],
            "resources": {
                "devices": [{"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]
            },
        },
    }


def test_injection_by_hand_imports_nothing_costly(oci_file: Path) -> None:
    document, loaded = _run(BY_HAND, str(oci_file))
    expected = _expected_injection()
    expected["mounts"] = [{"destination": "/c", "source": "/h", "options": ["ro"]}]
    assert document == expected
    assert loaded == []


def test_the_check_sees_a_costly_import(oci_file: Path) -> None:
    # The report itself works: a script that imports one of the modules is caught.
    _, loaded = _run("import sys, re, typing\nprint('null')\n", str(oci_file))
    assert {"re", "typing"} <= set(loaded)


def test_registry_from_a_warm_index_imports_nothing_costly(oci_file: Path, tmp_path: Path) -> None:
    spec_dir = tmp_path / "cdi"
    spec_dir.mkdir()
    for name, spec in SPECS.items():
        path = spec_dir / name
        path.write_text(json.dumps(spec))
    # Older than the racy window when the index is written: else it is read again each time.
    time.sleep((RACY_WINDOW_NS + 20_000_000) / 1e9)
    index_dir = tmp_path / "index"
    index_dir.mkdir(mode=0o700)
    env = {"CDI_INDEX_DIR": str(index_dir)}
    # The first process parses the specs and writes the index; the second uses the index.
    first, _ = _run(WITH_REGISTRY, str(spec_dir), str(oci_file), env=env)
    document, loaded = _run(WITH_REGISTRY, str(spec_dir), str(oci_file), env=env)
    expected = _expected_injection()
    expected["mounts"] = [{"destination": "/c", "source": "/h"}]
    assert first == document == expected
    assert loaded == []
