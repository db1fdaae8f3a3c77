"""JSON documents read as the reference's YAML reader reads them, by the C JSON parser.

Go's reader differs from ``json.loads`` in a few corners: it refuses surrogate escapes (even
valid pairs) and invalid UTF-8, keeps numbers beyond int64/uint64 as floats or strings, and
has no NaN or Infinity. :func:`read_json` takes the C path only where it gives the same values
and says ``None`` otherwise, so that the caller falls back to the YAML path.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from cdi.spec.pairs import Pairs

_INT_MIN, _UINT_MAX = -(2**63), 2**64 - 1
_UINT_DIGITS = len(str(_UINT_MAX))
# A \u escape of a UTF-16 surrogate: go-yaml refuses every one, even a valid pair.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abAB-Fa-f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _json_float(text: str) -> float | str:
    value = float(text)
    # Go's ParseFloat fails on overflow, so go-yaml keeps such a number as a string.
    return text if math.isinf(value) else value


def _json_int(text: str) -> int | float | str:
    # go-yaml turns integers beyond int64/uint64 into floats (or strings, past float64);
    # long ones never reach int(), whose digit limit would raise.
    if len(text.lstrip("-")) > _UINT_DIGITS:
        return _json_float(text)
    value = int(text)
    return value if _INT_MIN <= value <= _UINT_MAX else _json_float(text)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN/Infinity: let the YAML path decide


def read_json(data: str | bytes, *, pairs: bool = True) -> tuple[str, Any] | None:
    """``(text, value)`` read by the C JSON parser, or ``None`` where only the YAML path reads
    *data* as the reference does. Mappings become :class:`~cdi.spec.pairs.Pairs` (repeated
    keys kept), or with *pairs* false ``dict`` (the last repeated key wins).
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    elif _SURROGATE.search(data):
        return None
    else:
        text = data
    if _SURROGATE_ESCAPE.search(text):
        return None
    try:
        value = json.loads(
            text,
            object_pairs_hook=Pairs if pairs else None,
            parse_int=_json_int,
            parse_float=_json_float,
            parse_constant=_no_constants,
        )
    except (ValueError, RecursionError):
        return None
    return text, value
