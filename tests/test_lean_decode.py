"""The start path's decoding imports only what it uses.

Decoding a spec from the registry index (``decode_spec`` of a ``json.loads`` value), reading
an OCI runtime spec (``read_json(..., pairs=False)``) and parsing a plain JSON spec file
happen on every container start, where every module imported costs: none of them may load
PyYAML, ``re``, ``json``, ``typing`` or the other modules below. Checked in a fresh
interpreter, which imports none of them itself.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from test_start_path import FORBIDDEN

SPEC = {
    "cdiVersion": "0.6.0",
    "kind": "vendor.com/gpu",
    "annotations": {"a": "b"},
    "devices": [
        {
            "name": "0",
            "containerEdits": {
                "deviceNodes": [{"path": "/dev/gpu0", "type": "c", "major": 195, "minor": 0}],
                "mounts": [{"hostPath": "/lib/x.so", "containerPath": "/lib/x.so"}],
            },
        }
    ],
    "containerEdits": {
        "env": ["A=b"],
        "hooks": [{"hookName": "createContainer", "path": "/bin/hook", "args": ["hook"]}],
    },
}
OCI_SPEC = '{"ociVersion": "1.2.0", "process": {"args": ["sh"], "env": ["A=\\u00e9"]}}'


def _heavy_modules_after(code: str) -> list[str]:
    listing = "import sys; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\n{listing}"], capture_output=True, text=True, check=True
    )
    loaded = result.stdout.split()
    return sorted(name for name in loaded if name.split(".")[0] in FORBIDDEN)


def test_a_fresh_interpreter_has_none_of_them() -> None:
    assert _heavy_modules_after("") == []


@pytest.mark.parametrize(
    "value", [SPEC, {**SPEC, "Kind": "vendor.com/gpu", "kind": "x"}], ids=["plain", "unusual"]
)
def test_decode_spec_of_a_plain_value(value: dict[str, object]) -> None:
    # The second one is for the full decoder (two spellings of one field: an error).
    code = (
        "import _json, cdi.spec.decode\n"
        f"value = {value!r}\n"
        "try:\n"
        "    cdi.spec.decode.decode_spec(value)\n"
        "except cdi.spec.decode.DecodeError:\n"
        "    pass\n"
    )
    assert _heavy_modules_after(code) == []


def test_read_json_of_an_oci_spec() -> None:
    code = (
        "from cdi.spec.gojson import read_json\n"
        f"assert read_json({OCI_SPEC!r}.encode(), pairs=False)[1]['process']['env'] == ['A=é']\n"
    )
    assert _heavy_modules_after(code) == []


def test_parse_spec_of_a_json_file() -> None:
    code = f"from cdi.spec.load import parse_spec\nparse_spec({json.dumps(SPEC)!r}.encode())\n"
    assert _heavy_modules_after(code) == []
