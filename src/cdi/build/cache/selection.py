"""Which cache entries a prune removes, and in what order: a choice made on their records
alone (no file is touched here), so that it can be tested as a table.

Entries are chosen by when they were last used and by size (see :func:`select`). When
entries stack (the overlay backend), an entry that goes takes every entry stacked on it
along, and an entry counts as used whenever one stacked on it was: a build that makes a step
on a base uses the base without touching the base's ``info.json``.
"""

from __future__ import annotations

from cdi.spec.record import record

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

#: What ``tmp/`` leftovers are listed as.
TMP = "tmp"

# Why an entry goes (the ``reason`` of a removal; stable, documented in docs/build.md).
ALL = "all"
AGE = "age"
STORAGE = "storage"
DAMAGED = "damaged"
STACKED = "stacked"
LEFTOVER = "leftover"


@record
class Entry:
    """One entry of the cache, or one leftover in ``tmp/``."""

    #: ``bases``, ``steps`` or ``tmp``.
    kind: str
    #: The directory's name (the cache key of an entry).
    key: str
    #: ``steps/KEY`` or ``bases/KEY`` this one stacks on, as its info.json says.
    parent: str | None
    description: str
    #: Seconds since the epoch (the directory's mtime when the entry is damaged).
    last_used: float
    #: Bytes: the payload's size as recorded, or as measured for damaged entries and leftovers.
    size: int
    #: Why the entry is damaged; None when it is not.
    problem: str | None = None

    @property
    def name(self) -> str:
        return f"{self.kind}/{self.key}"


@record
class Removal:
    """An entry that goes, and why (one of the reasons above)."""

    entry: Entry
    reason: str

    def to_json(self) -> dict[str, Any]:
        entry = self.entry
        return {
            "name": entry.name,
            "kind": entry.kind,
            "key": entry.key,
            "parent": entry.parent,
            "description": entry.description,
            "last_used": entry.last_used,
            "size": entry.size,
            "reason": self.reason,
        }


def select(
    entries: Iterable[Entry],
    *,
    now: float,
    keep_duration: float | None,
    keep_storage: int | None,
    stacked: bool,
) -> list[Removal]:
    """The entries to remove, in the order to remove them (stacked entries before what they
    stack on). *stacked*: an entry stacks on its parent (the overlay backend)."""
    graph = _Graph(list(entries), stacked=stacked)
    reasons: dict[str, str] = {}

    def choose(names: list[str], reason: str) -> None:
        # Each chosen entry says why it goes, before those stacked on it are taken along.
        for name in names:
            reasons.setdefault(name, reason)
        for name in names:
            for child in graph.descendants(name):
                reasons.setdefault(child, STACKED)

    choose([entry.name for entry in graph.entries if entry.problem is not None], DAMAGED)
    if stacked:  # what an orphan stacks on is gone: it cannot be used
        orphans = [e for e in graph.entries if e.parent and e.parent not in graph.by_name]
        choose([entry.name for entry in orphans], STACKED)
    if keep_duration is None and keep_storage is None:
        choose([entry.name for entry in graph.entries], ALL)
    if keep_duration is not None:
        cutoff = now - keep_duration
        choose([e.name for e in graph.entries if graph.used(e.name) < cutoff], AGE)
    if keep_storage is not None:
        kept = sum(entry.size for entry in graph.entries if entry.name not in reasons)
        for entry in graph.in_removal_order(graph.entries):
            if kept <= keep_storage and keep_storage > 0:  # 0 keeps nothing, empty or not
                break
            if entry.name in reasons:
                continue
            before = set(reasons)
            choose([entry.name], STORAGE)
            kept -= sum(graph.by_name[name].size for name in set(reasons) - before)
    chosen = [entry for entry in graph.entries if entry.name in reasons]
    return [
        Removal(entry=entry, reason=reasons[entry.name]) for entry in graph.in_removal_order(chosen)
    ]


class _Graph:
    """The entries and, with stacking, who stacks on whom."""

    def __init__(self, entries: list[Entry], *, stacked: bool) -> None:
        self.entries = entries
        self.by_name = {entry.name: entry for entry in entries}
        self.children: dict[str, list[str]] = {}
        if stacked:
            for entry in entries:
                if entry.parent in self.by_name and entry.problem is None:
                    self.children.setdefault(entry.parent, []).append(entry.name)
        self._used: dict[str, float] = {}
        self._depth: dict[str, int] = {}

    def descendants(self, name: str) -> list[str]:
        found: dict[str, None] = {}  # in the order found
        pending = list(self.children.get(name, ()))
        while pending:
            child = pending.pop()
            if child not in found and child != name:  # a cycle only in a corrupt cache
                found[child] = None
                pending.extend(self.children.get(child, ()))
        return list(found)

    def used(self, name: str) -> float:
        """When the entry, or one stacked on it, was last used."""
        if name not in self._used:
            self._used[name] = self.by_name[name].last_used  # also ends a cycle
            self._used[name] = max(
                [self.by_name[name].last_used, *map(self.used, self.children.get(name, ()))]
            )
        return self._used[name]

    def depth(self, name: str) -> int:
        """How many entries it stacks on."""
        if name not in self._depth:
            self._depth[name] = 0  # also ends a cycle
            entry = self.by_name[name]
            if entry.parent is not None and name in self.children.get(entry.parent, ()):
                self._depth[name] = 1 + self.depth(entry.parent)
        return self._depth[name]

    def in_removal_order(self, entries: Iterable[Entry]) -> list[Entry]:
        """Least recently used first; an entry stacked on another before it (its last use is
        never later than the other's, and it lies deeper)."""
        return sorted(
            entries,
            key=lambda entry: (
                self.used(entry.name),
                -self.depth(entry.name),
                entry.kind,
                entry.key,
            ),
        )
