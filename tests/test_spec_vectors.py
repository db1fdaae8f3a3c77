"""The spec layer against the data-driven tables in tests/vectors/spec/."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

import cdi
from cdi.annotations import annotation_key, annotation_value, parse_annotations, update_annotations
from cdi.errors import AnnotationError, InvalidNameError, SpecError
from cdi.spec import gojson, load
from cdi.spec.decode import decode_spec
from cdi.spec.load import parse_value
from cdi.spec.plain import to_plain
from cdi.spec.version import reference_minimum_version
from cdi.spec.yaml11 import resolve_plain
from tables import cases, load_table


def _decode(document: dict[str, Any]) -> cdi.Spec:
    """A spec from a plain document, without validation."""
    return decode_spec(parse_value(json.dumps(document)))


@cases("spec/names.yaml")
def test_names(case: dict[str, Any]) -> None:
    assert list(cdi.parse_device(case["device"])) == case["parts"]
    assert cdi.is_qualified_name(case["device"]) is case["valid"]
    if case["valid"]:
        assert list(cdi.parse_qualified_name(case["device"])) == case["parts"]
    else:
        with pytest.raises(InvalidNameError) as caught:
            cdi.parse_qualified_name(case["device"])
        assert str(caught.value) == case["error"]


@cases("spec/qualifiers.yaml")
def test_qualifiers(case: dict[str, Any]) -> None:
    assert list(cdi.parse_qualifier(case["kind"])) == case["expect"]


@cases("spec/minimum_version.yaml")
def test_minimum_version(case: dict[str, Any]) -> None:
    spec = _decode(case["spec"])
    assert cdi.minimum_version(spec) == case["expect"]
    assert reference_minimum_version(spec) == case.get("enforced", case["expect"])


@cases("spec/validate_version.yaml")
def test_validate_version(case: dict[str, Any]) -> None:
    if "devices" in case:
        devices = [{"name": f"dev{i}", "containerEdits": e} for i, e in enumerate(case["devices"])]
    else:
        devices = [{"name": "dev", "containerEdits": case.get("edits", {"env": ["A=b"]})}]
    document: dict[str, Any] = {
        "cdiVersion": case["version"],
        "kind": "vendor.com/device",
        "devices": devices,
    }
    if "specEdits" in case:
        document["containerEdits"] = case["specEdits"]
    _expect_validation(document, case.get("error"))


def _expect_validation(document: dict[str, Any], error: str | None, strict: bool = False) -> None:
    data = json.dumps(document)
    if error is None:
        cdi.parse_spec(data, strict=strict)
        return
    with pytest.raises(SpecError) as caught:
        cdi.parse_spec(data, strict=strict)
    assert str(caught.value) == f"invalid CDI Spec: {error}"


# Placeholders for values too long to write out in a table.
_LONG_VALUES = {"5000-DIGITS": "9" * 5000, "30-DIGITS": "1" * 30, "LONG-KEY": "k" * 1100}


def _expand(value: Any) -> Any:
    if isinstance(value, str):
        for placeholder, long_value in _LONG_VALUES.items():
            value = value.replace(placeholder, long_value)
        return value
    if isinstance(value, dict):
        return {_expand(key): _expand(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_expand(item) for item in value]
    return value


def _outcome(data: str | bytes, path: str | None = None) -> Any:
    try:
        return to_plain(cdi.parse_spec(data, path))
    except SpecError as err:
        return (str(err), err.line, err.column, err.hint)


@cases("spec/parse.yaml")
def test_parse(case: dict[str, Any]) -> None:
    case = _expand(case)
    path = case.get("path", "test.yaml")
    data = case["data"]
    if "error" not in case:
        spec = cdi.parse_spec(data, path)
        assert to_plain(spec) == case["expect"]
        return
    with pytest.raises(SpecError) as caught:
        cdi.parse_spec(data, path)
    error = caught.value
    assert str(error) == case["error"]
    assert error.path == path
    assert (error.line, error.column) == (case.get("line"), case.get("column"))
    assert error.hint == case.get("hint")


def _parse_cases(keep: Any) -> Any:
    """``parametrize`` over the cases of spec/parse.yaml (placeholders expanded) that *keep*."""
    table = [_expand(case) for case in load_table("spec/parse.yaml")]
    chosen = [case for case in table if keep(case)]
    return pytest.mark.parametrize("case", chosen, ids=[case["name"] for case in chosen])


def _read_as_json(case: dict[str, Any]) -> bool:
    data = case["data"]
    return load._looks_like_json(data) and gojson.read_json(data) is not None


@_parse_cases(lambda case: isinstance(case["data"], str))
def test_parse_bytes_and_text_agree(case: dict[str, Any]) -> None:
    data = case["data"]
    assert _outcome(data) == _outcome(data.encode())


@_parse_cases(lambda case: _read_as_json(case) and not case.get("yaml_path_differs"))
def test_json_fast_path_agrees_with_the_yaml_path(
    case: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The C JSON path is an optimisation: the YAML path must give the same outcome."""
    data = case["data"]
    fast = _outcome(data, "f.json")
    monkeypatch.setattr(load, "parse_json_spec", lambda data, strict=False: None)
    monkeypatch.setattr(load, "read_json", lambda data: None)
    assert _outcome(data, "f.json") == fast


