"""Mutable record classes: what ``@dataclass`` gives the build's state objects, without its cost.

A dataclass costs a new process about a millisecond per class when its module is imported (it
compiles ``__init__``, ``__repr__`` and ``__eq__`` from source), and ``cdi build`` would import
a dozen. :func:`mutable_record` adds the methods a (not frozen) dataclass has, behaving the
same, as closures over the field names: ``__init__`` over the fields in declaration order,
with the defaults of the class body and the factories of :func:`field`; a dataclass-style
``__repr__``; ``__eq__`` over the field tuple, with ``__hash__ = None`` as for a mutable
dataclass; ``__match_args__``. Methods the class body defines itself are kept.

Immutable classes use :func:`cdi.spec.record.record`, the frozen counterpart.
"""

from __future__ import annotations

from cdi.spec.record import check_default, field_names, name_methods, value_methods

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform

    _T = TypeVar("_T")
else:
    from cdi.spec.record import dataclass_transform  # its run-time stand-in


__all__ = ["field", "mutable_record"]

#: The class attribute holding a mutable record class's field names, in order.
FIELDS_ATTRIBUTE = "__mutable_fields__"

_MISSING = object()


class _Factory:
    """A default made anew for each instance (what :func:`field` returns)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def field(*, default_factory: Callable[[], _T]) -> _T:
    """A field whose default is ``default_factory()``, called for each instance that does not
    give it (``dataclasses.field(default_factory=...)``)."""
    factory: Any = _Factory(default_factory)
    return factory  # type: ignore[no-any-return]


def _defaults(cls: type, names: tuple[str, ...]) -> dict[str, Any]:
    """Field name -> its default value or :class:`_Factory`, checked as dataclasses checks."""
    defaults: dict[str, Any] = {}
    for name in names:
        if name in cls.__dict__:
            default = cls.__dict__[name]
            check_default(name, default, ": use default_factory")
            defaults[name] = default
            if isinstance(default, _Factory):
                delattr(cls, name)  # as dataclasses: no class attribute for a factory field
        elif defaults:
            raise TypeError(f"non-default argument {name!r} follows default argument")
    return defaults


def _make_init(cls: type, names: tuple[str, ...]) -> Callable[..., None]:
    defaults = _defaults(cls, names)
    known = frozenset(names)
    qualname = f"{cls.__qualname__}.__init__"
    required = len(names) - len(defaults)
    # Python's own messages for a wrong call (the ones a dataclass's compiled __init__ gives).
    if required == len(names):
        plural = "s" if names else ""
        takes = f"takes {len(names) + 1} positional argument{plural}"
    else:
        takes = f"takes from {required + 1} to {len(names) + 1} positional arguments"

    def __init__(self: Any, /, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(names):
            raise TypeError(f"{qualname}() {takes} but {len(args) + 1} were given")
        given = dict(zip(names, args, strict=False))
        for name, value in kwargs.items():
            if name not in known:
                raise TypeError(f"{qualname}() got an unexpected keyword argument {name!r}")
            if name in given:
                raise TypeError(f"{qualname}() got multiple values for argument {name!r}")
            given[name] = value
        state = {}
        missing = []
        for name in names:
            if name in given:
                state[name] = given[name]
                continue
            default = defaults.get(name, _MISSING)
            if default is _MISSING:
                missing.append(name)
            else:
                state[name] = default.make() if isinstance(default, _Factory) else default
        if missing:
            raise TypeError(f"{qualname}() {_missing_message(missing)}")
        self.__dict__.update(state)

    return __init__


def _missing_message(missing: list[str]) -> str:
    quoted = [repr(name) for name in missing]
    if len(quoted) == 1:
        return f"missing 1 required positional argument: {quoted[0]}"
    listed = ", ".join(quoted[:-1]) + ("," if len(quoted) > 2 else "") + " and " + quoted[-1]
    return f"missing {len(quoted)} required positional arguments: {listed}"


def _make_methods(cls: type, names: tuple[str, ...]) -> dict[str, Any]:
    methods: dict[str, Any] = {"__init__": _make_init(cls, names), **value_methods(names)}
    name_methods(cls, methods)
    return methods


@dataclass_transform(field_specifiers=(field,))
def mutable_record(cls: type[_T]) -> type[_T]:
    """Make *cls* a mutable record class (the equivalent of ``@dataclass``)."""
    names = field_names(cls, FIELDS_ATTRIBUTE, "mutable record")
    own = cls.__dict__
    for method, function in _make_methods(cls, names).items():
        if method not in own:
            setattr(cls, method, function)
    if own.get("__hash__") is None:
        # As a dataclass with eq=True and not frozen: not hashable, unless the body says how.
        setattr(cls, "__hash__", None)  # noqa: B010  (mypy refuses the assignment)
    setattr(cls, "__match_args__", names)  # noqa: B010
    setattr(cls, FIELDS_ATTRIBUTE, names)
    return cls
