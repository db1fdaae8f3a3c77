"""Spec files byte for byte as the Go reference writer produces them.

``nvidia-ctk cdi generate`` (and CDI's ``WriteSpec``) write YAML as ``---`` followed by
gopkg.in/yaml.v3's ``Marshal`` of the spec, and JSON as ``encoding/json``'s ``Marshal``:
compact, no final newline. Writing the same bytes lets a spec written here diff clean
against one written by the Go tools on the same host. :func:`cdi.spec.encode.encode` stays
the project's own, PyYAML-based writer.

Go details reproduced: maps (annotations) come out sorted -- ``encoding/json`` by bytes,
yaml.v3 in its "natural" order, where digit runs compare as numbers (``a2`` before ``a10``)
-- and ``encoding/json`` escapes ``<``, ``>``, ``&``, U+2028 and U+2029 (its HTML-safe
default).
"""

from __future__ import annotations

import functools
import json
import unicodedata
from collections.abc import Callable
from typing import Any

from cdi.errors import SpecError
from cdi.gotext import quote
from cdi.spec.goyaml import dump_document, dump_simple
from cdi.spec.model import Spec
from cdi.spec.plain import to_plain

__all__ = ["encode_go", "natural_key_order"]

_HTML_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _is_letter(char: str) -> bool:
    return unicodedata.category(char).startswith("L")


def _is_digit(char: str) -> bool:
    return unicodedata.category(char) == "Nd"


def _digits_value(text: str, start: int, value: int) -> tuple[int, int]:
    """*value* followed by the run of digits at *start* (Go's ``v*10 + r - '0'``), and where
    the run ends."""
    index = start
    while index < len(text) and _is_digit(text[index]):
        value = value * 10 + ord(text[index]) - ord("0")
        index += 1
    return value, index


def _natural_less(a: str, b: str) -> bool:
    """yaml.v3's ordering of string map keys (``keyList.Less``)."""
    digits = False
    for index in range(min(len(a), len(b))):
        x, y = a[index], b[index]
        if x == y:
            digits = _is_digit(x)
            continue
        x_letter, y_letter = _is_letter(x), _is_letter(y)
        if x_letter and y_letter:
            return x < y
        if x_letter or y_letter:
            return x_letter if digits else y_letter
        # Digit runs compare as numbers. Where a zero continues a number that has a non-zero
        # digit before it, both runs start from 1, so leading zeros stay significant.
        start = 0
        if x == "0" or y == "0":
            back = index - 1
            while back >= 0 and _is_digit(a[back]):
                if a[back] != "0":
                    start = 1
                    break
                back -= 1
        x_value, x_end = _digits_value(a, index, start)
        y_value, y_end = _digits_value(b, index, start)
        if x_value != y_value:
            return x_value < y_value
        if x_end != y_end:
            return x_end < y_end
        return x < y
    return len(a) < len(b)


def _compare_natural(a: str, b: str) -> int:
    if _natural_less(a, b):
        return -1
    return 1 if _natural_less(b, a) else 0


natural_key_order: Callable[[str], Any] = functools.cmp_to_key(_compare_natural)
"""A sort key giving yaml.v3's order of map keys."""


def _sort_maps(plain: dict[str, Any], key: Callable[[str], Any] | None) -> dict[str, Any]:
    """*plain* (a spec in wire form) with its annotation maps in Go's order."""

    def sorted_map(value: dict[str, str]) -> dict[str, str]:
        return {name: value[name] for name in sorted(value, key=key)}

    result = dict(plain)
    if "annotations" in result:
        result["annotations"] = sorted_map(result["annotations"])
    if "devices" in result:
        result["devices"] = [
            {**device, "annotations": sorted_map(device["annotations"])}
            if "annotations" in device
            else device
            for device in result["devices"]
        ]
    return result


def _check_text(value: Any) -> None:
    """Raise :class:`UnicodeEncodeError` for a string in *value* that UTF-8 cannot hold (the
    YAML emitter would escape it instead)."""
    if isinstance(value, str):
        value.encode()
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_text(item)


def encode_go(spec: Spec, fmt: str) -> bytes:
    """The bytes the Go reference writer produces for *spec* as ``"yaml"`` or ``"json"``.

    A spec holding text that is not Unicode (a lone surrogate, from undecodable input)
    raises :class:`~cdi.errors.SpecError`.
    """
    if fmt not in ("json", "yaml"):
        raise ValueError(f"unknown spec format {fmt!r} (want yaml or json)")
    try:
        if fmt == "yaml":
            plain = _sort_maps(to_plain(spec), natural_key_order)
            text = dump_simple(plain)  # ASCII only: nothing to check
            if text is None:
                _check_text(plain)
                text = dump_document(plain, fast=False)
            return ("---\n" + text).encode()
        plain = _sort_maps(to_plain(spec, json_style=True), None)
        # The escaped characters occur only inside strings, so escaping the text is safe.
        text = json.dumps(plain, separators=(",", ":"), ensure_ascii=False)
        return text.translate(_HTML_ESCAPES).encode()
    except UnicodeEncodeError as err:
        text = err.object if isinstance(err.object, str) else ""
        raise SpecError(f"invalid CDI Spec: {quote(text)} is not valid UTF-8 text") from None
