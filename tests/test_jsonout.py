"""JSON writing without the json module: vectors, and differential tests against json itself."""

from __future__ import annotations

import json
import random
from collections import OrderedDict
from enum import IntEnum
from typing import Any

import pytest

from cdi.jsonout import dumps_compact, dumps_indent
from cdi.ocispec import dump_document
from cdi.plaindata import MAX_DEPTH
from tables import cases


def _indent(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@cases("jsonout/dumps.yaml")
def test_vectors(case: dict[str, Any]) -> None:
    assert dumps_indent(case["value"]) == case["indent"]
    assert dumps_compact(case["value"]) == case["compact"]
    # The expected texts are json's own, so the table cannot drift from what json writes.
    assert _indent(case["value"]) == case["indent"]
    assert _compact(case["value"]) == case["compact"]


class Small(IntEnum):
    ONE = 1


class Text(str):
    pass


SPECIAL: list[Any] = [
    (),
    (1, (2, ())),
    [(), {}, [[]], {"a": ()}],
    {"a": {"b": {"c": {}}}},
    "",
    "\x00\x1f\x7f\x80\u00ff\ud7ff\ue000\uffff\U0010ffff",
    "\ud800",  # a lone surrogate: json writes it escaped even with ensure_ascii=False
    'tab\there, quote" and back\\slash',
    2**64,
    -(2**63) - 1,
    10**100,
    0,
    -0,
    True,
    False,
    None,
    0.0,
    -0.0,
    1e16,
    1e15,
    1e-7,
    123456789.123456789,
    float("nan"),
    float("inf"),
    float("-inf"),
    5e-324,
    1.7976931348623157e308,
    {True: 1, False: 0, None: 2, 3: 4, 1.5: 5, -2.5: 6},
    OrderedDict([("b", 1), ("a", 2)]),
    Small.ONE,
    [Small.ONE, {"k": Small.ONE}],
    Text("sub"),
    {Text("key"): Text("value")},
]


@pytest.mark.parametrize("value", SPECIAL, ids=repr)
def test_same_as_json(value: Any) -> None:
    assert dumps_indent(value) == _indent(value)
    assert dumps_compact(value) == _compact(value)


def _random_value(rng: random.Random, depth: int) -> Any:
    choice = rng.randrange(10 if depth < 6 else 7)
    if choice == 0:
        return rng.choice([None, True, False])
    if choice == 1:
        return rng.randrange(-(2**70), 2**70)
    if choice == 2:
        return rng.choice([rng.uniform(-1e20, 1e20), rng.random() * 10 ** rng.randrange(-30, 30)])
    if choice <= 6:
        alphabet = 'aZ09 "\\/\n\t\x00\x1f\x7fé☃😀\u2028'
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(6)))
    if choice == 7:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if choice == 8:
        return tuple(_random_value(rng, depth + 1) for _ in range(rng.randrange(3)))
    return {
        str(_random_value(rng, depth + 1)): _random_value(rng, depth + 1)
        for _ in range(rng.randrange(4))
    }


def test_random_values_are_written_as_json_writes_them() -> None:
    rng = random.Random(12)
    for _ in range(2000):
        value = _random_value(rng, 0)
        assert dumps_indent(value) == _indent(value)
        assert dumps_compact(value) == _compact(value)


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def test_the_deepest_plain_data_is_written() -> None:
    deepest = _nested(MAX_DEPTH)
    assert dumps_indent(deepest) == _indent(deepest)
    assert dumps_compact(deepest) == _compact(deepest)


def test_dump_document_writes_json_as_before() -> None:
    value = {"ociVersion": "1.0.2", "process": {"env": ["A=é"]}, "mounts": []}
    assert dump_document(value, "json") == _indent(value)


@pytest.mark.parametrize("dumps", [dumps_indent, dumps_compact])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({1, 2}, "Object of type set is not JSON serializable"),
        ([b"x"], "Object of type bytes is not JSON serializable"),
        ({"a": object()}, "Object of type object is not JSON serializable"),
        ({(1, 2): 1}, "keys must be str, int, float, bool or None, not tuple"),
    ],
)
def test_unserializable_values_raise_json_s_type_error(
    dumps: Any, value: Any, message: str
) -> None:
    with pytest.raises(TypeError) as from_json:
        _indent(value)
    assert str(from_json.value) == message
    with pytest.raises(TypeError, match=f"^{message}$"):
        dumps(value)


@pytest.mark.parametrize("dumps", [dumps_indent, dumps_compact])
def test_a_cycle_is_refused(dumps: Any) -> None:
    cyclic: list[Any] = [1]
    cyclic.append({"again": cyclic})
    with pytest.raises(ValueError, match=r"^Circular reference detected$"):
        dumps(cyclic)


@pytest.mark.parametrize("dumps", [dumps_indent, dumps_compact])
def test_the_same_container_twice_is_not_a_cycle(dumps: Any) -> None:
    shared = {"a": [1]}
    value = [shared, shared, {"x": shared}]
    assert dumps(value) == (_indent if dumps is dumps_indent else _compact)(value)


def test_an_error_leaves_no_state_behind() -> None:
    shared: list[Any] = [1]
    with pytest.raises(TypeError):
        dumps_compact([shared, object()])
    assert dumps_compact([shared]) == "[[1]]"
    with pytest.raises(TypeError):
        dumps_indent([shared, object()])
    assert dumps_indent([shared]) == "[\n  [\n    1\n  ]\n]"
