"""Reading spec files: the schema's examples, guard rails against hostile input, file errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
import referencing
import referencing.jsonschema

import cdi
from cdi.errors import SpecError
from cdi.spec import yaml11
from cdi.spec.load import MAX_SPEC_SIZE, parse_value
from cdi.spec.yaml11 import MAX_NODES

SCHEMA_DIR = Path(__file__).parent / "vectors" / "schema"


def _schema_validator() -> jsonschema.Draft7Validator:
    resources = []
    for name in ("schema.json", "defs.json"):
        contents = json.loads((SCHEMA_DIR / name).read_text())
        resource = referencing.Resource.from_contents(contents, referencing.jsonschema.DRAFT7)
        resources.append((name, resource))
    registry = referencing.Registry().with_resources(resources)
    schema = json.loads((SCHEMA_DIR / "schema.json").read_text())
    return jsonschema.Draft7Validator(schema, registry=registry)


@pytest.mark.parametrize("path", sorted((SCHEMA_DIR / "testdata" / "good").iterdir()), ids=str)
def test_schema_good_examples_load(path: Path) -> None:
    _schema_validator().validate(json.loads(path.read_text()))
    spec = cdi.load_spec(path)
    assert spec.devices


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("empty.json", "no Spec data"),
        ("explicit-empty.json", 'invalid CDI Spec: invalid version ""'),
    ],
)
def test_schema_bad_examples_rejected(name: str, error: str) -> None:
    path = SCHEMA_DIR / "testdata" / "bad" / name
    text = path.read_text()
    if text:
        assert not _schema_validator().is_valid(json.loads(text))
    with pytest.raises(SpecError) as caught:
        cdi.load_spec(path)
    assert str(caught.value).endswith(error)


def test_json_fast_path_matches_the_yaml_path() -> None:
    documents = [p.read_text() for p in (SCHEMA_DIR / "testdata" / "good").iterdir()]
    documents.append(
        '{"a": 1.0, "b": 1e3, "c": [true, false, null], "d": "\\u00e9\\n", "e": -0, '
        '"f": 18446744073709551616, "g": {"h": []}}'
    )
    for document in documents:
        assert parse_value(document) == yaml11.load(document)


def test_billion_laughs_fails_fast() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        refs = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    with pytest.raises(SpecError) as caught:
        cdi.parse_spec("\n".join(lines) + "\n", "laughs.yaml")
    assert "yaml: document contains excessive aliasing" in str(caught.value)
    assert caught.value.line is not None


def test_deep_nesting_is_refused_without_crashing() -> None:
    # libyaml's own composer recursion would crash the interpreter on the first document.
    flow = "[" * 100_000 + "]" * 100_000
    with pytest.raises(SpecError, match="yaml: exceeded maximum nesting depth"):
        cdi.parse_spec(flow)
    block = "a:\n" + "".join(" " * i + "- \n" for i in range(150))
    with pytest.raises(SpecError, match="yaml: exceeded max depth of 100"):
        cdi.parse_spec(block)


def test_deep_json_takes_the_yaml_path() -> None:
    with pytest.raises(SpecError) as caught:
        cdi.parse_spec("{" + '"a":[' * 5000 + "]" * 5000 + "}")
    assert "yaml: exceeded max depth of 100" in str(caught.value)


def test_node_limit_bounds_the_work() -> None:
    env = ",".join(["A=b"] * (MAX_NODES + 1))
    document = (
        "cdiVersion: 0.3.0\nkind: a.com/b\n"
        f"devices: [{{name: d, containerEdits: {{env: [{env}]}}}}]"
    )
    with pytest.raises(SpecError) as caught:
        cdi.parse_spec(document)
    assert str(caught.value) == (
        "failed to unmarshal CDI Spec: error converting YAML to JSON: "
        f"yaml: document has more than {MAX_NODES} nodes"
    )
    assert caught.value.line == 3


def test_json_errors_are_located_without_a_yaml_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    """Positions in a JSON file come from its text; the slow YAML parser is never asked."""
    documents = {
        # unknown field, deep inside
        '{"cdiVersion": "0.3.0", "kind": "a.com/b",\n "devices": [{"name": "d",\n'
        '  "containerEdits": {"env": ["A=b"], "xyzzy": 1}}]}': (3, 38),
        # a rule broken in the second device
        '{"cdiVersion": "0.3.0", "kind": "a.com/b", "devices": [{"name": "d",'
        ' "containerEdits": {"env": ["A=b"]}},\n {"name": "e", "containerEdits": {}}]}': (2, 16),
        # a repeated key
        '{"cdiVersion": "0.3.0", "kind": "a.com/b", "devices": [],\n "kind": "c.com/d"}': (2, 2),
    }

    def no_yaml(data: object) -> None:
        raise AssertionError("the YAML path parsed a JSON document")

    monkeypatch.setattr(yaml11, "parse", no_yaml)
    for document, position in documents.items():
        with pytest.raises(SpecError) as caught:
            cdi.parse_spec(document)
        assert (caught.value.line, caught.value.column) == position


def test_yaml_errors_are_located_from_the_one_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    runs = []
    real_run = yaml11._Builder.run

    def counted(builder: yaml11._Builder, data: str | bytes) -> list[object]:
        runs.append(data)
        return real_run(builder, data)

    monkeypatch.setattr(yaml11._Builder, "run", counted)
    with pytest.raises(SpecError) as caught:
        cdi.parse_spec(
            "cdiVersion: 0.3.0\nkind: a.com/b\ndevices:\n- name: d\n  containerEdits: {}\n"
        )
    assert (caught.value.line, caught.value.column) == (5, 3)
    assert len(runs) == 1


def test_oversized_data_is_refused() -> None:
    with pytest.raises(SpecError) as caught:
        cdi.parse_spec(b" " * (MAX_SPEC_SIZE + 1), "big.yaml")
    assert str(caught.value) == (
        'failed to parse CDI Spec "big.yaml": failed to unmarshal CDI Spec: '
        f"spec is {MAX_SPEC_SIZE + 1} bytes, larger than the limit of {MAX_SPEC_SIZE} bytes"
    )


def test_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as handle:
        handle.truncate(MAX_SPEC_SIZE + 1)
    with pytest.raises(SpecError) as caught:
        cdi.load_spec(path)
    assert str(caught.value) == (
        f'failed to read CDI Spec "{path}": '
        f"spec is {MAX_SPEC_SIZE + 1} bytes, larger than the limit of {MAX_SPEC_SIZE} bytes"
    )


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "fifo.yaml"
    os.mkfifo(path)
    with pytest.raises(SpecError) as caught:
        cdi.load_spec(path)
    assert str(caught.value) == f'failed to read CDI Spec "{path}": not a regular file'


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    with pytest.raises(SpecError) as caught:
        cdi.load_spec(path)
    assert str(caught.value) == (
        f'failed to read CDI Spec "{path}": open {path}: no such file or directory'
    )
    assert caught.value.path == str(path)


def test_describe_names_file_line_column_and_hint() -> None:
    with pytest.raises(SpecError) as caught:
        cdi.parse_spec("cdiVersion: 0.3.0\nknid: a.com/b\n", "x.yaml")
    assert caught.value.describe() == (
        'x.yaml:2:1: failed to parse CDI Spec "x.yaml": failed to unmarshal CDI Spec: '
        "error unmarshaling JSON: while decoding JSON: "
        'json: unknown field "knid" (did you mean "kind"?)'
    )


def test_validate_spec_built_in_code() -> None:
    spec = cdi.Spec("0.3.0", "vendor.com/device", devices=(cdi.Device("dev"),))
    with pytest.raises(SpecError) as caught:
        cdi.validate_spec(spec)
    assert str(caught.value) == (
        'invalid CDI Spec: failed add device "dev": invalid device, empty device edits'
    )
    assert caught.value.field_path == ("devices", 0, "containerEdits")


def test_model_is_immutable() -> None:
    spec = cdi.parse_spec(
        "cdiVersion: 0.6.0\nkind: v.com/d\nannotations: {a: b}\n"
        "devices: [{name: x, containerEdits: {env: [A=b]}}]\n"
    )
    with pytest.raises(AttributeError):
        spec.kind = "other.com/d"  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.annotations["a"] = "c"  # type: ignore[index]
    assert isinstance(spec.devices, tuple)
    assert spec.devices[0].container_edits.env == ("A=b",)
