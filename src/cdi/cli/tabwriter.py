"""Column alignment the way Go's ``text/tabwriter`` does it, for output that must match.

Cells are the tab-terminated parts of a line; the text after the last tab is not a cell and
is never padded. A column is aligned over a run of consecutive lines that all have a cell in
it, so a line with fewer cells ends the run (this is what makes ``docker buildx inspect``
indent annotation lines under their device).
"""

from __future__ import annotations


def align(lines: list[str], padding: int = 1, minwidth: int = 0) -> list[str]:
    """Pad cells with spaces: each column as wide as its widest cell in the run, plus padding."""
    rows = [line.split("\t") for line in lines]
    cells = [row[:-1] for row in rows]  # the last part is trailing text
    widths = [[0] * len(row) for row in cells]
    column = 0
    while any(len(row) > column for row in cells):
        start = 0
        while start < len(cells):
            if len(cells[start]) <= column:
                start += 1
                continue
            end = start
            while end < len(cells) and len(cells[end]) > column:
                end += 1
            width = max(len(cells[i][column]) for i in range(start, end))
            width = max(width + padding, minwidth)
            for i in range(start, end):
                widths[i][column] = width
            start = end
        column += 1
    out = []
    for row, row_cells, row_widths in zip(rows, cells, widths, strict=True):
        padded = zip(row_cells, row_widths, strict=True)
        out.append("".join(cell.ljust(width) for cell, width in padded) + row[-1])
    return out
