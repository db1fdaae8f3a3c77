"""Immutable record classes: what ``@dataclass(frozen=True)`` gives the model, without its cost.

Importing :mod:`dataclasses` pulls in ``inspect``, ``re`` and more, about twice what a new
``cdi`` process may spend on its whole start path. :func:`record` adds the methods a frozen
dataclass has, behaving the same: ``__init__`` over the fields in declaration order, a
dataclass-style ``__repr__``, ``__eq__`` and ``__hash__`` over the field tuple,
``__match_args__``, frozen ``__setattr__``/``__delattr__`` and ``__replace__``.

Only ``__init__`` is generated from source text, as dataclasses does, for its signature
(parameter names, defaults and error messages), and only when a class is first instantiated
through it; the other methods are closures over the field names, which costs a new process a
fraction of compiling them.

The fields are the keys of the class's own ``__annotations__`` (``ClassVar`` ones excepted); a
class attribute of the same name is the field's default. Instances keep their values in
``__dict__`` (no ``__slots__``), so the decoder, :mod:`copy` and :mod:`pickle` can create them
with ``object.__new__`` and fill that dictionary, bypassing the frozen ``__setattr__``.
"""

from __future__ import annotations

from operator import attrgetter

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform

    _T = TypeVar("_T")
else:

    def dataclass_transform(**_options: object) -> object:
        """Run-time stand-in: the decorator only informs type checkers."""
        return lambda decorated: decorated


__all__ = ["FrozenRecordError", "build", "fields", "record", "replace"]

#: The class attribute holding a record class's field names, in order.
FIELDS_ATTRIBUTE = "__record_fields__"

# Defaults that one instance could change under another's feet (dataclasses refuses them too).
_MUTABLE_DEFAULTS = (list, dict, set, bytearray)

_FROZEN_METHODS = ("__setattr__", "__delattr__")


class FrozenRecordError(AttributeError):
    """An attempt to assign to or delete a field of a record instance."""


def field_names(
    cls: type, attribute: str = FIELDS_ATTRIBUTE, kind: str = "record"
) -> tuple[str, ...]:
    """The fields of the record class *cls* being made: its own annotations, ``ClassVar``
    ones excepted. *attribute* marks the classes already made (*kind*: what they are called
    in the error); a record never extends another."""
    for base in cls.__mro__[1:]:
        if attribute in base.__dict__:
            # Inherited fields would need the base's defaults and order rules; nothing needs it.
            raise TypeError(
                f"{kind} class {cls.__qualname__} cannot extend {kind} {base.__qualname__}"
            )
    # Since Python 3.10 this is the class's own annotations only, never a base class's.
    annotations: dict[str, Any] = cls.__annotations__
    names = []
    for name, annotation in annotations.items():
        text = annotation if isinstance(annotation, str) else repr(annotation)
        if text.startswith(("ClassVar", "typing.ClassVar")):
            continue
        names.append(name)
    return tuple(names)


def _make_init(cls: type, names: tuple[str, ...]) -> Callable[..., None]:
    """``__init__`` for *cls*, compiled on its first call.

    Compiling costs a new process about 0.3 ms per class, and a process that only decodes
    specs (the decoder fills ``__dict__``) or reads the index never calls ``__init__``. The
    defaults are checked now, as a dataclass checks them when the class is made."""
    source, namespace = _init_source(cls, names)
    qualname = f"{cls.__qualname__}.__init__"

    def __init__(instance: Any, /, *args: Any, **kwargs: Any) -> None:  # a field may be "self"
        compiled = cls.__dict__["__init__"]
        if compiled is __init__:  # the first call: compile and install the real one
            exec(compile(source, f"<record {cls.__qualname__}>", "exec"), namespace)
            compiled = namespace["__init__"]
            compiled.__qualname__ = qualname
            compiled.__module__ = cls.__module__
            type.__setattr__(cls, "__init__", compiled)
        compiled(instance, *args, **kwargs)

    return __init__


