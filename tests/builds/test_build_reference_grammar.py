"""The image reference grammar, checked by hand in cdi.build.context, against Docker's
regular expressions (ASCII, as Go's regexp reads them) on random words."""

from __future__ import annotations

import random
import re

import pytest

from cdi.build.context import _is_path_component, _is_tag, is_digest

PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@pytest.mark.parametrize("seed", range(4))
def test_hand_checks_agree_with_the_regular_expressions(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = "ab09._-A/:é\n"
    for _ in range(20000):
        word = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 9)))
        assert _is_path_component(word) == bool(PATH_COMPONENT.fullmatch(word)), word
        assert _is_tag(word) == bool(TAG.fullmatch(word)), word


@pytest.mark.parametrize(
    "word",
    [
        "sha256:" + "a" * 64,
        "sha256:" + "a" * 63,
        "sha256:" + "A" * 64,
        "sha512:" + "a" * 64,
        "sha256:" + "a" * 64 + "\n",
        "sha256:" + "g" * 64,
        "",
    ],
)
def test_digest(word: str) -> None:
    assert is_digest(word) == bool(DIGEST.fullmatch(word))


def test_tag_length_limit() -> None:
    assert _is_tag("a" * 128)
    assert not _is_tag("a" * 129)
