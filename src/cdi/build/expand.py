"""Variable expansion and quote removal in Dockerfile words, as BuildKit's shell lexer does.

BuildKit processes the words of ENV, ARG, LABEL, WORKDIR, USER, COPY/ADD, FROM, EXPOSE,
VOLUME and STOPSIGNAL (never RUN, CMD or ENTRYPOINT, whose shell does its own, and never
``RUN --device`` values) with a small POSIX-like lexer: single quotes are literal, double
quotes allow ``$`` expansion and a few escapes, the escape character (``\\`` or the one the
``# escape=`` directive picks) quotes the next character, and ``$NAME``, ``${NAME}``,
``${NAME:-word}``, ``${NAME-word}``, ``${NAME:+word}``, ``${NAME+word}``, ``${NAME:?msg}``,
``${NAME?msg}``, ``${NAME#pat}``, ``${NAME##pat}``, ``${NAME%pat}``, ``${NAME%%pat}``,
``${NAME/pat/repl}`` and ``${NAME//pat/repl}`` are substituted. Error texts are BuildKit's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from cdi.errors import CDIError

_SPECIAL_PARAMS = frozenset("@*#?-$!0")


class ExpansionError(CDIError):
    """A word could not be expanded (bad substitution, unterminated quote, ``${X:?}``)."""


def _is_name_char(char: str) -> bool:
    return char.isalpha() or char.isdigit() or char == "_"


class _Word:
    """One pass over one word; ``pos`` is the index of the next unread character."""

    def __init__(self, text: str, env: Mapping[str, str], escape: str, quotes: bool = True) -> None:
        self.quotes = quotes
        self.text = text
        self.env = env
        self.escape = escape
        self.pos = 0
        self.raw_escapes = False

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        char = self.peek()
        if char:
            self.pos += 1
        return char

    def process_until(self, stop: str, *, raw_escapes: bool = False) -> str:
        """Process characters up to *stop* (consumed; ``""`` means the end of the word)."""
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            out: list[str] = []
            while self.peek():
                char = self.peek()
                if stop and char == stop:
                    self.next()
                    return "".join(out)
                if char == "$":
                    out.append(self.dollar())
                elif char == "'" and self.quotes:
                    out.append(self.single_quoted())
                elif char == '"' and self.quotes:
                    out.append(self.double_quoted())
                else:
                    char = self.next()
                    if char == self.escape:
                        if self.raw_escapes:
                            out.append(char)
                        char = self.next()
                        if not char:
                            break
                    out.append(char)
            if stop:
                raise ExpansionError(
                    f"unexpected end of statement while looking for matching {stop}"
                )
            return "".join(out)
        finally:
            self.raw_escapes = saved

    def single_quoted(self) -> str:
        # Everything up to the next single quote is literal; a single quote cannot be escaped.
        self.next()
        end = self.text.find("'", self.pos)
        if end < 0:
            raise ExpansionError(
                "unexpected end of statement while looking for matching single-quote"
            )
        value = self.text[self.pos : end]
        self.pos = end + 1
        return value

    def double_quoted(self) -> str:
        self.next()
        out: list[str] = []
        while True:
            char = self.peek()
            if not char:
                raise ExpansionError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if char == '"':
                self.next()
                return "".join(out)
            if char == "$":
                out.append(self.dollar())
                continue
            char = self.next()
            if char == self.escape:
                if self.raw_escapes:
                    out.append(char)
                following = self.peek()
                if not following:
                    continue
                # Only these may be escaped inside double quotes; other escapes stay as written.
                if following in ('"', "$", self.escape):
                    char = self.next()
            out.append(char)

    def name(self) -> str:
        out: list[str] = []
        while self.peek():
            char = self.peek()
            if not out and char.isdigit():
                while self.peek().isdigit():
                    out.append(self.next())
                return "".join(out)
            if not out and char in _SPECIAL_PARAMS:
                return self.next()
            if not _is_name_char(char):
                break
            out.append(self.next())
        return "".join(out)

    def lookup(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            return self.env[name], True
        return "", False

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            return self.lookup(name)[0]
        self.next()
        following = self.peek()
        if not following:
            raise ExpansionError("syntax error: missing '}'")
        if following in "{}:":
            raise ExpansionError("syntax error: bad substitution")
        name = self.name()
        char = self.next()
        if not char:
            raise ExpansionError("syntax error: missing '}'")
        modifier = char
        if char == "}":
            return self.lookup(name)[0]
        null_is_unset = False
        if char == ":":
            null_is_unset = True
            char = self.next()
            modifier += char
        if char in ("+", "-", "?", "#", "%"):
            raw = char in ("#", "%")
            if null_is_unset and raw:
                raise ExpansionError(f"unsupported modifier ({modifier}) in substitution")
            word = self._until_brace(raw)
            value, is_set = self.lookup(name)
            empty = not is_set or (null_is_unset and value == "")
            if char == "-":
                return word if empty else value
            if char == "+":
                return "" if empty else word
            if char == "?":
                if not is_set:
                    raise ExpansionError(f"{name}: {word or 'is not allowed to be unset'}")
                if null_is_unset and value == "":
                    raise ExpansionError(f"{name}: {word or 'is not allowed to be empty'}")
                return value
            greedy = word.startswith(char)
            if greedy:
                word = word[1:]
            if char == "%":
                return _trim_suffix(word, value, greedy)
            return _trim_prefix(word, value, greedy)
        if char == "/" and not null_is_unset:
            replace_all = self.peek() == "/"
            if replace_all:
                self.next()
            try:
                pattern = self.process_until("/", raw_escapes=True)
            except ExpansionError:
                if not self.peek():
                    raise ExpansionError("syntax error: missing '/' in ${}") from None
                raise
            replacement = self._until_brace(True)
            value = self.lookup(name)[0]
            regex = re.compile(_pattern_regex(pattern, greedy=True))
            if replace_all:
                return regex.sub(lambda _match: replacement, value)
            found = regex.search(value)
            if found is None:
                return value
            return value[: found.start()] + replacement + value[found.end() :]
        raise ExpansionError(f"unsupported modifier ({modifier}) in substitution")

    def _until_brace(self, raw: bool) -> str:
        try:
            return self.process_until("}", raw_escapes=raw)
        except ExpansionError:
            if not self.peek():
                raise ExpansionError("syntax error: missing '}'") from None
            raise


def _pattern_regex(pattern: str, *, greedy: bool) -> str:
    """A shell glob (``*``, ``?``, ``[...]``, ``\\x``) as a regular expression body."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append(".*" if greedy else ".*?")
        elif char == "?":
            out.append(".")
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif char == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "^") else i + 1)
            if end < 0:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                negate = body[:1] in ("!", "^")
                if negate:
                    body = body[1:]
                body = body.replace("\\", "\\\\").replace("[", "\\[")
                out.append(f"[{'^' if negate else ''}{body}]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    regex = re.compile(_pattern_regex(pattern, greedy=True), re.DOTALL)
    lengths = range(len(value), -1, -1) if greedy else range(len(value) + 1)
    for length in lengths:
        if regex.fullmatch(value[:length]):
            return value[length:]
    return value


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    regex = re.compile(_pattern_regex(pattern, greedy=True), re.DOTALL)
    starts = range(len(value) + 1) if greedy else range(len(value), -1, -1)
    for start in starts:
        if regex.fullmatch(value[start:]):
            return value[:start]
    return value


def expand(word: str, env: Mapping[str, str], *, escape: str = "\\", quotes: bool = True) -> str:
    """*word* with quotes removed and variables from *env* substituted (BuildKit's ProcessWord).

    Unset variables expand to the empty string. With *quotes* false, quote characters are
    ordinary characters (for the contents of heredocs). Raises :class:`ExpansionError`.
    """
    return _Word(word, env, escape, quotes).process_until("")
