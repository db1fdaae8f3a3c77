"""A fast reader for block-style YAML as tools write it, giving the full reader's values.

Nearly every spec file is written by a tool (the project's own writer, PyYAML's
``safe_dump``, nvidia-ctk's yaml.v3): indentation, ``key: value``, ``- item``, scalars on one
line. :func:`read_block` reads that subset line by line, without libyaml's event machinery,
and returns ``None`` for everything else: any construct, character or layout outside the
subset, and every document that the full reader (:mod:`cdi.spec.yaml11`) would refuse or
report on (a syntax error, a repeated key, too deep, too many nodes). The caller then
takes the full reader, so whatever is read here has exactly the value the full reader
gives it, with the same YAML 1.1 resolution of plain scalars (:mod:`cdi.spec.yamlscalar`).

The subset: UTF-8 (no byte-order mark) of printable characters, lines ending in ``\\n``
alone; an optional ``---`` first line; full-line comments and blank lines; block mappings
whose keys are plain or quoted scalars; block sequences (flush with their key, as PyYAML
writes them, or indented, as yaml.v3 does), whose items are scalars, ``[]``/``{}`` or
mappings starting on the item's line; plain scalars that cannot be read any other way (no
indicator first, no ``": "``, no ``" #"``, no trailing ``:`` or spaces); single-quoted
scalars on one line; double-quoted ones on one line with the escapes libyaml knows; a
document that is one scalar line; and the anchors and aliases PyYAML writes for shared
values (``key: &id001`` before the block it names, ``*id001`` as a whole value or item).
Not read: tabs, other anchors, tags, flow collections with content, block scalars (``|``,
``>``), scalars over several lines, ``? `` keys, directives, a second document, comments
after content, ``- - item``, a bare ``-``.
"""

from __future__ import annotations

from cdi.spec.pairs import Pairs
from cdi.spec.yamllimits import MAX_ALIAS_EXPANSION, MAX_DEPTH, MAX_NODES
from cdi.spec.yamlline import (
    BLANK,
    ENTRY,
    ITEM,
    SCALAR,
    Later,
    OutsideSubset,
    classify_line,
)

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from cdi.errors import FieldPath
    from cdi.spec.yaml11 import Duplicate

__all__ = ["BlockDocument", "read_block"]

#: Each line makes at most three nodes ("- key: value": a mapping, a key and a value).
_MAX_LINES = MAX_NODES // 3

# Lines repeat, within a document and across the documents of one tool ("- ro",
# "containerEdits:"), so what a line holds is remembered, which halves the time a spec
# takes. Entries are immutable (a Later is never changed); the memo is emptied when full,
# and bounded to a few hundred kB.
_CLASSIFIED: dict[str, tuple[int, int, str, Any]] = {}
_CACHED_LINES = 1024
_CACHED_LINE_LENGTH = 200


class _Anchors:
    """The collections anchors name, and how many nodes their aliases have added so far.

    As in the full reader, an alias stands for the very node its anchor names (shared,
    not copied), may not point into a collection still open, and adds the size of that node
    to a budget (:data:`~cdi.spec.yamllimits.MAX_ALIAS_EXPANSION`).
    """

    __slots__ = ("expanded", "named", "sizes")

    def __init__(self) -> None:
        self.named: dict[str, Any] = {}
        self.sizes: dict[str, int] = {}
        self.expanded = 0

    def define(self, name: str, node: Any) -> None:
        if name in self.named:
            raise OutsideSubset  # a redefined anchor: left to the full reader
        self.named[name] = node

    def resolve(self, name: str, open_nodes: list[Any]) -> Any:
        node = self.named.get(name)
        if node is None or any(node is open_node for open_node in open_nodes):
            raise OutsideSubset  # an unknown anchor, or an alias inside its own node
        size = self.sizes.get(name)
        if size is None:
            size = self.sizes[name] = _size(node, MAX_ALIAS_EXPANSION - self.expanded)
        self.expanded += size
        if self.expanded > MAX_ALIAS_EXPANSION:
            raise OutsideSubset
        return node


def _size(node: Any, budget: int) -> int:
    """How many nodes *node* counts as (keys included); raises once past *budget*."""
    total = 0
    pending = [node]
    while pending:
        item = pending.pop()
        total += 1
        if type(item) is Pairs:
            total += len(item)
            pending.extend(value for _, value in item)
        elif type(item) is list:
            pending.extend(item)
        if total > budget:
            raise OutsideSubset
    return total


class BlockDocument:
    """A document :func:`read_block` read: its plain value, and no positions.

    A document with repeated keys is left to the full reader, so there are none here.
    When a document turns out not to be a valid spec, the caller reads it again with the
    full reader to tell where the problem is: :meth:`locate` has no positions to give.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    @property
    def duplicates(self) -> Sequence[Duplicate]:
        """Always empty (those documents are refused)."""
        return ()

    @property
    def non_finite(self) -> bool:
        """Whether the value holds a NaN or an infinity (looked for only when asked)."""
        pending = [self.value]
        while pending:
            node = pending.pop()
            kind = type(node)
            if kind is float:
                if node - node != 0:  # NaN for a NaN or an infinity, 0 for the rest
                    return True
            elif kind is Pairs:
                pending.extend(item for _, item in node)
            elif kind is list:
                pending.extend(node)
        return False

    def locate(self, field_path: FieldPath) -> tuple[int, int] | None:
        """No position is kept; ``None`` for every path."""
        return None


def read_block(data: str | bytes) -> BlockDocument | None:
    """The document in *data* when it is block-style YAML of the subset read here.

    ``None`` when it is not; the full reader (:func:`cdi.spec.yaml11.parse`) then reads it.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode()
        except UnicodeDecodeError:
            return None
    else:
        text = data
    # Tabs, carriage returns, the other YAML line breaks (NEL, U+2028, U+2029), byte-order
    # marks, control characters, surrogates and unassigned code points are all
    # non-printable: those documents are left to the full reader.
    if not text.replace("\n", " ").isprintable():
        return None
    try:
        return BlockDocument(_read(text.split("\n")))
    except OutsideSubset:
        return None


