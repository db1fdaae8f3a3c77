"""``cdi inject``: an OCI spec in (file or stdin, JSON or YAML), the updated spec out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from clitools import Invoke, spec, write

OCI = {"ociVersion": "1.0.2", "process": {"args": ["sh"], "env": ["A=1"]}}


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    directory = tmp_path / "cdi"
    write(directory, "gpu.yaml", spec("vendor.com/gpu", "gpu1", "gpu0", env="GPU=yes"))
    write(directory, "net.yaml", spec("vendor.com/net", "eth"))
    return directory


def _oci(tmp_path: Path, name: str = "config.json") -> Path:
    path = tmp_path / name
    text = json.dumps(OCI) if name.endswith(".json") else yaml.safe_dump(OCI)
    path.write_text(text, encoding="utf-8")
    return path


def test_inject_json_file(cdi: Invoke, specs: Path, tmp_path: Path) -> None:
    result = cdi("--spec-dir", str(specs), "inject", str(_oci(tmp_path)), "vendor.com/gpu=gpu0")
    assert result.exit_code == 0
    assert result.stderr == ""
    assert json.loads(result.stdout) == {
        "ociVersion": "1.0.2",
        "process": {"args": ["sh"], "env": ["A=1", "GPU=yes", "GPU0=1"]},
    }
    assert result.stdout.startswith('{\n  "ociVersion": "1.0.2",\n')


def test_globs_select_sorted_and_once(cdi: Invoke, specs: Path, tmp_path: Path) -> None:
    result = cdi(
        "--spec-dir",
        str(specs),
        "inject",
        str(_oci(tmp_path)),
        "vendor.com/gpu=*",
        "vendor.com/gpu=gpu1",
        "*/n?t=[a-f]*",
    )
    assert result.exit_code == 0
    env = json.loads(result.stdout)["process"]["env"]
    assert env == ["A=1", "GPU=yes", "GPU0=1", "GPU1=1", "ETH=1"]


def test_star_does_not_match_a_slash(cdi: Invoke, specs: Path, tmp_path: Path) -> None:
    result = cdi("--spec-dir", str(specs), "inject", str(_oci(tmp_path)), "*")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: OCI device injection failed: unresolvable CDI devices *\n"
        f'Run "cdi --spec-dir {specs} devices" to list the devices.\n'
    )


def test_yaml_file_gives_yaml(cdi: Invoke, specs: Path, tmp_path: Path) -> None:
    path = _oci(tmp_path, "config.yaml")
    result = cdi("--spec-dir", str(specs), "inject", str(path), "vendor.com/net=eth")
    assert result.exit_code == 0
    assert result.stdout == (
        "ociVersion: 1.0.2\nprocess:\n  args:\n  - sh\n  env:\n  - A=1\n  - ETH=1\n"
    )


def test_stdin_defaults_to_yaml_and_o_json(cdi: Invoke, specs: Path) -> None:
    document = json.dumps(OCI)
    result = cdi("--spec-dir", str(specs), "inject", "-", "vendor.com/net=eth", input=document)
    assert result.exit_code == 0
    assert yaml.safe_load(result.stdout)["process"]["env"] == ["A=1", "ETH=1"]
    result = cdi(
        "--spec-dir", str(specs), "inject", "-o", "json", "-", "vendor.com/net=eth", input=document
    )
    assert json.loads(result.stdout)["process"]["env"] == ["A=1", "ETH=1"]


def test_yaml_input_strings_stay_strings(cdi: Invoke, specs: Path) -> None:
    document = "process:\n  env: ['Y=y']\nannotations: {a: 'y', b: '0660'}\n"
    result = cdi("--spec-dir", str(specs), "inject", "-", "vendor.com/net=eth", input=document)
    assert result.stdout == (
        "process:\n  env:\n  - Y=y\n  - ETH=1\nannotations:\n  a: 'y'\n  b: '0660'\n"
    )


def test_unresolvable_name_prints_nothing_on_stdout(
    cdi: Invoke, specs: Path, tmp_path: Path
) -> None:
    result = cdi(
        "--spec-dir", str(specs), "inject", str(_oci(tmp_path)), "vendor.com/gpu=gpu0", "x.com/y=z"
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: OCI device injection failed: unresolvable CDI devices x.com/y=z\n"
        f'Run "cdi --spec-dir {specs} doctor x.com/y=z" to see why.\n'
    )


def test_malformed_pattern_is_a_usage_error(cdi: Invoke, specs: Path, tmp_path: Path) -> None:
    result = cdi("--spec-dir", str(specs), "inject", str(_oci(tmp_path)), "vendor.com/gpu=[")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.endswith(
        "Error: Invalid value for 'DEVICE...': syntax error in pattern \"vendor.com/gpu=[\"\n"
    )


def test_missing_oci_spec(cdi: Invoke, specs: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    result = cdi("--spec-dir", str(specs), "inject", str(missing), "vendor.com/net=eth")
    assert result.exit_code == 1
    assert result.stderr == (
        f'Error: failed to read OCI Spec ("{missing}"): open {missing}: no such file or directory\n'
    )


def test_unparsable_oci_spec(cdi: Invoke, specs: Path) -> None:
    result = cdi("--spec-dir", str(specs), "inject", "-", "vendor.com/net=eth", input="a: [\n")
    assert result.exit_code == 1
    assert result.stderr == (
        'Error: failed to parse OCI Spec ("-"): '
        "error converting YAML to JSON: yaml: line 1: did not find expected node content\n"
    )
    result = cdi("--spec-dir", str(specs), "inject", "-", "vendor.com/net=eth", input="[1]")
    assert result.stderr == (
        'Error: failed to parse OCI Spec ("-"): '
        "error unmarshaling JSON: while decoding JSON: "
        "json: cannot unmarshal array into Go value of type specs.Spec\n"
    )


@pytest.mark.parametrize("command", ["inject", "resolve"])
def test_deeply_nested_oci_spec_is_refused_clearly(
    cdi: Invoke, specs: Path, tmp_path: Path, command: str
) -> None:
    # Deep enough to pass json's own limit, far too deep for any OCI spec.
    path = tmp_path / "deep.json"
    path.write_text('{"ociVersion": "1.0.2", "a": ' + '{"a": ' * 500 + "1" + "}" * 501)
    args = [str(path), "vendor.com/net=eth"] if command == "inject" else [str(path)]
    result = cdi("--spec-dir", str(specs), command, *args)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.endswith(
        f'failed to parse OCI Spec ("{path}"): '
        "error converting YAML to JSON: yaml: exceeded max depth of 100\n"
    )


def test_injection_failure(cdi: Invoke, tmp_path: Path) -> None:
    write(
        tmp_path / "cdi",
        "dev.yaml",
        "cdiVersion: 0.3.0\nkind: vendor.com/dev\ndevices:\n"
        "  - name: x\n    containerEdits: {deviceNodes: [{path: /dev/cdi-test-missing}]}\n",
    )
    result = cdi("--spec-dir", str(tmp_path / "cdi"), "inject", "-", "vendor.com/dev=x", input="{}")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: OCI device injection failed: failed to inject devices: "
        'failed to stat CDI host device "/dev/cdi-test-missing": no such file or directory\n'
    )


def test_needs_a_spec_and_devices(cdi: Invoke) -> None:
    result = cdi("inject", "-")
    assert result.exit_code == 2
    assert result.stderr.endswith("Error: Missing argument 'DEVICE...'.\n")


@pytest.mark.parametrize("alias", ["inj", "in", "oci"])
def test_aliases(cdi: Invoke, specs: Path, alias: str) -> None:
    result = cdi("--spec-dir", str(specs), alias, "-", "vendor.com/net=eth", input="{}")
    assert result.exit_code == 0
    assert result.stdout == "process:\n  env:\n  - ETH=1\n"
