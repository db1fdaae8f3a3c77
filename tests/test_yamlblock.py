"""The block-style YAML reader against the full YAML 1.1 reader, and on its own table.

The rule under test: :func:`read_block` either declines (``None``) or gives exactly the value
:func:`cdi.spec.yaml11.parse` gives -- same types, same order, same YAML 1.1 resolution --
and it declines every document the full reader would report on. The tool-written documents
(golden generator outputs, the benchmark corpus, both spec writers) must not be declined,
or the fast path would not be taken where it matters.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import cdi
from benchmodules import bench_module
from cdi.errors import SpecError
from cdi.spec import yaml11, yamlscalar
from cdi.spec.decode import decode_spec
from cdi.spec.encode import encode
from cdi.spec.goencode import encode_go
from cdi.spec.goyaml import dump_document
from cdi.spec.load import parse_value
from cdi.spec.pairs import Pairs
from cdi.spec.yamlblock import BlockDocument, read_block
from cdi.spec.yamllimits import MAX_DEPTH, MAX_NODES
from tables import VECTORS, cases, load_table
from test_spec_vectors import _expand as expand_placeholders

generate = bench_module("specgen").generate

EXAMPLES = Path(__file__).parent.parent / "examples"


def _same(ours: Any, theirs: Any) -> bool:
    """Equal values of the same types all the way down (``True`` is not ``1``), NaN == NaN."""
    if type(ours) is not type(theirs):
        return False
    if type(ours) is Pairs:
        return len(ours) == len(theirs) and all(
            key == other_key and _same(value, other_value)
            for (key, value), (other_key, other_value) in zip(ours, theirs, strict=True)
        )
    if type(ours) is list:
        return len(ours) == len(theirs) and all(
            _same(a, b) for a, b in zip(ours, theirs, strict=True)
        )
    if type(ours) is float and math.isnan(ours):
        return math.isnan(theirs)
    return bool(ours == theirs)


def _agrees(data: str | bytes) -> BlockDocument | None:
    """Check *data* against the full reader: declined, or the same value."""
    document = read_block(data)
    if document is None:
        return None
    full = yaml11.parse(data)  # raises if the block reader accepted a bad document
    assert not full.duplicates
    assert _same(document.value, full.value), (data, document.value, full.value)
    assert document.non_finite == full.non_finite
    return document


def _as_bytes(text: str) -> bytes:
    # A lone surrogate \udcXX in the table stands for the invalid byte XX.
    return text.encode("utf-8", "surrogateescape")


@cases("spec/yaml_block.yaml")
def test_tricky_documents(case: dict[str, Any]) -> None:
    text = case["text"]
    for data in (text, _as_bytes(text)):
        document = read_block(data)
        if case.get("fallback"):
            assert document is None
            continue
        expected = json.loads(case["json"], object_pairs_hook=Pairs)
        assert document is not None
        assert _same(document.value, expected), document.value
        assert _same(yaml11.parse(data).value, expected)  # the table holds for both readers
        assert _agrees(data) is not None


def test_the_table_covers_both_outcomes() -> None:
    table = load_table("spec/yaml_block.yaml")
    assert all(("json" in case) != bool(case.get("fallback")) for case in table)
    assert sum("json" in case for case in table) >= 40
    assert sum(bool(case.get("fallback")) for case in table) >= 60


def _golden_specs() -> Iterator[tuple[str, str]]:
    for case in load_table("generate/golden.yaml"):
        expected = case.get("expected", "")
        if expected.startswith("---\n"):
            yield case["name"], expected.replace("{root}", "/run/fixture-root")


@pytest.mark.parametrize(("name", "text"), list(_golden_specs()), ids=lambda value: value[:40])
def test_golden_generator_outputs_take_the_fast_path(name: str, text: str) -> None:
    assert _agrees(text) is not None, name


def test_every_golden_output_is_checked() -> None:
    assert len(list(_golden_specs())) >= 25


def test_the_benchmark_corpus_takes_the_fast_path() -> None:
    # PyYAML's safe_dump, with the anchors and aliases it writes for shared lists.
    with tempfile.TemporaryDirectory() as tmp:
        paths = generate(Path(tmp), 300, "yaml")
        documents = [path.read_bytes() for path in paths]
    assert any(b"&id001" in data for data in documents)
    for data in documents:
        assert _agrees(data) is not None


def _decoded(document: dict[str, Any]) -> cdi.Spec:
    return decode_spec(parse_value(json.dumps(document)))


def _written_specs() -> Iterator[tuple[str, cdi.Spec]]:
    """Specs from the JSON documents of the vectors, and from the tables' spec documents."""
    for case in load_table("spec/parse.yaml"):
        data = expand_placeholders(case["data"])
        if isinstance(data, str) and data.lstrip().startswith("{"):
            with contextlib.suppress(SpecError):
                yield case["name"], cdi.parse_spec(data)
    for path in sorted((VECTORS / "schema" / "testdata").rglob("*.json")):
        with contextlib.suppress(SpecError):
            yield path.name, cdi.load_spec(path)
    for table in ("spec/write.yaml", "spec/minimum_version.yaml"):
        for case in load_table(table):
            yield case["name"], _decoded(case["spec"])


