"""Keeping generated specs current (``cdi generate ... --watch``).

Stale specs are what users of generated specs complain about most: after a driver upgrade or
a device renumbering the spec names nodes (or libraries) that are gone, and containers fail
to start. :func:`watch` polls a fingerprint of the generator's inputs
(:mod:`cdi.generate.fingerprint`, :mod:`cdi.generate.inputs`) and regenerates when it
changes. A spec file is written only when its content differs from what the file holds now,
so a regeneration that finds nothing new touches nothing (no mtime change for the registries
that watch the spec directories) -- and a file edited by hand is put right on the next
change of the inputs.

A generation that fails (a node vanished half-way through a driver reload, no device found
while the module is still loading) leaves the files as they are, is reported once, and is
retried at every poll until it succeeds. A spec that a later generation no longer produces
(Intel's ``gpu-mei`` once the last MEI node is gone) is removed, but only if this loop wrote
or confirmed it: files it never produced are never touched.

The loop sleeps through the *wait* function it is given (it returns true to stop), so tests
drive it without sleeping, and the command turns SIGTERM and SIGINT into a stop between two
polls: a write is never cut short.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from cdi.errors import CDIError
from cdi.producer import SPEC_FILE_MODE, write_spec_file
from cdi.spec.model import Spec

__all__ = ["Changes", "SpecFile", "summary", "update", "watch"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SpecFile:
    """A generated spec and the file it goes to: *data* is its encoding (validated)."""

    path: str
    spec: Spec
    data: bytes


#: One generation: the spec files as they should be now. It gets a function for its
#: progress lines and raises :class:`~cdi.errors.CDIError` when it cannot generate.
Render = Callable[[Progress], Sequence[SpecFile]]


@dataclass(frozen=True)
class Changes:
    """What :func:`update` did."""

    written: tuple[SpecFile, ...] = ()
    unchanged: tuple[SpecFile, ...] = ()
    removed: tuple[str, ...] = ()


def summary(spec: Spec) -> str:
    """``amd.com/gpu, 3 devices, cdiVersion 0.6.0``: what a spec holds, for a report line."""
    count = len(spec.devices)
    return f"{spec.kind}, {count} device{'' if count == 1 else 's'}, cdiVersion {spec.cdi_version}"


def update(files: Sequence[SpecFile], dropped: Iterable[str] = ()) -> Changes:
    """Write each of *files* whose file does not hold exactly its data with mode 0644
    (atomically), and remove the files *dropped* that exist. Raises
    :class:`~cdi.errors.SpecWriteError`."""
    written: list[SpecFile] = []
    unchanged: list[SpecFile] = []
    for item in files:
        if _holds(item.path, item.data):
            unchanged.append(item)
        else:
            write_spec_file(item.spec, item.path, item.data)
            written.append(item)
    removed: list[str] = []
    for path in dropped:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
            removed.append(path)
    return Changes(tuple(written), tuple(unchanged), tuple(removed))


def _holds(path: str, data: bytes) -> bool:
    """Whether *path* is a regular file, mode 0644, holding exactly *data*."""
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or stat.S_IMODE(info.st_mode) != SPEC_FILE_MODE:
                return False
            return handle.read(len(data) + 1) == data
    except OSError:
        return False


def watch(
    render: Render,
    inputs: Callable[[], object],
    *,
    interval: float,
    wait: Callable[[float], bool],
    report: Callable[[str], None],
) -> None:
    """Regenerate whenever ``inputs()`` (a fingerprint) changes, until ``wait(interval)``
    returns true; *report* gets one line per write or removal, and the progress lines of a
    generation that changed something, recovered from an error or was the first."""
    produced: set[str] = set()  # the files the last successful generation made
    seen: object = None  # the fingerprint that generation started from
    error: str | None = None  # the failure being retried, reported once
    first = True
    while True:
        state = inputs()  # before generating: a change during the generation shows next time
        if first or error is not None or state != seen:
            lines: list[str] = []
            try:
                files = render(lines.append)
                paths = {item.path for item in files}
                changes = update(files, sorted(produced - paths))
            except (CDIError, OSError) as err:
                message = str(err)
                if message != error:
                    report(
                        f"Error: {message} (the spec files are left as they are; retrying "
                        f"every {interval:g}s)"
                    )
                error = message
            else:
                _report(report, lines, changes, in_full=first or error is not None)
                produced, seen, error = paths, state, None
            first = False
        if wait(interval):
            return


def _report(
    report: Callable[[str], None], lines: list[str], changes: Changes, in_full: bool
) -> None:
    if not (in_full or changes.written or changes.removed):
        return
    for line in lines:
        report(line)
    for item in changes.written:
        report(f"wrote {item.path} ({summary(item.spec)})")
    if in_full:
        for item in changes.unchanged:
            report(f"{item.path} is current ({summary(item.spec)})")
    for path in changes.removed:
        report(f"removed {path}: no longer generated")