@cases("spec/container_edits.yaml")
def test_container_edits(case: dict[str, Any]) -> None:
    edits = case["edits"]
    if edits.get("intelRdt", {}).get("closID") == "LONG4096":
        edits["intelRdt"]["closID"] = "c" * 4096
    document = {
        "cdiVersion": "1.1.0",
        "kind": "vendor.com/device",
        "containerEdits": edits,
        "devices": [{"name": "dev", "containerEdits": {"env": ["A=b"]}}],
    }
    _expect_validation(document, case.get("error"))


@cases("spec/device_edits.yaml")
def test_device_edits(case: dict[str, Any]) -> None:
    document = {
        "cdiVersion": "1.1.0",
        "kind": "vendor.com/device",
        "devices": [{"name": "dev", "containerEdits": case["edits"]}],
    }
    _expect_validation(document, case.get("error"))


@cases("spec/strict_annotations.yaml")
def test_strict_annotations(case: dict[str, Any]) -> None:
    spec_annotations = case.get("spec_annotations", {})
    if spec_annotations.get("big") == "SIZE262144":
        spec_annotations["big"] = "x" * 262144
    document = {
        "cdiVersion": "0.6.0",
        "kind": "vendor.com/device",
        "annotations": spec_annotations,
        "devices": [
            {
                "name": "dev",
                "annotations": case.get("device_annotations", {}),
                "containerEdits": {"env": ["A=b"]},
            }
        ],
    }
    cdi.parse_spec(json.dumps(document))  # the default load accepts them all
    _expect_validation(document, case.get("error"), strict=True)


@cases("spec/annotations.yaml")
def test_annotations(case: dict[str, Any]) -> None:
    op = case["op"]
    calls = {
        "key": lambda: annotation_key(case["plugin"], case["id"]),
        "value": lambda: annotation_value(case["devices"]),
        "update": lambda: update_annotations(
            case["annotations"], case["plugin"], case["id"], case["devices"]
        ),
        "parse": lambda: dict(
            zip(("keys", "devices"), parse_annotations(case["annotations"]), strict=True)
        ),
    }
    if "error" in case:
        before = dict(case.get("annotations") or {})
        with pytest.raises(AnnotationError) as caught:
            calls[op]()
        assert str(caught.value) == case["error"]
        assert dict(case.get("annotations") or {}) == before
    else:
        assert calls[op]() == case["expect"]


@cases("spec/write.yaml")
def test_write(case: dict[str, Any], tmp_path: Path) -> None:
    spec = _decode(case["spec"])
    if "error" in case:
        with pytest.raises(cdi.CDIError) as caught:
            cdi.write_spec(spec, tmp_path, case.get("file_name"))
        assert str(caught.value) == case["error"]
        assert list(tmp_path.iterdir()) == []
        return
    written = Path(cdi.write_spec(spec, tmp_path, case.get("file_name")))
    assert written == tmp_path / case["file"]
    assert [p.name for p in tmp_path.iterdir()] == [case["file"]]
    data = written.read_bytes()
    if "yaml" in case:
        assert data.decode() == case["yaml"]
    if "json" in case:
        assert data.decode() == case["json"]
    assert written.stat().st_mode & 0o777 == 0o644
    assert cdi.load_spec(written) == spec


@cases("spec/spec_names.yaml")
def test_spec_names(case: dict[str, Any]) -> None:
    if "kind" in case:
        spec = cdi.Spec("0.3.0", case["kind"])
        if "id" in case:
            call = lambda: cdi.name_for_transient_spec(spec, case["id"])  # noqa: E731
        else:
            call = lambda: cdi.name_for_spec(spec)  # noqa: E731
        if "error" in case:
            with pytest.raises(SpecError) as caught:
                call()
            assert str(caught.value) == case["error"]
            return
        assert call() == case["expect"]
    elif "id" in case:
        assert cdi.transient_spec_name(case["vendor"], case["class"], case["id"]) == case["expect"]
    else:
        assert cdi.spec_name(case["vendor"], case["class"]) == case["expect"]


@cases("spec/plain_scalars.yaml")
def test_plain_scalars(case: dict[str, Any]) -> None:
    _, value = resolve_plain(case["text"])
    expected_type = {"null": type(None), "bool": bool, "int": int, "float": float, "str": str}
    assert type(value) is expected_type[case["type"]]
    if case["type"] == "float" and math.isnan(case.get("value", 0.0)):
        assert math.isnan(value)
    elif case["type"] != "null":
        assert value == case["value"]