#: Specs whose written YAML leaves the subset, and why.
_WRITTEN_OUTSIDE = {
    # A key past 128 bytes is written as a "? " complex key.
    "a JSON key too long for a YAML simple key is read by the JSON parser",
}


@pytest.mark.parametrize("writer", [encode, encode_go], ids=["encode", "encode_go"])
def test_both_spec_writers_take_the_fast_path(writer: Any) -> None:
    written = list(_written_specs())
    assert len(written) >= 50
    declined = set()
    for name, spec in written:
        try:
            data = writer(spec, "yaml")
        except SpecError:
            continue  # text a spec file cannot hold
        if _agrees(data) is None:
            declined.add(name)
    assert declined == _WRITTEN_OUTSIDE


def _yaml_documents() -> Iterator[str | bytes]:
    """Every YAML file under the vectors (tables and fixtures alike) and every multi-line
    text in the tables, every schema example and every example spec."""
    for path in sorted(VECTORS.rglob("*.yaml")):
        text = path.read_text()
        yield text
        content = yaml.safe_load(text)
        if isinstance(content, list):
            for case in content:
                for value in case.values() if isinstance(case, dict) else ():
                    if isinstance(value, str) and "\n" in value:
                        yield value
    for path in sorted((VECTORS / "schema" / "testdata").rglob("*")):
        if path.is_file():
            yield path.read_bytes()
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        yield path.read_bytes()


def test_every_yaml_text_of_the_vectors_agrees() -> None:
    accepted = 0
    for data in _yaml_documents():
        try:
            accepted += _agrees(data) is not None
        except yaml11.YAMLValueError:
            pytest.fail(f"accepted a document the full reader refuses: {data!r}")
    assert accepted >= 80


def test_yaml_v3_scalars_agree() -> None:
    accepted = 0
    for case in load_table("generate/yaml_v3_quoting.yaml"):
        written = case["written"]
        for data in (f"k: {written}\n", f"- {written}\n", f"{written}\n"):
            accepted += _agrees(data) is not None
    assert accepted >= 100


# fmt: off
_TOKENS = (
    "{", "}", "[", "]", ",", ": ", ":", '"', "'", "\n", "  ", " ", "- ", "-", "\t", "#", " #",
    "&a", "*a", "&id001", "*id001", "!!str ", "? ", "|", ">", "---", "...", "%", "@", "\\",
    "\\x41", "\\u00e9", "\\ud800", "''", "0x1F", "0660", "1_000", "~", "null", ".inf", ".nan",
    "1e3", "yes", "<<", "\r\n", "\u00e9", "\u2028", "\x85", "\ufeff", "\udcff", "1:20", "+1",
    "9" * 25, "x: y", "\n- ", "\n  ", "\n    - ", "\n  - k: ", "- k:\n", ": &b\n", "*b",
)
# fmt: on


def _mutations(seed: int, count: int) -> Iterator[str]:
    rng = random.Random(seed)
    seeds = [data for data in _yaml_documents() if isinstance(data, str)]
    with tempfile.TemporaryDirectory() as tmp:
        seeds.extend(path.read_text() for path in generate(Path(tmp), 20, "yaml"))
    for _ in range(count):
        text = rng.choice(seeds)
        for _ in range(rng.randint(1, 3)):
            at = rng.randint(0, len(text))
            operation = rng.random()
            if operation < 0.4:
                text = text[:at] + rng.choice(_TOKENS) + text[at:]
            elif operation < 0.7:
                text = text[:at] + text[at + rng.randint(1, 4) :]
            else:
                text = text[:at] + rng.choice(_TOKENS) + text[at + rng.randint(1, 3) :]
        yield text


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mutated_documents_are_declined_or_agree(seed: int) -> None:
    accepted = 0
    for text in _mutations(seed, 3000):
        for data in (text, _as_bytes(text)):
            try:
                accepted += _agrees(data) is not None
            except yaml11.YAMLValueError:
                pytest.fail(f"accepted a document the full reader refuses: {data!r}")
    assert accepted > 500  # the mutations leave many documents inside the subset