def _next_content(lines: list[str], start: int) -> int:
    """The index of the first line from *start* on that is not blank or a comment."""
    for index in range(start, len(lines)):
        body = lines[index].lstrip(" ")
        if body and body[0] != "#":
            return index
    return len(lines)


def _read(lines: list[str]) -> Any:
    if len(lines) > _MAX_LINES:
        raise OutsideSubset
    start = _next_content(lines, 0)
    if start < len(lines) and lines[start] == "---":
        start = _next_content(lines, start + 1)
    if start == len(lines):
        return None  # an empty document
    head = lines[start]
    if head[0] == " ":
        raise OutsideSubset
    _, kind, _, value = classify_line(head)
    if kind == SCALAR:
        if _next_content(lines, start + 1) < len(lines):
            raise OutsideSubset  # a scalar over several lines, or content after it
        if type(value) is Later:
            if value.factory is None:
                raise OutsideSubset  # an alias with no anchor before it
            return value.factory()
        return value
    root = [] if kind >= ITEM else Pairs()
    _build(root, lines, start)
    return root


def _build(root: list[Any], lines: list[str], start: int) -> None:
    """Fill *root* from the content lines from *start* on.

    Open collections are a stack of (column, collection, keys seen so far; None for a
    sequence). Each line closes the collections to the right of its indentation and
    continues the one at its column; a ``key:`` line leaves its key pending, for the
    block that may start on the next line.
    """
    columns = [0]
    nodes: list[Any] = [root]
    key_sets: list[set[str] | None] = [None if type(root) is list else set()]
    pending: str | None = None
    pending_anchor: str | None = None
    anchors: _Anchors | None = None
    classified = _CLASSIFIED
    for line in lines[start:]:
        parsed = classified.get(line)
        if parsed is None:
            parsed = classify_line(line)
            if len(line) <= _CACHED_LINE_LENGTH:
                if len(classified) >= _CACHED_LINES:
                    classified.clear()
                classified[line] = parsed
        if parsed is BLANK:
            continue
        indent, kind, key, value = parsed
        if pending is not None:
            column = columns[-1]
            if indent > column or (indent == column and kind >= ITEM):
                # The value of the pending key is the block starting here; a sequence may
                # be flush with its key.
                if len(columns) >= MAX_DEPTH:
                    raise OutsideSubset
                child: Any = [] if kind >= ITEM else Pairs()
                nodes[-1].append((pending, child))
                columns.append(indent)
                nodes.append(child)
                key_sets.append(None if kind >= ITEM else set())
                if pending_anchor is not None:
                    anchors = anchors or _Anchors()
                    anchors.define(pending_anchor, child)
                    pending_anchor = None
            elif pending_anchor is not None:
                raise OutsideSubset  # an anchored null
            else:
                nodes[-1].append((pending, None))
            pending = None
        while columns[-1] > indent:
            columns.pop()
            nodes.pop()
            key_sets.pop()
        if columns[-1] != indent:
            raise OutsideSubset  # between two levels, or a scalar continued on this line
        keys = key_sets[-1]
        if keys is None and kind < ITEM:
            # A key at the column of a sequence ends it only if the sequence is flush with
            # the key it belongs to.
            if len(columns) < 2 or columns[-2] != indent:
                raise OutsideSubset
            columns.pop()
            nodes.pop()
            key_sets.pop()
            keys = key_sets[-1]
        if type(value) is Later:  # once the collections this line closes are closed
            if value.factory is not None:
                value = value.factory()
            elif anchors is None:
                raise OutsideSubset  # an alias with no anchor before it
            else:
                value = anchors.resolve(value.alias, nodes)
        if kind >= ITEM:
            if keys is not None:
                raise OutsideSubset  # an item where a mapping's key is due
            if kind == ITEM + SCALAR:
                nodes[-1].append(value)
                continue
            # "- key: ...": a mapping whose keys line up just after the dash.
            if len(columns) >= MAX_DEPTH:
                raise OutsideSubset
            mapping = Pairs()
            nodes[-1].append(mapping)
            columns.append(indent + 2)
            nodes.append(mapping)
            key_sets.append({key})
            if kind == ITEM + ENTRY:
                mapping.append((key, value))
            else:
                pending, pending_anchor = key, value
            continue
        if kind == SCALAR or keys is None:
            raise OutsideSubset  # a scalar where a key is due, or a key in a sequence
        if key in keys:
            raise OutsideSubset  # a repeated key: the full reader reports it
        keys.add(key)
        if kind == ENTRY:
            nodes[-1].append((key, value))
        else:
            pending, pending_anchor = key, value
    if pending is not None:
        if pending_anchor is not None:
            raise OutsideSubset
        nodes[-1].append((pending, None))
