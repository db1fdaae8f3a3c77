"""The first record of a text as Go's ``encoding/csv`` reads it, with Go's error texts.

BuildKit splits a ``RUN --device`` value with a default ``csv.Reader`` and reports what that
reader says (``failed to parse csv devices: EOF`` for an empty value), so the record and
its errors must be Go's, not Python's ``csv`` module's: empty lines are skipped (nothing but
empty lines is ``EOF``), a quote inside an unquoted field is an error, and a position is a
1-based line and a 1-based *byte* column.
"""

from __future__ import annotations

from cdi.build.mutable import mutable_record

_QUOTE = ord('"')


class CSVError(ValueError):
    """The text is not one CSV record; ``str()`` is Go's error text."""


@mutable_record
class _Lines:
    """Go's line reader: ``\\r\\n`` becomes ``\\n``; a ``\\r`` just before the end is dropped."""

    data: bytes
    offset: int = 0
    #: Lines read so far (Go's ``numLine``).
    count: int = 0

    def read(self) -> bytes | None:
        """The next line with its ``\\n``, or ``None`` at the end."""
        if self.offset >= len(self.data):
            return None
        end = self.data.find(b"\n", self.offset)
        end = len(self.data) if end < 0 else end + 1
        line = self.data[self.offset : end]
        self.offset = end
        self.count += 1
        if not line.endswith(b"\n") and line.endswith(b"\r"):
            line = line[:-1]
        if line.endswith(b"\r\n"):
            line = line[:-2] + b"\n"
        return line


def _without_newline(line: bytes) -> bytes:
    return line[:-1] if line.endswith(b"\n") else line


def _error(start_line: int, line: int, column: int, what: str) -> CSVError:
    where = f"parse error on line {line}, column {column}: {what}"
    if start_line != line:
        where = f"record on line {start_line}; {where}"
    return CSVError(where)


def first_record(text: str) -> list[str]:
    """The fields of the first record of *text*. Raises :class:`CSVError` (``EOF`` if none)."""
    lines = _Lines(text.encode("utf-8"))
    line = lines.read()
    while line is not None and not _without_newline(line):
        line = lines.read()  # empty lines hold no record
    if line is None:
        raise CSVError("EOF")
    start = lines.count
    fields: list[bytes] = []
    column = 1
    while True:
        if not line.startswith(b'"'):
            comma = line.find(b",")
            field = line[:comma] if comma >= 0 else _without_newline(line)
            quote = field.find(b'"')
            if quote >= 0:
                raise _error(start, lines.count, column + quote, 'bare " in non-quoted-field')
            fields.append(field)
            if comma < 0:
                break
            line = line[comma + 1 :]
            column += comma + 1
            continue
        # A quoted field: runs to a quote that is followed by a comma or the end of the line,
        # possibly over several lines; "" inside stands for one quote.
        value = bytearray()
        line = line[1:]
        column += 1
        line_number = lines.count
        at_end = False
        while True:
            quote = line.find(b'"')
            if quote >= 0:
                value += line[:quote]
                line = line[quote + 1 :]
                column += quote + 1
                if line[:1] == b'"':
                    value.append(_QUOTE)
                    line = line[1:]
                    column += 1
                    continue
                if line[:1] == b",":
                    line = line[1:]
                    column += 1
                    break
                if not _without_newline(line):
                    at_end = True
                    break
                raise _error(
                    start, lines.count, column - 1, 'extraneous or missing " in quoted-field'
                )
            if not line:
                raise _error(start, line_number, column, 'extraneous or missing " in quoted-field')
            value += line
            column += len(line)
            following = lines.read()
            line = following if following is not None else b""
            if line:
                line_number += 1
                column = 1
        fields.append(bytes(value))
        if at_end:
            break
    return [field.decode("utf-8") for field in fields]
