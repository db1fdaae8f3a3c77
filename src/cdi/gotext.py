"""Go's text formatting where our messages and values must come out byte-for-byte the same.

Error texts quote values the way Go's ``%q`` does, and a YAML float landing in a string field
becomes ``strconv.FormatFloat(f, 'g', -1, 32)`` in the reference parser.
"""

from __future__ import annotations

import math

_SIMPLE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def quote(text: str) -> str:
    """Quote like Go's ``strconv.Quote`` (``%q``): printable runes kept, others escaped."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    out = ['"']
    for char in text:
        escaped = _SIMPLE_ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif char.isprintable():
            out.append(char)
        else:
            code = ord(char)
            if code < 0x80:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def go_bytes(text: str) -> bytes:
    """The bytes of *text* as a Go string holds them.

    Text that came from undecodable input (command-line arguments, file names) carries lone
    surrogates; they become bytes too (invalid UTF-8, as in Go) instead of an exception.
    """
    return text.encode("utf-8", "surrogatepass")


def _to_float32(value: float) -> float:
    import struct  # only float formatting needs it: kept off the start path

    return float(struct.unpack("f", struct.pack("f", value))[0])


def format_float32(value: float) -> str:
    """``strconv.FormatFloat(value, 'g', -1, 32)``: shortest digits that survive float32."""
    if math.isnan(value):
        return "NaN"
    try:
        single = _to_float32(value)
    except OverflowError:
        single = math.copysign(math.inf, value)
    if math.isinf(single):
        return "+Inf" if single > 0 else "-Inf"
    if single == 0:
        return "-0" if math.copysign(1.0, single) < 0 else "0"
    # Shortest decimal mantissa that reads back as the same float32.
    for precision in range(1, 10):
        text = f"{single:.{precision - 1}e}"
        if _to_float32(float(text)) == single:
            break
    mantissa, exponent_text = text.split("e")
    negative = mantissa.startswith("-")
    digits = mantissa.lstrip("-").replace(".", "").rstrip("0") or "0"
    exponent = int(exponent_text)
    sign = "-" if negative else ""
    # With the shortest form Go switches to %e when the exponent is < -4 or >= 6 (its eprec).
    if exponent < -4 or exponent >= 6:
        fraction = f".{digits[1:]}" if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{fraction}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    point = exponent + 1
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def format_json_number(value: float) -> str:
    """A number as Go's ``encoding/json`` writes a ``float64`` (how its errors quote one).

    Positional between 1e-6 and 1e21, else exponent form without a leading exponent zero
    (``1e-7``, ``1e+21``); shortest digits that read back the same either way.
    """
    if math.isinf(value) or math.isnan(value):
        return format_float64(value)
    magnitude = abs(value)
    text = repr(float(value))
    if magnitude == 0 or 1e-6 <= magnitude < 1e21:
        from decimal import Decimal  # error texts only: kept off the start path

        positional = format(Decimal(text), "f")
        return positional[:-2] if positional.endswith(".0") else positional
    mantissa, _, exponent = text.partition("e")
    sign, digits = exponent[0], exponent[1:].lstrip("0") or "0"
    if sign == "-" and len(digits) == 1:
        return f"{mantissa}e-{digits}"
    return f"{mantissa}e{sign}{digits.zfill(2)}"


def format_float64(value: float) -> str:
    """``strconv.FormatFloat(value, 'g', -1, 64)`` for the non-finite values Go names."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def path_error(err: OSError, op: str, path: str) -> str:
    """An OSError as Go prints a ``*PathError``: ``open /x: permission denied``."""
    reason = err.strerror or str(err)
    return f"{op} {path}: {reason[:1].lower()}{reason[1:]}"
