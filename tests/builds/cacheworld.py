"""Helpers for the build cache tests: builds through the CLI against one cache directory,
BuildKit's plain progress read back, and what a build must leave behind.

A :class:`CacheWorld` is a context directory, a spec directory, a cache directory and a
temporary directory (``$TMPDIR`` of its builds, where each build keeps its working files and
mount points) on which ``cdi build`` runs again and again, with files changed between runs.
After every build, :meth:`CacheWorld.check_clean` asserts that nothing of it is left: no
half-made cache entry in ``tmp/``, no working directory, no mount.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from cdi.cli.build import build as build_command

#: A numbered step of a stage: ``[2/4] RUN ...`` or ``[build 2/4] RUN ...``.
_STEP = re.compile(r"^\[(?:\S+ )?\d+/\d+\] ")
_LOG = re.compile(r"^\d+\.\d{3} (.*)$")
_DONE = re.compile(r"^DONE \d+\.\ds$")
#: What differs between two runs of the same build: durations and log timestamps.
_TIMINGS = re.compile(r"^(#\d+) (?:\d+\.\d{3} |DONE \d+\.\ds$)", re.M)
RAN = "ran"
CACHED = "CACHED"
ERROR = "ERROR"


@dataclass
class PlainVertex:
    """One vertex of ``--progress plain`` output: its name, output lines and how it ended."""

    number: int
    name: str
    #: CACHED, ran (``DONE``), ERROR, or None when the output ends before it does.
    fate: str | None = None
    logs: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)


def parse_plain(text: str) -> list[PlainVertex]:
    """The vertices of BuildKit's plain progress *text*, in the order they started."""
    vertices: dict[int, PlainVertex] = {}
    for line in text.splitlines():
        found = re.match(r"^#(\d+) (.*)$", line)
        if found is None:
            continue
        number, rest = int(found.group(1)), found.group(2)
        vertex = vertices.get(number)
        if vertex is None:
            vertices[number] = PlainVertex(number, rest)
            continue
        log = _LOG.match(rest)
        if log is not None:
            vertex.logs.append(log.group(1))
        elif rest == "CACHED":
            vertex.fate = CACHED
        elif _DONE.match(rest):
            vertex.fate = RAN
        elif rest.startswith("ERROR: "):
            vertex.fate = ERROR
        elif rest != vertex.name:  # the name again: output resumed after another vertex's
            vertex.statuses.append(rest)
    return list(vertices.values())


def without_timings(text: str) -> str:
    """*text* (plain progress) with its durations and timestamps taken out."""
    return _TIMINGS.sub(r"\1 ", text)


@dataclass
class Outcome:
    """What one ``cdi build`` did."""

    exit_code: int
    stderr: str
    vertices: list[PlainVertex]

    @property
    def steps(self) -> list[dict[str, str | None]]:
        """Each numbered step and its fate, as the vectors write them (``{name: fate}``)."""
        return [{v.name: v.fate} for v in self.vertices if _STEP.match(v.name)]

    @property
    def fates(self) -> list[str | None]:
        """The fate of each numbered step, in order."""
        return [fate for step in self.steps for fate in step.values()]

    @property
    def logs(self) -> list[str]:
        return [line for vertex in self.vertices for line in vertex.logs]

    def step(self, name: str) -> PlainVertex:
        (found,) = [v for v in self.vertices if v.name.endswith(name)]
        return found


def mounts_under(paths: Iterable[Path]) -> list[str]:
    """The mount points in this process's mount namespace at or below any of *paths*."""
    prefixes = [str(path.resolve()) for path in paths]
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            # Field 5 is the mount point, with space, tab, newline and backslash in octal.
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split(" ")[4])
            if any(point == prefix or point.startswith(prefix + "/") for prefix in prefixes):
                found.append(point)
    return found


def tree_listing(root: Path) -> dict[str, tuple[object, ...]]:
    """Everything a build's output tree is, by relative path: type, mode, owner, content or
    link target, and (for hard links) which path first had the inode. Independent of the
    cache's own digest code, which it checks."""
    listing: dict[str, tuple[object, ...]] = {}
    inodes: dict[tuple[int, int], str] = {}
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted([*dirnames, *filenames]):
            path = Path(directory, name)
            relative = str(path.relative_to(root))
            info = os.lstat(path)
            head = (stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)
            if stat.S_ISLNK(info.st_mode):
                listing[relative] = (*head, os.readlink(path))
            elif stat.S_ISREG(info.st_mode):
                first = inodes.setdefault((info.st_dev, info.st_ino), relative)
                listing[relative] = (*head, path.read_bytes(), first)
            else:
                listing[relative] = head
    return listing


class CacheWorld:
    """A context, a spec directory and a cache directory that builds run on, one after
    another, with busybox (*busybox*, a directory) as the ``busybox`` build context."""

    def __init__(self, base: Path, busybox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.base = base
        self.context = base / "context"
        self.specs = base / "cdi"
        self.cache = base / "cache"
        self.temp = base / "tmp"
        self.busybox = busybox
        for directory in (self.context, self.specs, self.temp):
            directory.mkdir(parents=True, exist_ok=True)
        # Where the builds keep their working directories and mount points (mkdtemp's default).
        monkeypatch.setattr(tempfile, "tempdir", str(self.temp))
        self._mtime_shift = 0

    # --- the world between builds -----------------------------------------------------------------

    def write(self, directory: Path, files: Mapping[str, str | None]) -> None:
        """Write *files* (relative path -> text) under *directory*; None deletes one."""
        for name, text in files.items():
            path = directory / name
            if text is None:
                path.unlink()
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")

    def touch(self, names: Sequence[str]) -> None:
        """Move the mtime of context files *names* (a day on, then further each time)."""
        for name in names:
            self._mtime_shift += 86400
            info = os.stat(self.context / name)
            moved = info.st_mtime_ns + self._mtime_shift * 10**9
            os.utime(self.context / name, ns=(moved, moved))
            assert os.stat(self.context / name).st_mtime_ns == moved

    # --- building ---------------------------------------------------------------------------------

    def command(self, *flags: str, cache: Path | None = None) -> list[str]:
        """The ``cdi build`` arguments of a build of the context with extra *flags*."""
        return [
            "--progress",
            "plain",
            "--cache-dir",
            str(cache or self.cache),
            "--spec-dir",
            str(self.specs),
            "--build-context",
            f"busybox={self.busybox}",
            *flags,
            str(self.context),
        ]

    def build(self, *flags: str, cache: Path | None = None) -> Outcome:
        """Run ``cdi build`` in this process (through the CLI), then check it left nothing."""
        result = CliRunner().invoke(build_command, self.command(*flags, cache=cache))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        self.check_clean(cache or self.cache)
        return Outcome(result.exit_code, result.stderr, parse_plain(result.stderr))

    def check_clean(self, cache: Path | None = None) -> None:
        """No build left anything: no mounts under the cache or the temporary directory, no
        entry half made in the cache's ``tmp/``, no build working directory."""
        cache = cache or self.cache
        left = mounts_under([cache, self.temp])
        assert left == [], f"mounts left: {left}"
        if (cache / "tmp").exists():
            staged = sorted(os.listdir(cache / "tmp"))
            assert staged == [], f"left in the cache's tmp/: {staged}"
        working = sorted(os.listdir(self.temp))
        assert working == [], f"left in $TMPDIR: {working}"

    def entries(self, kind: str = "steps") -> list[str]:
        """The keys of the cache's entries of *kind*."""
        directory = self.cache / kind
        return sorted(os.listdir(directory)) if directory.exists() else []
