"""The name checks' fast paths (set look-ups) accept exactly what the reference's regular
expressions accept: differential tests against those expressions."""

from __future__ import annotations

import itertools
import random
import re

import pytest

from cdi import names

# The rules as regular expressions, the form the fast paths had before they avoided ``re``.
VENDOR_OR_CLASS = re.compile(r"[A-Za-z](?:[A-Za-z0-9_.\-]*[A-Za-z0-9])?")
DEVICE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.:\-]*[A-Za-z0-9])?")

# Every kind of character the rules tell apart, and some they must not confuse.
ALPHABET = "aZ09_.-:/=  \n\t\x00é\u0663\uff21\U0001d7d8"  # also non-ASCII letters, digits


def _short_strings() -> list[str]:
    return [
        "".join(chars)
        for length in range(4)
        for chars in itertools.product(ALPHABET, repeat=length)
    ]


def _random_strings(count: int) -> list[str]:
    rng = random.Random(3)
    return ["".join(rng.choices(ALPHABET, k=rng.randrange(5, 12))) for _ in range(count)]


SAMPLES = _short_strings() + _random_strings(5000)


@pytest.mark.parametrize(
    ("fast", "regex"),
    [
        (names._is_valid_vendor_or_class, VENDOR_OR_CLASS),
        (names._is_valid_device, DEVICE),
    ],
    ids=["vendor or class", "device"],
)
def test_fast_path_is_the_regex(fast: object, regex: re.Pattern[str]) -> None:
    assert callable(fast)
    wrong = [text for text in SAMPLES if fast(text) != (regex.fullmatch(text) is not None)]
    assert wrong == []


def test_validation_imports_no_regex_module() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from cdi.names import parse_qualified_name, is_qualified_name;"
        "parse_qualified_name('vendor.com/class=dev0'); is_qualified_name('x/y=');"
        "is_qualified_name('v/c=bad!'); print('re' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
