"""JSON text for plain data, byte-for-byte what :func:`json.dumps` writes, without ``json``.

Importing the :mod:`json` package also imports :mod:`re` (about 10 ms for a new process);
commands on the start path (``cdi devices -o json``, ``cdi inject``) only need to write. The C
helpers of :mod:`json` live in ``_json``, which imports nothing: strings are escaped by its
``encode_basestring`` and the compact form is its whole encoder. The indented form is not
written by the C encoder (``json`` itself writes it in Python), so it is restated here.

Plain data is what a JSON document holds: ``dict`` (keys ``str``, or ``int``, ``float``,
``bool``, ``None``, written as ``json`` writes them), ``list``, ``tuple``, ``str``, ``int``,
``float``, ``bool`` and ``None``. Anything else raises the :class:`TypeError` ``json`` raises.
"""

from __future__ import annotations

import math
from _json import encode_basestring as _quote
from _json import make_encoder as _make_encoder

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["dumps_compact", "dumps_indent"]

_INDENT = "  "


def _float(value: float) -> str:
    # json's spelling of the values JSON has no syntax for (allow_nan=True, its default).
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _unserializable(value: object) -> TypeError:
    return TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def _key(key: object) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, float):
        return _float(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")


_CONTAINERS = (list, tuple, dict)
_SCALARS = {str, int, float, bool, type(None)}
#: Per indentation: the C encoder writing a container of scalars with the separators of that
#: depth. Scalars come out the same whatever the separators, so the whole container can be
#: written by one C call (most of a listing's output) instead of item by item.
_FLAT_ENCODERS: dict[str, Callable[[Any, int], Any]] = {}


def _flat_encoder(inner: str) -> Callable[[Any, int], Any]:
    """The C encoder separating items by a line at *inner* (no cycle check: no nesting)."""
    encode = _FLAT_ENCODERS.get(inner)
    if encode is None:
        encode = _FLAT_ENCODERS[inner] = _make_encoder(
            None, _default, _quote, None, ": ", "," + inner, False, False, True
        )
    return encode


def _flat(value: Any, inner: str) -> str | None:
    """*value*'s text if it holds scalars only (its items on lines at *inner*), else None."""
    items = value.values() if isinstance(value, dict) else value
    for item in items:
        if isinstance(item, _CONTAINERS):
            return None
    text = "".join(_flat_encoder(inner)(value, 0))
    return text[0] + inner + text[1:-1] + inner[: -len(_INDENT)] + text[-1]


def _records(value: Any, inner: str) -> str | None:
    """A list of non-empty dicts of scalars (a listing's rows) in one C call, else None.

    Written with the separators of the rows' items, then re-indented where the rows meet. The
    text searched for holds a real newline, which no encoded string can (it is ``\\n``
    there), so only the structure matches."""
    if type(value) is not list or set(map(type, value)) != {dict} or not all(value):
        return None
    kinds: set[type] = set()
    for row in value:
        kinds.update(map(type, row.values()))  # exact types: a subclass takes the long way
    if not kinds <= _SCALARS:
        return None
    row_inner = inner + _INDENT
    text = "".join(_flat_encoder(row_inner)(value, 0))
    between = inner + "}," + inner + "{" + row_inner
    body = text[2:-2].replace("}," + row_inner + "{", between)
    return "[" + inner + "{" + row_inner + body + inner + "}" + inner[: -len(_INDENT)] + "]"


def _write(value: Any, out: list[str], newline: str, active: set[int]) -> None:
    """Append *value*'s text to *out*; *newline* starts a line at the current indentation."""
    # The order of the checks is json's: bool before int, str subclasses as str.
    if isinstance(value, str):
        out.append(_quote(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, list | tuple | dict):
        if not value:
            out.append("{}" if isinstance(value, dict) else "[]")
            return
        inner = newline + _INDENT
        flat = _flat(value, inner) or _records(value, inner)
        if flat is not None:
            out.append(flat)
            return
        marker = id(value)
        if marker in active:
            raise ValueError("Circular reference detected")
        active.add(marker)
        separator = inner
        if isinstance(value, dict):
            out.append("{")
            for key, item in value.items():
                out.append(separator)
                out.append(_quote(_key(key)))
                out.append(": ")
                _write(item, out, inner, active)
                separator = "," + inner
            out.append(newline + "}")
        else:
            out.append("[")
            for item in value:
                out.append(separator)
                _write(item, out, inner, active)
                separator = "," + inner
            out.append(newline + "]")
        active.discard(marker)
    else:
        raise _unserializable(value)


def dumps_indent(value: Any) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)``."""
    out: list[str] = []
    _write(value, out, "\n", set())
    return "".join(out)


def _default(value: object) -> Any:
    raise _unserializable(value)


def dumps_compact(value: Any) -> str:
    """``json.dumps(value, separators=(",", ":"), ensure_ascii=False)``, by the C encoder."""
    # A new encoder per call: its circular-reference markers are not cleaned up after an error.
    encode: Callable[[Any, int], Any] = _make_encoder(
        {}, _default, _quote, None, ":", ",", False, False, True
    )
    return "".join(encode(value, 0))
