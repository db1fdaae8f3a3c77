"""The C JSON scanner of CPython's ``_json``, without the ``json`` package around it.

``json.loads`` builds a decoder object (and, with hooks, a new scanner) on every call and
imports the ``json`` package with its regular expressions; a start path that reads one
document needs neither. :func:`scanner` builds the C scanner once from a small context
object carrying the hooks, and :func:`whole_document` applies ``json.loads``'s own rules
around it: JSON whitespace before and after the value, nothing else.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Scan = Callable[[str, int], tuple[Any, int]]

try:
    from _json import make_scanner as _make_scanner
except ImportError:  # pragma: no cover - an interpreter without the C accelerator
    from json.scanner import make_scanner as _make_scanner

#: What JSON counts as whitespace (``str.isspace`` accepts more).
WHITESPACE = " \t\n\r"

#: What the scanner raises for text that is not JSON. A syntax error raises ``SystemError``
#: where ``json.decoder`` was never imported (CPython 3.11's scanner looks its exception
#: class up there, without importing it), ``JSONDecodeError`` (a ``ValueError``) otherwise;
#: hooks raise ``ValueError`` and deep nesting ``RecursionError``.
NOT_JSON = (ValueError, StopIteration, SystemError, RecursionError)


class _Context:
    """The attributes the C scanner reads from a ``JSONDecoder``, and nothing else."""

    __slots__ = (
        "array_hook",
        "memo",
        "object_hook",
        "object_pairs_hook",
        "parse_constant",
        "parse_float",
        "parse_int",
        "strict",
    )

    def __init__(
        self,
        object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None,
        parse_int: Callable[[str], Any],
        parse_float: Callable[[str], Any],
        parse_constant: Callable[[str], Any],
    ) -> None:
        self.strict = True  # control characters in strings are errors, as in json.loads
        self.object_hook = None
        self.array_hook = None  # read from Python 3.15 on
        self.object_pairs_hook = object_pairs_hook
        self.parse_int = parse_int
        self.parse_float = parse_float
        self.parse_constant = parse_constant
        self.memo: dict[str, str] = {}  # read by the pure-Python scanner only


def scanner(
    *,
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None,
    parse_int: Callable[[str], Any],
    parse_float: Callable[[str], Any],
    parse_constant: Callable[[str], Any],
) -> Scan:
    """A scanner ``scan(text, index) -> (value, end)`` with these hooks (``json.loads``'s).

    ``int`` and ``float`` as *parse_int* and *parse_float* make no Python call per number.
    """
    context = _Context(object_pairs_hook, parse_int, parse_float, parse_constant)
    # typeshed wants a scanner as the context; what the scanner reads is these attributes.
    scan: Scan = _make_scanner(context)  # type: ignore[arg-type]
    return scan


def whole_document(scan: Scan, text: str) -> Any:
    """The value of *text*, a single JSON value between optional whitespace.

    Raises one of :data:`NOT_JSON` where ``json.loads`` would raise.
    """
    start = 0
    if text[:1] in WHITESPACE:  # also true for "", which the scanner then refuses
        start = len(text) - len(text.lstrip(WHITESPACE))
    value, end = scan(text, start)
    # A JSON value never ends in whitespace, so it ends where the stripped text does.
    if end != len(text) and end != len(text.rstrip(WHITESPACE)):
        raise ValueError("Extra data")
    return value
