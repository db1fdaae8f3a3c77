"""The JSON fast path (cdi.spec.fastparse, cdi.spec.fastdecode) against the full path.

The fast path is an optimisation and must be invisible: for every document, parsing with it
gives what parsing without it gives (the same spec, or the same error with the same
position and hint), and whatever spec it gives itself is the full path's spec, attribute for
attribute. The documents are every spec in tests/vectors/ and examples/ (as they are and
re-written as JSON), the benchmark corpus, the corner cases of
tests/vectors/spec/json_fast_path.yaml, and mutations of all of them that the fast path must
notice: repeated keys, keys in another case, escapes.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import yaml

from benchmodules import bench_module
from cdi.errors import SpecError
from cdi.spec import fastparse, load
from cdi.spec.decode import DecodeError, as_pairs, decode_spec
from cdi.spec.encode import to_plain
from cdi.spec.jsonlocate import members
from tables import VECTORS, cases

generate = bench_module("specgen").generate

EXAMPLES = Path(__file__).parent.parent / "examples"
_LONG_NUMBER = "9" * 5000


def _state(value: Any) -> Any:
    """*value* spelt out with the type of every node (``()`` and ``[]`` compare equal else)."""
    if hasattr(value, "__dict__") and type(value).__module__ == "cdi.spec.model":
        return (type(value).__name__, {key: _state(item) for key, item in vars(value).items()})
    if isinstance(value, tuple):
        return ("tuple", [_state(item) for item in value])
    if isinstance(value, MappingProxyType):
        return ("mappingproxy", {key: _state(item) for key, item in value.items()})
    return (type(value).__name__, value)


def _outcome(data: str | bytes) -> Any:
    try:
        spec = load.parse_spec(data, "test.json")
    except SpecError as err:
        return ("error", str(err), err.line, err.column, err.hint, err.field_path)
    return ("spec", _state(spec))


def _full_path_outcome(data: str | bytes) -> Any:
    """The outcome with the fast path switched off."""
    fast = load.parse_json_spec
    load.parse_json_spec = lambda data, strict=False: None  # type: ignore[assignment]
    try:
        return _outcome(data)
    finally:
        load.parse_json_spec = fast


def _decode_outcome(value: Any) -> Any:
    try:
        return ("spec", _state(decode_spec(value)))
    except DecodeError as err:
        return ("error", err.message, err.field_path, err.hint)


def check(data: str) -> bool:
    """Assert that the fast path is invisible for *data*; whether it took the document."""
    expected = _full_path_outcome(data)
    assert _outcome(data) == expected
    assert _outcome(data.encode("utf-8", "surrogatepass")) == _full_path_outcome(
        data.encode("utf-8", "surrogatepass")
    )
    fast = fastparse.parse_json_spec(data)
    if fast is not None:
        assert ("spec", _state(fast)) == expected
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return fast is not None
    # decode_spec of plain dicts (the registry index): the fast decoder or the full one.
    assert _decode_outcome(value) == _decode_outcome(as_pairs(value))
    return fast is not None


def _strings_with_specs(value: Any) -> Iterator[Any]:
    """Every string holding a document and every mapping shaped like a spec in *value*."""
    if isinstance(value, str):
        if "cdiVersion" in value:
            yield value
    elif isinstance(value, dict):
        if "cdiVersion" in value:
            yield value
        for item in value.values():
            yield from _strings_with_specs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_with_specs(item)


def _as_json_texts(document: Any) -> Iterator[str]:
    """*document* (text or a mapping) as JSON, compact, indented and with raw non-ASCII."""
    if isinstance(document, str):
        yield document
        try:
            document = yaml.safe_load(document)
        except Exception:  # PyYAML raises more than YAMLError on odd input
            return
        if not isinstance(document, dict):
            return
    try:
        yield json.dumps(document)
        yield json.dumps(document, indent=2, ensure_ascii=False)
        yield json.dumps(document, separators=(",", ":"))
    except (TypeError, ValueError):
        return


def _vector_documents() -> list[str]:
    documents: list[str] = []
    sources = [*VECTORS.rglob("*"), *EXAMPLES.rglob("*")]
    for path in sorted(sources):
        if path.suffix not in (".json", ".yaml", ".yml") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        if "cdiVersion" not in text:
            continue
        found: list[Any] = [text]
        try:
            content = yaml.safe_load(text)
        except Exception:  # PyYAML raises more than YAMLError on odd input
            content = None
        if isinstance(content, list):  # a table of cases
            found = list(_strings_with_specs(content))
        for document in found:
            for data in _as_json_texts(document):
                documents.append(data.replace("5000-DIGITS", _LONG_NUMBER))
    return list(dict.fromkeys(documents))


VECTOR_DOCUMENTS = _vector_documents()


def test_there_are_documents() -> None:
    assert len(VECTOR_DOCUMENTS) > 500


def test_every_vector_document() -> None:
    taken = sum(check(data) for data in VECTOR_DOCUMENTS)
    # Most valid specs take the fast path; it refuses the rest, never all.
    assert 100 < taken < len(VECTOR_DOCUMENTS)


def test_the_benchmark_corpus(tmp_path: Path) -> None:
    for fmt in ("json", "yaml"):
        for path in generate(tmp_path / fmt, 60, fmt):
            for data in _as_json_texts(path.read_text()):
                taken = check(data)
                assert taken or not data.startswith("{"), "a generated spec is the common case"


@cases("spec/json_fast_path.yaml")
def test_corner_cases(case: dict[str, Any]) -> None:
    data = case["data"].replace("5000-DIGITS", _LONG_NUMBER)
    if "error" in case:
        expected = ("error", case["error"], case.get("line"), case.get("column"), case.get("hint"))
        assert _outcome(data)[:5] == expected
        assert _full_path_outcome(data)[:5] == expected
    else:
        assert to_plain(load.parse_spec(data, "test.json")) == case["expect"]
    assert (fastparse.parse_json_spec(data) is not None) is case["fast"]
    check(data)


def _objects(text: str) -> list[int]:
    """Offsets of the ``{`` of every object in the JSON *text* that has members."""
    found = []
    for index, char in enumerate(text):
        if char == "{":
            try:
                if members(text, index):
                    found.append(index)
            except Exception:  # a brace inside a string
                continue
    return found


def _mutated(text: str, rng: random.Random) -> Iterator[tuple[str, str]]:
    """Variants of *text*: each with one key repeated, one key's case changed, escapes."""
    objects = _objects(text)
    for _ in range(3):
        where = rng.choice(objects)
        found = members(text, where)
        member = rng.choice(found)
        copy = text[member.key_offset : member.value_end]
        at = rng.choice(found).key_offset
        yield "repeated", text[:at] + copy + ", " + text[at:]
        key = member.key
        if key[:1].isalpha():
            other = key[0].swapcase() + key[1:]
            changed = text[: member.key_offset] + json.dumps(other) + text[member.key_offset :]
            changed = changed.replace(json.dumps(other) + json.dumps(key), json.dumps(other), 1)
            yield "case", changed
        escaped = text[: member.key_offset + 1] + "\\u00" + format(ord(key[0]), "02x")
        yield "escaped", escaped + text[member.key_offset + 2 :]


def test_mutations_are_noticed(tmp_path: Path) -> None:
    rng = random.Random(12)
    texts = [path.read_text() for path in generate(tmp_path, 30, "json")]
    texts += [data for data in VECTOR_DOCUMENTS if data.startswith("{") and check(data)][:60]
    kinds: dict[str, int] = {}
    for text in texts:
        for kind, data in _mutated(text, rng):
            took = check(data)
            if kind == "repeated":
                assert not took, data
            kinds[kind] = kinds.get(kind, 0) + took
    assert kinds["escaped"] > 0  # escapes of ordinary characters take the fast path


@pytest.mark.parametrize(
    ("text", "keys", "result"),
    [
        ('{"a": 1}', 1, True),
        ('{"a": 1, "a": 2}', 1, False),
        ('{"a": "x:y"}', 1, True),  # a colon in a string: the quote-colon count
        ('{"a": "x:y", "a": 2}', 1, False),
        ('{"a" : "x:y"}', 1, False),  # a space before a colon: neither count can tell
        ('{"a" :1}', 1, True),  # the colon count alone tells
        ('{"a": ":y"}', 1, False),  # a quote before a colon in a string counts too
        ('{"a":\n1, "b": "c:d"}', 2, True),
        ('{"a"\n: 1, "b": "c:d"}', 2, False),
    ],
)
def test_counting_keys(text: str, keys: int, result: bool) -> None:
    assert fastparse.no_repeated_keys(text, keys) is result
