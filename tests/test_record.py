"""``record`` classes behave as ``@dataclass(frozen=True)`` classes do (differential tests).

Each test builds the same class twice, once with :func:`dataclasses.dataclass` and once with
:func:`cdi.spec.record.record`, and compares what they do.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import pytest

from cdi.spec import record
from cdi.spec.model import ContainerEdits, Device, DeviceNode, Hook, IntelRdt, Mount, Spec
from cdi.spec.record import FrozenRecordError, fields, replace

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclasses.dataclass(frozen=True)
class DataNode:
    path: str
    host_path: str = ""
    major: int = 0
    file_mode: int | None = None
    options: tuple[str, ...] = ()


@record.record
class RecordNode:
    path: str
    host_path: str = ""
    major: int = 0
    file_mode: int | None = None
    options: tuple[str, ...] = ()


# Module level, so that pickle finds the classes.
@dataclasses.dataclass(frozen=True)
class DataOne:
    only: int


@record.record
class RecordOne:
    only: int


@dataclasses.dataclass(frozen=True)
class DataNone:
    pass


@record.record
class RecordNone:
    pass


def _pair(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
    return DataNode(*args, **kwargs), RecordNode(*args, **kwargs)


def _same_repr(data: object, made: object) -> None:
    assert repr(made) == repr(data).replace("DataNode", "RecordNode").replace("Data", "Record")


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("/dev/x",), {}),
        (("/dev/x", "/host/x", 7), {}),
        (("/dev/x",), {"file_mode": 0o660, "options": ("ro", "bind")}),
        ((), {"path": "/dev/'quoted'", "host_path": 'a"b', "major": -1}),
    ],
)
def test_init_defaults_and_repr(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    data, made = _pair(*args, **kwargs)
    for name in ("path", "host_path", "major", "file_mode", "options"):
        assert getattr(made, name) == getattr(data, name)
    _same_repr(data, made)
    assert vars(made) == vars(data)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),  # missing the required field
        (("/a", "/b", 1, 2, (), "extra"), {}),
        (("/a",), {"nope": 1}),
        (("/a",), {"path": "/b"}),  # given twice
    ],
)
def test_bad_init_arguments_raise_the_same_type_error(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(TypeError) as from_data:
        DataNode(*args, **kwargs)
    with pytest.raises(TypeError) as from_record:
        RecordNode(*args, **kwargs)
    assert str(from_record.value) == str(from_data.value).replace("DataNode", "RecordNode")


def test_one_field_and_no_fields() -> None:
    assert repr(RecordOne(1)) == "RecordOne(only=1)" == repr(DataOne(1)).replace("Data", "Record")
    assert RecordOne(1) == RecordOne(1) and RecordOne(1) != RecordOne(2)
    assert hash(RecordOne(1)) == hash(DataOne(1)) == hash((1,))
    assert repr(RecordNone()) == "RecordNone()"
    assert RecordNone() == RecordNone()
    assert hash(RecordNone()) == hash(DataNone()) == hash(())
    assert fields(RecordNone) == ()


def test_equality_and_hash() -> None:
    data, made = _pair("/dev/x", major=3)
    assert made == RecordNode("/dev/x", major=3)
    assert made != RecordNode("/dev/x", major=4)
    assert hash(made) == hash(data) == hash(RecordNode("/dev/x", major=3))
    assert len({made, RecordNode("/dev/x", major=3), RecordNode("/dev/y")}) == 2


def test_equality_is_for_the_same_class_only() -> None:
    data, made = _pair("/dev/x")
    assert made != data and data != made
    assert made.__eq__(data) is NotImplemented
    assert data.__eq__(made) is NotImplemented
    assert made != ("/dev/x", "", 0, None, ())

    class Sub(RecordNode):
        pass

    assert made != Sub("/dev/x")


def test_an_unhashable_field_makes_the_instance_unhashable() -> None:
    # As in dataclasses: hashing hashes the field tuple, so a mapping field fails there.
    device = Device("gpu0", annotations=MappingProxyType({"a": "b"}))
    with pytest.raises(TypeError, match="unhashable"):
        hash(device)
    assert device == Device("gpu0", annotations=MappingProxyType({"a": "b"}))


@pytest.mark.parametrize("operation", ["assign", "assign other", "delete", "delete other"])
def test_frozen_errors(operation: str) -> None:
    data, made = _pair("/dev/x")
    name = "other" if operation.endswith("other") else "path"
    errors = []
    for instance in (data, made):
        with pytest.raises(AttributeError) as caught:
            if operation.startswith("assign"):
                setattr(instance, name, "/dev/y")
            else:
                delattr(instance, name)
        errors.append(caught.value)
    from_data, from_record = errors
    assert isinstance(from_record, FrozenRecordError)
    assert str(from_record) == str(from_data)
    assert made.path == "/dev/x" and "other" not in vars(made)


def test_frozen_error_texts() -> None:
    node = RecordNode("/dev/x")
    with pytest.raises(FrozenRecordError, match=r"^cannot assign to field 'major'$"):
        node.major = 1  # type: ignore[misc]
    with pytest.raises(FrozenRecordError, match=r"^cannot delete field 'major'$"):
        del node.major


def test_a_plain_subclass_may_add_attributes_but_not_change_fields() -> None:
    class Sub(RecordNode):
        pass

    class DataSub(DataNode):
        pass

    instance: Any
    for instance in (Sub("/dev/x"), DataSub("/dev/x")):
        instance.extra = 1
        assert instance.extra == 1
        with pytest.raises(AttributeError, match="cannot assign to field 'path'"):
            instance.path = "/y"


def test_match_args() -> None:
    assert RecordNode.__match_args__ == DataNode.__match_args__
    match RecordNode("/dev/x", "/h"):
        case RecordNode(path, host):
            assert (path, host) == ("/dev/x", "/h")
        case _:
            pytest.fail("no match")


def test_fields() -> None:
    expected = tuple(field.name for field in dataclasses.fields(DataNode))
    assert fields(RecordNode) == fields(RecordNode("/x")) == expected
    with pytest.raises(TypeError, match="fields"):
        fields(DataNode)


@pytest.mark.parametrize(
    "changes",
    [{}, {"path": "/dev/y"}, {"major": 9, "options": ("ro",)}, {"file_mode": None}],
)
def test_replace(changes: dict[str, Any]) -> None:
    data, made = _pair("/dev/x", "/h", 1, 0o600, ("rw",))
    replaced = replace(made, **changes)
    assert vars(replaced) == vars(dataclasses.replace(data, **changes))
    assert replaced is not made
    assert made == RecordNode("/dev/x", "/h", 1, 0o600, ("rw",))  # the original is unchanged
    assert made.__replace__(**changes) == replaced


def test_replace_an_unknown_field() -> None:
    with pytest.raises(TypeError) as from_data:
        dataclasses.replace(DataNode("/x"), nope=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError) as from_record:
        replace(RecordNode("/x"), nope=1)
    assert str(from_record.value) == str(from_data.value).replace("DataNode", "RecordNode")
    assert (
        str(from_record.value) == "RecordNode.__init__() got an unexpected keyword argument 'nope'"
    )


def test_replace_needs_a_record() -> None:
    with pytest.raises(TypeError, match="replace"):
        replace(DataNode("/x"), path="/y")


@pytest.mark.parametrize("duplicate", [copy.copy, copy.deepcopy])
def test_copy(duplicate: Any) -> None:
    made = RecordNode("/dev/x", options=("a",))
    copied = duplicate(made)
    assert copied == made and copied is not made
    assert type(copied) is RecordNode


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle(protocol: int) -> None:
    made = RecordNode("/dev/x", major=1, options=("a", "b"))
    loaded = pickle.loads(pickle.dumps(made, protocol))
    assert loaded == made and type(loaded) is RecordNode
    one = pickle.loads(pickle.dumps(RecordOne(5), protocol))
    assert one == RecordOne(5)


def test_an_instance_filled_through_its_dict_is_the_same() -> None:
    # The decoder creates model objects this way; they must be indistinguishable.
    made = object.__new__(RecordNode)
    made.__dict__.update(path="/dev/x", host_path="", major=2, file_mode=None, options=())
    built = RecordNode("/dev/x", major=2)
    assert made == built and hash(made) == hash(built) and repr(made) == repr(built)
    assert replace(made, major=3) == RecordNode("/dev/x", major=3)
    assert copy.deepcopy(made) == built
    assert pickle.loads(pickle.dumps(made)) == built
    with pytest.raises(FrozenRecordError):
        made.major = 3  # type: ignore[misc]


def test_defaults_are_shared_not_copied() -> None:
    first, second = Device("a"), Device("b")
    assert first.annotations is second.annotations  # the one immutable empty mapping
    assert dict(first.annotations) == {}
    assert Spec("1.0.0", "v/c").annotations is first.annotations


def test_class_variables_are_not_fields() -> None:
    @record.record
    class WithClassVar:
        kind: ClassVar[str] = "x"
        value: int = 0

    assert fields(WithClassVar) == ("value",)
    assert WithClassVar(1).kind == "x"


def test_a_field_without_default_after_one_with_default() -> None:
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):

        @record.record
        class Wrong:
            a: int = 0
            b: int  # type: ignore[misc]


def test_a_mutable_default_is_refused() -> None:
    with pytest.raises(ValueError, match="mutable default <class 'list'> for field a"):

        @record.record
        class Wrong:
            a: list[int] = []  # noqa: RUF012


def test_own_methods_are_kept() -> None:
    @record.record
    class Shown:
        value: int

        def __repr__(self) -> str:
            return "shown"

    assert repr(Shown(1)) == "shown"
    assert Shown(1) == Shown(1)


def test_own_eq_keeps_a_generated_hash() -> None:
    @record.record
    class Compared:  # noqa: PLW1641  (the hash is what is tested)
        value: int

        def __eq__(self, other: object) -> bool:
            return True

    assert Compared(1) == Compared(2)
    assert hash(Compared(1)) == hash((1,))


def test_own_setattr_is_refused() -> None:
    with pytest.raises(TypeError, match="cannot overwrite attribute __setattr__"):

        @record.record
        class Wrong:
            value: int

            def __setattr__(self, name: str, value: object) -> None:
                pass


def test_extending_a_record_is_refused() -> None:
    with pytest.raises(TypeError, match="cannot extend record RecordNode"):

        @record.record
        class Wrong(RecordNode):
            more: int = 0


def test_a_field_may_be_called_self() -> None:
    @record.record
    class Odd:
        self: int

    assert Odd(self=1).self == 1
    assert repr(Odd(2)).endswith(".Odd(self=2)")


def test_generated_methods_are_named_after_the_class() -> None:
    assert RecordNode.__init__.__qualname__ == "RecordNode.__init__"
    assert RecordNode.__repr__.__module__ == __name__


@pytest.mark.parametrize(
    "model",
    [
        DeviceNode("/dev/x", type="c", major=1, file_mode=0o666),
        Mount("/h", "/c", ("ro",)),
        Hook("createContainer", "/bin/hook", ("hook", "a")),
        IntelRdt(clos_id="x", schemata=()),
        ContainerEdits(env=("A=1",), device_nodes=(DeviceNode("/dev/y"),)),
        # Spec and Device hold a MappingProxyType, which neither pickle nor deepcopy handles
        # (as before, with dataclasses).
    ],
)
def test_model_objects_round_trip(model: Any) -> None:
    assert pickle.loads(pickle.dumps(model)) == model
    assert copy.deepcopy(model) == model
    assert replace(model) == model
