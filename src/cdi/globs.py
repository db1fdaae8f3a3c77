"""Device name patterns with the reference tool's glob rules (Go's ``path/filepath.Match``).

``cdi inject`` takes patterns such as ``vendor.com/gpu=*``: ``*`` matches any run of
characters other than ``/``, ``?`` one such character, ``[a-z]`` / ``[^0-9]`` a character
class (negated with ``^``, not ``!``; a class may match ``/``), and ``\\`` quotes the next
character. A malformed pattern (an unclosed or empty class, a trailing ``\\``) is an error
here even where Go would just report no match, so a typo is not silently ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache, partial
from operator import eq

from cdi.errors import CDIError
from cdi.gotext import quote
from cdi.spec.record import record

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    import re
    from collections.abc import Callable

__all__ = ["Expansion", "PatternError", "compile_pattern", "expand", "has_magic", "match"]

_MAGIC = frozenset("*?[\\")


class PatternError(CDIError, ValueError):
    """A glob pattern is malformed (Go: ``filepath.ErrBadPattern``)."""

    def __init__(self, pattern: str) -> None:
        super().__init__(f"syntax error in pattern {quote(pattern)}")
        self.pattern = pattern


def has_magic(pattern: str) -> bool:
    """Whether *pattern* has any glob syntax (otherwise it only matches itself)."""
    return not _MAGIC.isdisjoint(pattern)


def _class_item(pattern: str, pos: int) -> tuple[str, int]:
    """One (possibly escaped) character of a class starting at *pos*, and the next position."""
    if pos >= len(pattern) or pattern[pos] in "-]":
        raise PatternError(pattern)
    if pattern[pos] == "\\":
        pos += 1
        if pos >= len(pattern):
            raise PatternError(pattern)
    return pattern[pos], pos + 1


def _class(pattern: str, pos: int) -> tuple[str, int]:
    """The regex for the class whose ``[`` is just before *pos*, and the position after ``]``."""
    import re

    negated = pos < len(pattern) and pattern[pos] == "^"
    if negated:
        pos += 1
    ranges: list[tuple[str, str]] = []
    while True:
        if pos < len(pattern) and pattern[pos] == "]" and ranges:
            pos += 1
            break
        low, pos = _class_item(pattern, pos)
        high = low
        if pos < len(pattern) and pattern[pos] == "-":
            high, pos = _class_item(pattern, pos + 1)
        ranges.append((low, high))
    # A reversed range (z-a) is valid in Go and matches nothing; a regex would reject it.
    kept = [(lo, hi) for lo, hi in ranges if lo <= hi]
    body = "".join(
        re.escape(lo) if lo == hi else f"{re.escape(lo)}-{re.escape(hi)}" for lo, hi in kept
    )
    if negated:
        return (f"[^{body}]" if body else "."), pos
    return (f"[{body}]" if body else "(?!)"), pos


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The whole-string regex for *pattern*; raises :class:`PatternError` when malformed."""
    import re  # a new process pays ~10 ms for it: only patterns with glob syntax need it

    out: list[str] = []
    pos = 0
    while pos < len(pattern):
        char = pattern[pos]
        pos += 1
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            regex, pos = _class(pattern, pos)
            out.append(regex)
        elif char == "\\":
            if pos >= len(pattern):
                raise PatternError(pattern)
            out.append(re.escape(pattern[pos]))
            pos += 1
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


def match(pattern: str, name: str) -> bool:
    """Whether *name* matches *pattern* as a whole (Go's ``filepath.Match``)."""
    return compile_pattern(pattern).fullmatch(name) is not None


@record
class Expansion:
    """The names some pattern matched (sorted, each once) and the patterns that matched none."""

    names: list[str]
    unmatched: list[str]


def expand(patterns: Sequence[str], names: Iterable[str]) -> Expansion:
    """Match *patterns* against the known device *names*, as the reference's ``cdi inject``.

    Every known name matching any pattern is selected; the result is sorted and
    de-duplicated. A pattern that matches nothing is returned in ``unmatched`` (the reference
    drops it silently); so is a plain name that is not known. Raises :class:`PatternError`
    for a malformed pattern.
    """
    # A pattern without glob syntax matches exactly itself: no regex needed for it.
    matchers: list[Callable[[str], object]] = [
        compile_pattern(pattern).fullmatch if has_magic(pattern) else partial(eq, pattern)
        for pattern in patterns
    ]
    selected: set[str] = set()
    used = [False] * len(patterns)
    for name in names:
        for index, matches in enumerate(matchers):
            if matches(name):
                selected.add(name)
                used[index] = True
    unmatched = list(dict.fromkeys(p for p, hit in zip(patterns, used, strict=True) if not hit))
    return Expansion(sorted(selected), unmatched)
