"""JSON documents read as the reference's YAML reader reads them, by the C JSON parser.

Go's reader differs from ``json.loads`` in a few corners: it refuses surrogate escapes (even
valid pairs) and invalid UTF-8, keeps numbers beyond int64/uint64 as floats or strings, and
has no NaN or Infinity. :func:`read_json` takes the C path only where it gives the same values
and says ``None`` otherwise, so that the caller falls back to the YAML path.

Neither ``json`` nor ``re`` is imported: the C scanner is built directly (:mod:`cdi.spec.cjson`)
and surrogate escapes are looked for with ``str.find``.
"""

from __future__ import annotations

from cdi.spec import cjson
from cdi.spec.pairs import Pairs

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import Any

_INT_MIN, _UINT_MAX = -(2**63), 2**64 - 1
_UINT_DIGITS = len(str(_UINT_MAX))
_INFINITIES = (float("inf"), float("-inf"))
# The third and fourth characters of a \u escape of a UTF-16 surrogate (D800-DFFF).
_SURROGATE_HIGH = "dD"
_SURROGATE_LOW = "89abcdefABCDEF"


def _json_float(text: str) -> float | str:
    value = float(text)
    # Go's ParseFloat fails on overflow, so go-yaml keeps such a number as a string.
    return text if value in _INFINITIES else value


def _json_int(text: str) -> int | float | str:
    # go-yaml turns integers beyond int64/uint64 into floats (or strings, past float64);
    # long ones never reach int(), whose digit limit would raise.
    if len(text.lstrip("-")) > _UINT_DIGITS:
        return _json_float(text)
    value = int(text)
    return value if _INT_MIN <= value <= _UINT_MAX else _json_float(text)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN/Infinity: let the YAML path decide


_GO_PAIRS = cjson.scanner(
    object_pairs_hook=Pairs,
    parse_int=_json_int,
    parse_float=_json_float,
    parse_constant=_no_constants,
)
_GO_DICTS = cjson.scanner(
    object_pairs_hook=None,
    parse_int=_json_int,
    parse_float=_json_float,
    parse_constant=_no_constants,
)
# Numbers as Python reads them: no Python call per number, for callers that check ranges.
_PLAIN_DICTS = cjson.scanner(
    object_pairs_hook=None, parse_int=int, parse_float=float, parse_constant=_no_constants
)


def _has_surrogate_escape(text: str) -> bool:
    """Whether *text* holds ``\\uD800``-``\\uDFFF`` (go-yaml refuses every one, even a pair).

    Like the pattern it replaces, an escaped backslash before ``u`` counts too; the YAML
    path then reads the document, with the same result.
    """
    index = text.find("\\u")
    while index >= 0:
        high, low = text[index + 2 : index + 3], text[index + 3 : index + 4]
        if high and low and high in _SURROGATE_HIGH and low in _SURROGATE_LOW:
            return True
        index = text.find("\\u", index + 2)
    return False


def json_text(data: str | bytes) -> str | None:
    """*data* as text if the C parser may read it as the reference does, else ``None``:
    valid UTF-8 (no lone surrogates in text), and no surrogate escapes."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    else:
        text = data
        if not text.isascii():
            try:
                text.encode("utf-8")  # refuses surrogates, the only code points UTF-8 lacks
            except UnicodeEncodeError:
                return None
    if "\\" in text and _has_surrogate_escape(text):  # one character: a fast search
        return None
    return text


def read_json(data: str | bytes, *, pairs: bool = True) -> tuple[str, Any] | None:
    """``(text, value)`` read by the C JSON parser, or ``None`` where only the YAML path reads
    *data* as the reference does. Mappings become :class:`~cdi.spec.pairs.Pairs` (repeated
    keys kept), or with *pairs* false ``dict`` (the last repeated key wins).
    """
    text = json_text(data)
    if text is None:
        return None
    try:
        value = cjson.whole_document(_GO_PAIRS if pairs else _GO_DICTS, text)
    except cjson.NOT_JSON:
        return None
    return text, value


def read_plain_json(text: str) -> Any:
    """The value of the JSON *text* (from :func:`json_text`) with ``dict`` objects and
    numbers as Python reads them: integers of any size (within Python's digit limit),
    infinite floats for overflowing ones. Only for callers that refuse what Go would read
    differently (a number out of its field's range, any float where an integer belongs).

    Raises one of :data:`cdi.spec.cjson.NOT_JSON` where :func:`read_json` gives ``None``.
    """
    return cjson.whole_document(_PLAIN_DICTS, text)