# Scalars and keys that writers quote, escape, fold or leave plain, and that resolve to
# every type.
# fmt: off
_SCALARS: tuple[Any, ...] = (
    "a", "y", "n", "yes", "No", "on", "~", "null", "", " ", "a b", "a  b", " lead", "trail ",
    "0660", "0x1F", "1_000", "1e3", "1.0e+3", ".inf", ".nan", "1:20", "2001-12-14", "1.1.0",
    "-", "--x", "-1", "a: b", "a #b", "a#b", "it's", 'say "x"', "\\", "\t", "tab\tin",
    "new\nline", "\u00e9", "\x85", "\u2028", "\x00", "\x7f", "\ufeff", "\U0001F600", "[a]",
    "{b}", "*a", "&a", "!x", "|", ">", "%", "@", "`", "?", ":", "a:", "::", "<<", "=",
    "k" * 130, "x" * 90 + " " + "y" * 40, 0, 1, -1, 2**63, 2**64, 1.5, -0.0, 1e300, True,
    False, None, math.inf,
)
_KEYS = ("a", "b", "name", "key with space", "1", "true", "y", "<<", "a:b", "-k", "\u00e9",
         "k" * 130, "", "x#y", "'q'", '"d"')
# fmt: on


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.random()
    if depth > 4 or choice < 0.4:
        return rng.choice(_SCALARS)
    if choice < 0.7:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(_KEYS): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


@pytest.mark.parametrize("seed", [1, 2])
def test_random_documents_of_both_writers_are_declined_or_agree(seed: int) -> None:
    rng = random.Random(seed)
    accepted = 0
    for _ in range(1000):
        value = _random_value(rng)
        options = {
            "indent": rng.choice([2, 3, 4]),
            "width": rng.choice([20, 80, 10**9]),  # narrow widths fold long scalars
            "allow_unicode": rng.random() < 0.5,
            "explicit_start": rng.random() < 0.5,
        }
        documents = [yaml.safe_dump(value, default_flow_style=False, sort_keys=False, **options)]
        if isinstance(value, dict):
            documents.append(dump_document(value))
        for text in documents:
            try:
                accepted += _agrees(text) is not None
            except yaml11.YAMLValueError:
                pytest.fail(f"accepted a document the full reader refuses: {text!r}")
    assert accepted > 500


def _nested(collections: int) -> str:
    """Mappings nested *collections* deep (the document's own included)."""
    inner = collections - 1
    opening = "".join(" " * level + f"k{level}:\n" for level in range(inner))
    return opening + " " * inner + f"k{inner}: v\n"


def test_depth_limit() -> None:
    assert _agrees(_nested(MAX_DEPTH)) is not None
    too_deep = _nested(MAX_DEPTH + 1)
    assert read_block(too_deep) is None
    with pytest.raises(yaml11.YAMLValueError, match="exceeded max depth"):
        yaml11.parse(too_deep)


def _nested_items(items: int) -> str:
    """A mapping, then *items* levels of a sequence holding one "- k:" mapping: 1 + 2 *
    *items* collections, the deepest an item's mapping."""
    lines = ["k:"] + [" " * (2 * level) + "- k:" for level in range(items)]
    return "\n".join(lines) + " v\n"


