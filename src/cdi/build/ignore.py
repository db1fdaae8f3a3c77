"""``.dockerignore``: which files of the build context COPY and ADD cannot see.

The rules are those of Docker's pattern matcher: one pattern per line, ``#`` comments, ``!``
re-includes, patterns are cleaned and rooted at the context, ``*`` and ``?`` stay within one
path component, ``**`` spans any number of them, and a pattern that matches a directory
excludes everything below it. The last matching pattern decides.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from cdi.spec.record import record


@record
class _Pattern:
    text: str
    regex: re.Pattern[str]
    exclusion: bool
    depth: int


def _to_regex(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            if pattern[i + 1 : i + 2] == "*":
                i += 1
                if pattern[i + 1 : i + 2] == "/":
                    i += 1
                    out.append("(?:.*/)?")
                else:
                    out.append(".*")
            else:
                out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("^") or body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    out.append("$")
    return re.compile("".join(out))


class IgnoreMatcher:
    """Compiled ``.dockerignore`` patterns."""

    def __init__(self, lines: list[str]) -> None:
        self.patterns: list[_Pattern] = []
        for raw in lines:
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            exclusion = text.startswith("!")
            if exclusion:
                text = text[1:].strip()
                if not text:
                    continue
            text = posixpath.normpath(text)
            if len(text) > 1 and text.startswith("/"):
                text = text.lstrip("/")
            self.patterns.append(_Pattern(text, _to_regex(text), exclusion, len(text.split("/"))))
        self.has_exclusions = any(p.exclusion for p in self.patterns)

    @classmethod
    def from_file(cls, path: Path) -> IgnoreMatcher:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls([])
        return cls(text.splitlines())

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, relative: str) -> bool:
        """Whether the context path *relative* (``a/b``) is excluded."""
        relative = posixpath.normpath(relative)
        parents = relative.split("/")[:-1]
        matched = False
        for pattern in self.patterns:
            hit = bool(pattern.regex.match(relative))
            if not hit and parents:
                # A pattern naming a parent directory excludes everything below it.
                for depth in range(1, len(parents) + 1):
                    if pattern.regex.match("/".join(parents[:depth])):
                        hit = True
                        break
            if hit:
                matched = not pattern.exclusion
        return matched

    def excludes(self, relative: str, is_dir: bool) -> bool:
        """Whether to leave out *relative* while walking: a directory is still entered when a
        ``!`` pattern might re-include something below it."""
        if not self.matches(relative):
            return False
        if is_dir and self.has_exclusions:
            prefix = relative.rstrip("/") + "/"
            for pattern in self.patterns:
                if pattern.exclusion and (
                    pattern.text.startswith(prefix) or pattern.text.startswith("**")
                ):
                    return False
        return True
