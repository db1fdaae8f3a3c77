"""OCI spec documents for the command line: lenient reading, YAML/JSON output, CDI entries."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from cdi.ocispec import (
    OCISpecError,
    choose_format,
    dump_document,
    parse_oci_spec,
    read_oci_spec,
    take_cdi_devices,
)


def test_json_keeps_order_and_unknown_fields() -> None:
    data = '{"b": 1, "a": {"x-unknown": [1, 2.5, null, true]}}'
    spec = parse_oci_spec(data, "config.json")
    assert spec == {"b": 1, "a": {"x-unknown": [1, 2.5, None, True]}}
    assert list(spec) == ["b", "a"]


def test_yaml_with_yaml_1_1_scalars() -> None:
    spec = parse_oci_spec(b"mode: 0660\nflag: yes\nname: '0660'\nlist: [a, b]\n", "x.yaml")
    assert spec == {"mode": 0o660, "flag": True, "name": "0660", "list": ["a", "b"]}


def test_yaml_repeated_key_last_wins() -> None:
    assert parse_oci_spec("a: 1\na: 2\n", "x") == {"a": 2}


def test_empty_document_is_an_empty_spec() -> None:
    assert parse_oci_spec(b"", "x") == {}
    assert parse_oci_spec("null", "x") == {}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            "a: [\n",
            'failed to parse OCI Spec ("p"): '
            "error converting YAML to JSON: yaml: line 1: did not find expected node content",
        ),
        (
            "[1]",
            'failed to parse OCI Spec ("p"): '
            "error unmarshaling JSON: while decoding JSON: "
            "json: cannot unmarshal array into Go value of type specs.Spec",
        ),
        (
            "5",
            'failed to parse OCI Spec ("p"): '
            "error unmarshaling JSON: while decoding JSON: "
            "json: cannot unmarshal number into Go value of type specs.Spec",
        ),
        (
            "just text",
            'failed to parse OCI Spec ("p"): '
            "error unmarshaling JSON: while decoding JSON: "
            "json: cannot unmarshal string into Go value of type specs.Spec",
        ),
    ],
)
def test_parse_errors(data: str, message: str) -> None:
    with pytest.raises(OCISpecError) as caught:
        parse_oci_spec(data, "p")
    assert str(caught.value) == message


def test_read_file_and_stdin(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"ociVersion": "1.0.2"}')
    assert read_oci_spec(str(path)) == {"ociVersion": "1.0.2"}
    assert read_oci_spec("-", io.BytesIO(b"ociVersion: 1.0.2\n")) == {"ociVersion": "1.0.2"}


def test_read_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(OCISpecError) as caught:
        read_oci_spec(str(missing))
    assert str(caught.value) == (
        f'failed to read OCI Spec ("{missing}"): open {missing}: no such file or directory'
    )


@pytest.mark.parametrize(
    ("explicit", "path", "fmt"),
    [
        (None, "config.json", "json"),
        (None, "config.yaml", "yaml"),
        (None, "config", "yaml"),
        (None, "-", "yaml"),
        ("text", "config.json", "json"),
        ("yaml", "config.json", "yaml"),
        ("json", "-", "json"),
    ],
)
def test_choose_format(explicit: str | None, path: str, fmt: str) -> None:
    assert choose_format(explicit, path) == fmt


def test_dump_json_is_indented_and_unicode() -> None:
    assert dump_document({"a": ["é"]}, "json") == '{\n  "a": [\n    "é"\n  ]\n}'


def test_dump_yaml_quotes_what_go_would_read_otherwise() -> None:
    value = {"a": "0660", "b": "y", "c": "on", "d": "1:20", "e": "1.5", "f": "text", "g": 7}
    text = dump_document(value, "yaml")
    assert text == "a: '0660'\nb: 'y'\nc: 'on'\nd: 1:20\ne: '1.5'\nf: text\ng: 7"
    assert parse_oci_spec(text, "x") == value


def test_dump_yaml_keeps_key_order_and_round_trips() -> None:
    value: dict[str, Any] = {"z": {"b": [1, {"c": None}], "a": True}, "y": []}
    text = dump_document(value, "yaml")
    assert text.splitlines()[0] == "z:"
    assert yaml.safe_load(text) == value
    assert json.loads(dump_document(value, "json")) == value


def _devices(*paths: str) -> dict[str, Any]:
    return {"linux": {"devices": [{"path": path} for path in paths]}}


def test_take_cdi_devices_in_order() -> None:
    names, rest = take_cdi_devices(_devices("b.com/x=1", "/dev/null", "a.com/y=2"))
    assert names == ["b.com/x=1", "a.com/y=2"]
    assert rest == _devices("/dev/null")


def test_take_cdi_devices_replaces_by_path() -> None:
    spec = {
        "linux": {
            "devices": [
                {"path": "/dev/null", "minor": 1},
                {"path": "/dev/zero"},
                {"path": "/dev/null", "minor": 2},
            ]
        }
    }
    names, rest = take_cdi_devices(spec)
    assert names == []
    assert rest["linux"]["devices"] == [{"path": "/dev/null", "minor": 2}, {"path": "/dev/zero"}]


def test_take_cdi_devices_all_cdi_leaves_an_empty_list() -> None:
    names, rest = take_cdi_devices(_devices("a.com/x=1"))
    assert names == ["a.com/x=1"]
    assert rest == {"linux": {"devices": []}}


def test_take_cdi_devices_does_not_change_its_argument() -> None:
    spec = _devices("a.com/x=1", "/dev/null")
    take_cdi_devices(spec)
    assert spec == _devices("a.com/x=1", "/dev/null")


@pytest.mark.parametrize(
    "spec",
    [{}, {"linux": None}, {"linux": {}}, {"linux": {"devices": None}}, {"process": {}}],
)
def test_take_cdi_devices_without_devices(spec: dict[str, Any]) -> None:
    assert take_cdi_devices(spec) == ([], spec)


def test_invalid_names_and_odd_entries_are_kept() -> None:
    entries: list[Any] = [{"path": "_bad.com/x=1"}, {"path": "vendor.com/x"}, {"no": "path"}, 5]
    names, rest = take_cdi_devices({"linux": {"devices": entries}})
    assert names == []
    assert rest == {"linux": {"devices": entries}}