def test_depth_limit_of_item_mappings() -> None:
    assert _agrees(_nested_items((MAX_DEPTH - 1) // 2)) is not None
    too_deep = _nested_items((MAX_DEPTH + 1) // 2)
    assert read_block(too_deep) is None
    with pytest.raises(yaml11.YAMLValueError, match="exceeded max depth"):
        yaml11.parse(too_deep)


def test_node_limit() -> None:
    items = MAX_NODES // 3
    assert read_block("".join("- a\n" for _ in range(items - 2))) is not None
    # Three nodes a line can exceed the limit: left to the full reader, which counts.
    too_many = "".join("- k: v\n" for _ in range(items + 1))
    assert read_block(too_many) is None
    with pytest.raises(yaml11.YAMLValueError, match="more than"):
        yaml11.parse(too_many)


def test_alias_expansion_limit() -> None:
    lines = ["a0: &a0", "- x", "- x"]
    for level in range(1, 20):
        lines.append(f"a{level}: &a{level}")
        lines.extend([f"- *a{level - 1}", f"- *a{level - 1}"])
    laughs = "\n".join(lines) + "\n"
    assert read_block(laughs) is None
    with pytest.raises(yaml11.YAMLValueError, match="excessive aliasing"):
        yaml11.parse(laughs)
    # Within the limit, the aliases are the very nodes their anchors name, as in yaml11.
    few = "\n".join(lines[:9]) + "\n"
    document = _agrees(few)
    assert document is not None
    assert document.value[1][1][0] is document.value[0][1]
    assert document.value[2][1][0] is document.value[1][1]


def test_key_length_limit() -> None:
    assert _agrees("k" * 1000 + ": v\n") is not None
    assert read_block("k" * 1001 + ": v\n") is None
    assert _agrees(f"'{'k' * 998}': v\n") is not None
    assert read_block(f"'{'k' * 999}': v\n") is None


def test_the_document_has_no_positions_and_no_duplicates() -> None:
    document = read_block("a:\n- b: .inf\n")
    assert document is not None
    assert document.locate(()) is None
    assert document.locate(("a", 0, "b")) is None
    assert list(document.duplicates) == []
    assert document.non_finite
    finite = read_block("a:\n- b: 1.5\n")
    assert finite is not None and not finite.non_finite


def test_empty_collections_are_new_each_time() -> None:
    first = read_block("a: []\nb: []\nc: {}\n")
    second = read_block("a: []\nb: []\nc: {}\n")
    assert first is not None and second is not None
    values = [value for _, value in first.value] + [value for _, value in second.value]
    assert len({id(value) for value in values}) == 6


def _resolve_by_patterns(text: str) -> tuple[str, Any]:
    """go-yaml v2's resolution with the number patterns alone (no shortcut before them)."""
    word = yamlscalar.WORDS.get(text)
    if word is not None:
        return word
    _, yaml_float, go_dot_float = yamlscalar._number_syntax()
    if text[0] == ".":
        if go_dot_float.fullmatch(text):
            return yamlscalar._float_or_text(text)
    elif text[0] in "+-0123456789":
        plain = text.replace("_", "")
        number = yamlscalar._parse_go_int(plain)
        if number is not None:
            return yamlscalar.TAG_INT, number
        if yaml_float.fullmatch(plain):
            return yamlscalar._float_or_text(plain, text)
    return yamlscalar.TAG_STR, text


def test_the_shortcuts_resolve_as_the_patterns_do() -> None:
    rng = random.Random(7)
    texts = ["0", "00", "07", "08", "10", "1" * 19, "9" * 19, "1" * 20, "9" * 20, "1" * 25]
    texts += ["18446744073709551615", "18446744073709551616", "9223372036854775808"]
    texts += ["0.5.0", "1.1.0", ".5.5", "0:1", "--link", "-", ".", "1e3", "1.0e+3", "0x1F"]
    texts += [str(rng.randrange(10 ** rng.randint(1, 21))) for _ in range(2000)]
    alphabet = "0123456789+-._eExXoObBaf:/9z\u0663"
    for _ in range(20000):
        texts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))))
    for text in texts:
        resolved = yamlscalar.resolve_plain(text)
        assert _same(list(resolved), list(_resolve_by_patterns(text))), text


def test_yaml11_re_exports_the_moved_names() -> None:
    assert yaml11.resolve_plain is yamlscalar.resolve_plain
    assert yaml11.TAG_STR == yamlscalar.TAG_STR
    assert yaml11.MAX_NODES == MAX_NODES


def _modules_after(code: str) -> set[str]:
    listing = "import sys; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\n{listing}"], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


_HEAVY = {"yaml", "_yaml", "typing", "dataclasses", "logging", "json", "re"}


def test_reading_a_spec_imports_nothing_heavy() -> None:
    read = (
        "from cdi.spec.yamlblock import read_block\n"
        'assert read_block(b\'---\\ncdiVersion: 0.5.0\\ndevices:\\n- name: "0"\\n'
        "  containerEdits:\\n    deviceNodes:\\n    - path: /dev/x\\n      major: 195\\n"
        "      fileMode: 0666\\n') is not None"
    )
    loaded = _modules_after(read.replace("0666", "438"))
    assert loaded.isdisjoint(_HEAVY), loaded & _HEAVY
    # Other numbers than plain decimals compile the number syntax on demand.
    assert "re" in _modules_after(read)
