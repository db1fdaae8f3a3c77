"""``mutable_record`` classes behave as ``@dataclass`` classes do (differential tests).

Each class is built twice, once with :func:`dataclasses.dataclass` and once with
:func:`cdi.build.mutable.mutable_record`, and the tests compare what they do: construction
(positional, keyword, defaults, factories), errors, ``repr``, equality, hashing, class
attributes and ``__match_args__``.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, ClassVar

import pytest

from cdi.build import mutable
from cdi.build.mutable import mutable_record


@dataclasses.dataclass
class DataState:
    name: str
    count: int = 0
    tags: list[str] = dataclasses.field(default_factory=list)
    env: dict[str, str] = dataclasses.field(default_factory=lambda: {"PATH": "/bin"})
    label: str | None = None
    shared: ClassVar[int] = 7

    def describe(self) -> str:
        return f"{self.name}:{self.count}"


@mutable_record
class RecordState:
    name: str
    count: int = 0
    tags: list[str] = mutable.field(default_factory=list)
    env: dict[str, str] = mutable.field(default_factory=lambda: {"PATH": "/bin"})
    label: str | None = None
    shared: ClassVar[int] = 7

    def describe(self) -> str:
        return f"{self.name}:{self.count}"


@dataclasses.dataclass
class DataOne:
    only: int


@mutable_record
class RecordOne:
    only: int


@dataclasses.dataclass
class DataNone:
    pass


@mutable_record
class RecordNone:
    pass


def _same_repr(data: object, made: object) -> None:
    assert repr(made) == repr(data).replace("Data", "Record")


CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    (("a",), {}),
    (("a", 3), {}),
    (("a", 3, ["x"], {"K": "v"}, "l"), {}),
    ((), {"name": "'quoted'", "label": 'a"b'}),
    (("a",), {"tags": ["t"], "count": -1}),
]


@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_construction_repr_and_state_match(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    data, made = DataState(*args, **kwargs), RecordState(*args, **kwargs)
    _same_repr(data, made)
    assert vars(made) == vars(data)
    assert list(vars(made)) == list(vars(data))  # field order
    assert made.describe() == data.describe()


def test_factories_make_a_new_value_for_each_instance() -> None:
    first, second = RecordState("a"), RecordState("b")
    first.tags.append("x")
    first.env["A"] = "1"
    assert second.tags == [] and second.env == {"PATH": "/bin"}
    assert DataState("b").tags == [] and DataState("b").env == {"PATH": "/bin"}


def test_fields_are_assignable_as_in_a_dataclass() -> None:
    data, made = DataState("a"), RecordState("a")
    for instance in (data, made):
        instance.count = 5
        instance.label = "now"
        instance.extra = 1  # type: ignore[union-attr]  # no slots, as a plain dataclass
    _same_repr(data, made)


def test_equality_and_hashing() -> None:
    assert RecordState("a", 1) == RecordState("a", 1)
    assert RecordState("a", 1) != RecordState("a", 2)
    assert RecordState("a") != DataState("a")  # type: ignore[comparison-overlap]
    assert (RecordState("a") == object()) is (DataState("a") == object())
    assert RecordState.__hash__ is None and DataState.__hash__ is None
    with pytest.raises(TypeError):
        hash(RecordState("a"))
    assert RecordOne(1) == RecordOne(1) and RecordNone() == RecordNone()
    _same_repr(DataOne(1), RecordOne(1))
    _same_repr(DataNone(), RecordNone())


def test_class_attributes_match() -> None:
    # A plain default stays a class attribute; a factory field has none; ClassVars are kept.
    for name in ("count", "label", "shared"):
        assert getattr(RecordState, name) == getattr(DataState, name)
    for name in ("tags", "env"):
        assert not hasattr(RecordState, name) and not hasattr(DataState, name)
    assert RecordState.__match_args__ == DataState.__match_args__
    assert RecordState.__match_args__ == tuple(f.name for f in dataclasses.fields(DataState))


def test_match_statement_uses_the_fields_in_order() -> None:
    match RecordState("a", 2):
        case RecordState(name, count):
            assert (name, count) == ("a", 2)
        case _:
            pytest.fail("no match")


@dataclasses.dataclass
class DataThree:
    a: int
    b: int
    c: int


@mutable_record
class RecordThree:
    a: int
    b: int
    c: int


def _error(make: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(TypeError) as info:
        make(*args, **kwargs)
    return str(info.value).replace("Data", "Record")


@pytest.mark.parametrize(
    ("pair", "args", "kwargs"),
    [
        ("state", (), {}),
        ("state", ("a", 1, [], {}, None, "extra"), {}),
        ("state", ("a",), {"nope": 1}),
        ("state", ("a",), {"name": "b"}),
        ("three", (), {}),
        ("three", (1,), {}),
        ("three", (1, 2, 3, 4), {}),
        ("three", (), {"b": 2}),
        ("one", (), {}),
        ("none", (1,), {}),
    ],
)
def test_wrong_calls_raise_the_type_error_a_dataclass_raises(
    pair: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    data, made = {
        "state": (DataState, RecordState),
        "three": (DataThree, RecordThree),
        "one": (DataOne, RecordOne),
        "none": (DataNone, RecordNone),
    }[pair]
    assert _error(made, *args, **kwargs) == _error(data, *args, **kwargs)


def test_copies_are_equal_and_independent() -> None:
    made = RecordState("a", tags=["x"])
    deep = copy.deepcopy(made)
    assert deep == made and deep.tags is not made.tags
    assert copy.copy(made) == made


def test_the_class_body_keeps_its_own_methods() -> None:
    @mutable_record
    class Custom:
        value: int

        def __repr__(self) -> str:
            return "custom"

        def __eq__(self, other: object) -> bool:
            return True

        def __hash__(self) -> int:
            return 1

    assert repr(Custom(1)) == "custom"
    assert Custom(1) == Custom(2)
    assert hash(Custom(1)) == 1


def test_class_definition_errors_match() -> None:
    with pytest.raises(ValueError, match="mutable default <class 'list'> for field items"):

        @dataclasses.dataclass
        class DataBad:
            items: list[int] = []  # noqa: RUF008

    with pytest.raises(ValueError, match="mutable default <class 'list'> for field items"):

        @mutable_record
        class RecordBad:
            items: list[int] = []  # noqa: RUF012

    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):

        @dataclasses.dataclass
        class DataOrder:
            a: int = 0
            b: int  # type: ignore[misc]

    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):

        @mutable_record
        class RecordOrder:
            a: int = 0
            b: int  # type: ignore[misc]


def test_a_mutable_record_cannot_be_extended_into_another() -> None:
    with pytest.raises(TypeError, match="cannot extend"):

        @mutable_record
        class Sub(RecordOne):
            more: int = 0
