"""Durations and sizes as ``cdi build prune`` reads and prints them.

A duration is written as Go's ``time.ParseDuration`` reads it (``90m``, ``1h30m``, ``1.5h``,
``10s``), which is what ``buildctl prune --keep-duration`` takes, so a BuildKit command line
carries over. A plain number is refused, as Go refuses it: ``3600`` could mean seconds or
minutes, ``3600s`` cannot.

A size is a number of bytes, with an optional unit: ``kB``, ``MB``, ``GB``, ``TB`` are powers
of 1000 (the unit letter in any case, the ``B`` optional) and ``KiB``, ``MiB``, ``GiB``,
``TiB`` powers of 1024. Sizes are printed as Docker's ``units.HumanSize`` prints them
(``12.35MB``: decimal units, four significant digits), as ``buildctl`` prints its totals.
"""

from __future__ import annotations

#: Seconds per unit of a Go duration (both spellings of the micro sign, as Go).
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,
    "\u03bcs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_UNIT_LIST = "h, m, s, ms, us or ns"
_DIGITS = "0123456789"

#: Bytes per unit letter; ``i`` after the letter makes it a power of 1024.
_SIZE_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}
_SIZE_HELP = (
    "expected a number of bytes with an optional unit: kB, MB, GB, TB (powers of 1000) "
    "or KiB, MiB, GiB, TiB (powers of 1024)"
)
_HUMAN_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


class UnitError(ValueError):
    """A duration or size that cannot be read; the message says why."""


def parse_duration(text: str) -> float:
    """Seconds in the Go duration *text* (``1h30m`` -> 5400.0). Raises :class:`UnitError`."""
    rest = text[1:] if text[:1] == "+" else text
    if rest.startswith("-"):
        raise UnitError(f"invalid duration {text!r}: it must not be negative")
    if rest == "0":
        return 0.0  # the one number Go takes without a unit
    if not rest:
        raise _bad_duration(text)
    total = 0.0
    while rest:
        number, rest = _take_number(rest)
        if number is None:
            raise _bad_duration(text)
        unit_end = 0
        while unit_end < len(rest) and rest[unit_end] != "." and rest[unit_end] not in _DIGITS:
            unit_end += 1
        unit, rest = rest[:unit_end], rest[unit_end:]
        if not unit:
            raise UnitError(f"invalid duration {text!r}: a unit is missing ({_UNIT_LIST})")
        if unit not in _DURATION_UNITS:
            raise UnitError(f"invalid duration {text!r}: unknown unit {unit!r} (use {_UNIT_LIST})")
        total += float(number) * _DURATION_UNITS[unit]
    return total


def _bad_duration(text: str) -> UnitError:
    return UnitError(
        f"invalid duration {text!r}: expected numbers with units, as in 90m, 1h30m or 10s"
    )


def _take_number(text: str) -> tuple[str | None, str]:
    """The decimal number at the start of *text* (``12``, ``1.5``, ``.5``, ``5.``), and the
    rest; None when there is no digit."""
    end = _skip_digits(text, 0)
    digits = end
    if end < len(text) and text[end] == ".":
        fraction_end = _skip_digits(text, end + 1)
        digits += fraction_end - end - 1
        end = fraction_end
    if digits == 0:
        return None, text
    return text[:end], text[end:]


def _skip_digits(text: str, start: int) -> int:
    end = start
    while end < len(text) and text[end] in _DIGITS:
        end += 1
    return end


def parse_size(text: str) -> int:
    """Bytes in *text* (``5GB`` -> 5000000000, ``1.5KiB`` -> 1536), rounded down.

    Raises :class:`UnitError`.
    """
    stripped = text.strip()
    number, rest = _take_number(stripped)
    if number is None:
        raise UnitError(f"invalid size {text!r}: {_SIZE_HELP}")
    unit = rest.strip().lower()
    if unit.endswith("b"):
        unit = unit[:-1]
    binary = len(unit) == 2 and unit.endswith("i")
    if binary:
        unit = unit[0]
    if unit not in _SIZE_POWERS:
        raise UnitError(f"invalid size {text!r}: {_SIZE_HELP}")
    from decimal import Decimal  # exact: 4.35kB is 4350 bytes, not 4349

    return int(Decimal(number) * (1024 if binary else 1000) ** _SIZE_POWERS[unit])


def human_size(size: int) -> str:
    """*size* bytes as Docker prints sizes: ``0B``, ``512B``, ``4.096kB``, ``12.35MB``."""
    value = float(size)
    index = 0
    while value >= 1000 and index < len(_HUMAN_UNITS) - 1:
        value /= 1000
        index += 1
    return f"{value:.4g}{_HUMAN_UNITS[index]}"