def _init_source(cls: type, names: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    """The source of ``__init__`` and the namespace it runs in (the defaults)."""
    namespace: dict[str, Any] = {}
    parameters = ["__record_self__"]  # not "self": a field may be called that
    defaulted = ""
    for name in names:
        if name in cls.__dict__:
            default = cls.__dict__[name]
            check_default(name, default)
            namespace[f"_default_{name}"] = default
            parameters.append(f"{name}=_default_{name}")
            defaulted = name
        elif defaulted:
            raise TypeError(f"non-default argument {name!r} follows default argument")
        else:
            parameters.append(name)
    state = ", ".join(f"{name!r}: {name}" for name in names)
    source = (
        f"def __init__({', '.join(parameters)}):\n"
        f"    __record_self__.__dict__.update({{{state}}})\n"
    )
    return source, namespace


def check_default(name: str, default: object, advice: str = "") -> None:
    """Refuse a default that one instance could change under another's feet (as dataclasses
    does); *advice* ends the message."""
    if isinstance(default, _MUTABLE_DEFAULTS):
        raise ValueError(f"mutable default {type(default)} for field {name} is not allowed{advice}")


def _make_key(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The function giving an instance's field values as a tuple (attrgetter, in C)."""
    if len(names) > 1:
        key: Callable[[Any], tuple[Any, ...]] = attrgetter(*names)
        return key
    if names:
        single = attrgetter(names[0])
        return lambda instance: (single(instance),)
    return lambda instance: ()


def value_methods(names: tuple[str, ...]) -> dict[str, Callable[..., Any]]:
    """``__repr__`` and ``__eq__`` over the fields *names*, as a dataclass has them."""
    key = _make_key(names)

    def __repr__(self: Any) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in zip(names, key(self), strict=True))
        return f"{self.__class__.__qualname__}({shown})"

    def __eq__(self: Any, other: object) -> Any:
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented

    return {"__repr__": __repr__, "__eq__": __eq__}


def name_methods(cls: type, methods: dict[str, Callable[..., Any]]) -> None:
    """Give the generated *methods* the names they would have in *cls*'s body."""
    for method, function in methods.items():
        function.__qualname__ = f"{cls.__qualname__}.{method}"
        function.__module__ = cls.__module__


def _make_methods(cls: type, names: tuple[str, ...]) -> dict[str, Callable[..., Any]]:
    key = _make_key(names)
    field_set = frozenset(names)
    record_class: type[Any] = cls

    def __hash__(self: Any) -> int:
        return hash(key(self))

    # As in dataclasses: on the record class itself nothing may be set; a plain subclass may
    # have attributes of its own, but not change the fields.
    def __setattr__(self: Any, name: str, value: object) -> None:
        if type(self) is record_class or name in field_set:
            raise FrozenRecordError(f"cannot assign to field {name!r}")
        super(record_class, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is record_class or name in field_set:
            raise FrozenRecordError(f"cannot delete field {name!r}")
        super(record_class, self).__delattr__(name)

    def __replace__(self: Any, /, **changes: Any) -> Any:
        return replace(self, **changes)

    methods: dict[str, Callable[..., Any]] = {
        "__init__": _make_init(cls, names),
        **value_methods(names),
        "__hash__": __hash__,
        "__replace__": __replace__,
        "__setattr__": __setattr__,
        "__delattr__": __delattr__,
    }
    name_methods(cls, methods)
    return methods


@dataclass_transform(frozen_default=True)
def record(cls: type[_T]) -> type[_T]:
    """Make *cls* an immutable record class (the equivalent of ``@dataclass(frozen=True)``)."""
    names = field_names(cls)
    own = cls.__dict__
    for method in _FROZEN_METHODS:
        if method in own:
            raise TypeError(f"cannot overwrite attribute {method} in class {cls.__qualname__}")
    for method, function in _make_methods(cls, names).items():
        # Like dataclass: what the class body defines itself is kept. A body that defines
        # __eq__ gets __hash__ = None from Python, which does not count as defining it.
        if method in own and not (method == "__hash__" and own[method] is None):
            continue
        setattr(cls, method, function)
    setattr(cls, "__match_args__", names)  # noqa: B010  (mypy refuses the assignment)
    setattr(cls, FIELDS_ATTRIBUTE, names)
    return cls


def fields(class_or_instance: object) -> tuple[str, ...]:
    """The field names of a record class or instance, in declaration order."""
    names: tuple[str, ...] | None = getattr(class_or_instance, FIELDS_ATTRIBUTE, None)
    if names is None:
        raise TypeError("fields() should be called on record classes or instances")
    return names


def build(cls: type[_T], /, *values: Any) -> _T:
    """``cls(*values)`` for a record class, without calling its ``__init__``.

    For instances made while a module is imported (shared constants, tables): the first call
    of a record's ``__init__`` compiles it, a cost a start path need not pay. The fields not
    given take their defaults; a missing default or an extra value raises :class:`TypeError`.
    """
    names: tuple[str, ...] | None = getattr(cls, FIELDS_ATTRIBUTE, None)
    if names is None:
        raise TypeError("build() should be called on record classes")
    if len(values) > len(names):
        raise TypeError(f"{cls.__qualname__} takes {len(names)} values, not {len(values)}")
    state = dict(zip(names, values, strict=False))
    for name in names[len(values) :]:
        if name not in cls.__dict__:
            raise TypeError(f"{cls.__qualname__} needs a value for field {name!r}")
        state[name] = cls.__dict__[name]
    instance: _T = object.__new__(cls)
    object.__setattr__(instance, "__dict__", state)
    return instance


def replace(obj: _T, /, **changes: Any) -> _T:
    """A copy of the record *obj* with *changes* applied (``dataclasses.replace``).

    An unknown field name raises :class:`TypeError`, from the class's ``__init__``.
    """
    cls = type(obj)
    names: tuple[str, ...] | None = getattr(cls, FIELDS_ATTRIBUTE, None)
    if names is None:
        raise TypeError("replace() should be called on record instances")
    values = {name: getattr(obj, name) for name in names}
    values.update(changes)
    return cls(**values)
