"""glibc's ``ld.so.cache``, read natively so that a foreign root's own cache can be used.

``ldconfig -p`` would describe the cache of the machine running us, not that of a driver root
(``/run/nvidia/driver``, a mounted image), so the file is parsed here. Three layouts exist:

* the old format alone: ``ld.so-1.7.0``, a count, 12-byte entries (flags, key, value), then
  the strings; key and value are offsets from the end of the entries;
* the new format alone (glibc 2.32 and later write only this): ``glibc-ld.so.cache1.1``, a
  48-byte header (count, string table length, an endianness byte since glibc 2.33, the offset
  of an extension section, reserved words), 24-byte entries (flags, key, value, OS version,
  hwcap), then the strings; key and value are offsets from the start of this header;
* the old format followed by the new one (glibc before 2.32, "compat"): the new header starts
  at the first 8-byte boundary after the old entries. Only the new part is read then, as the
  dynamic loader does.

glibc writes the cache in the machine's byte order. The endianness byte says which; caches
from before glibc 2.33 leave it 0, and the order is then the one under which the header is
consistent with the file's size.

Everything read from the file is bounds-checked: a truncated or hostile cache raises
:class:`LdCacheError` and nothing else.

:class:`LdcacheLocator` is nvidia-ctk's lookup over the cache: the fallback of
:func:`cdi.generate.locate.library_locator` when the fixed driver directories hold nothing.
"""

from __future__ import annotations

import logging
import os
import posixpath
import stat
import struct
from dataclasses import dataclass

from cdi.generate.errors import GenerateError
from cdi.generate.rootview import RootView, container_path, resolve_in_root, view_of
from cdi.globs import PatternError, compile_pattern
from cdi.gopath import clean

logger = logging.getLogger(__name__)

#: Larger caches are refused; a real one with thousands of libraries is well under 1 MiB.
MAX_CACHE_SIZE = 64 * 1024 * 1024

_OLD_MAGIC = b"ld.so-1.7.0"
_OLD_HEADER = 16  # magic (11 bytes), padding to 12, entry count (u32)
_OLD_ENTRY = 12
_NEW_MAGIC = b"glibc-ld.so.cache1.1"
_NEW_HEADER = 48
_NEW_ENTRY = 24
_NEW_ALIGN = 8  # the new header's alignment (its entries hold a u64)

# The endianness byte of the new header (glibc 2.33+, ``cache_file_new_flags_endian_*``).
_ENDIAN_UNSET, _ENDIAN_INVALID, _ENDIAN_LITTLE, _ENDIAN_BIG = 0, 1, 2, 3

#: ``flags & FLAG_TYPE_MASK``: bit 0 is set for ELF libraries (``FLAG_ELF`` = 1,
#: ``FLAG_ELF_LIBC6`` = 3); ``FLAG_ELF_LIBC5`` (2) and ``FLAG_LIBC4`` (0) lack it and are not
#: used, as in nvidia-ctk.
_FLAG_TYPE_MASK = 0x00FF
_FLAG_ELF = 0x0001
_FLAG_ARCH_MASK = 0xFF00
#: x86-64, ppc64le and aarch64 libraries.
ARCH_64BIT = frozenset({0x0300, 0x0500, 0x0A00})
#: i386 (no arch flag), x32 and armhf libraries.
ARCH_32BIT = frozenset({0x0000, 0x0800, 0x0900})

#: Longest string read from the table; longer ones are an error (PATH_MAX is 4096).
_MAX_STRING = 4096


class LdCacheError(GenerateError):
    """An ``ld.so.cache`` could not be read or is malformed."""


@dataclass(frozen=True)
class CacheEntry:
    """One library of the cache: ``key`` is its soname, ``value`` its path."""

    flags: int
    key: str
    value: str
    osversion: int = 0
    hwcap: int = 0

    @property
    def is_elf(self) -> bool:
        return bool(self.flags & _FLAG_TYPE_MASK & _FLAG_ELF)

    @property
    def bits(self) -> int | None:
        """64 or 32 for the architectures nvidia-ctk knows, ``None`` for any other."""
        arch = self.flags & _FLAG_ARCH_MASK
        if arch in ARCH_64BIT:
            return 64
        if arch in ARCH_32BIT:
            return 32
        return None


@dataclass(frozen=True)
class LdCache:
    """A parsed cache. ``libraries64``/``libraries32`` are the paths of the ELF entries of
    each word size, in cache order, each once; ``format`` is ``old``, ``new``, ``old+new``,
    or empty for a missing cache."""

    entries: tuple[CacheEntry, ...] = ()
    libraries64: tuple[str, ...] = ()
    libraries32: tuple[str, ...] = ()
    format: str = ""


EMPTY_CACHE = LdCache()


def parse_ldcache(data: bytes) -> LdCache:
    """Parse the bytes of an ``ld.so.cache``; raises :class:`LdCacheError` when malformed."""
    if len(data) > MAX_CACHE_SIZE:
        raise LdCacheError(f"ld.so.cache too large: {len(data)} bytes (limit {MAX_CACHE_SIZE})")
    if data.startswith(_NEW_MAGIC):
        return _finish(_parse_new(data, 0), "new")
    if data.startswith(_OLD_MAGIC):
        if len(data) < _OLD_HEADER:
            raise LdCacheError("truncated ld.so.cache: old-format header incomplete")
        order, count = _old_order(data)
        entries_end = _OLD_HEADER + count * _OLD_ENTRY
        new_at = -(-entries_end // _NEW_ALIGN) * _NEW_ALIGN
        if data[new_at : new_at + len(_NEW_MAGIC)] == _NEW_MAGIC:
            return _finish(_parse_new(data, new_at), "old+new")
        return _finish(_parse_old(data, order, count), "old")
    raise LdCacheError("not an ld.so.cache: unknown magic")


def read_ldcache(root: str) -> LdCache:
    """The cache of *root* (``{root}/etc/ld.so.cache``); empty when the file does not exist.

    Links on the way are followed inside *root* only. Raises :class:`LdCacheError` when the
    file exists but cannot be read or parsed.
    """
    try:
        path = resolve_in_root(root, "/etc/ld.so.cache")
    except OSError as error:
        raise LdCacheError(f"cannot resolve ld.so.cache under {root}: {error.strerror}") from None
    try:
        # O_NOFOLLOW: the path is resolved, so a link here means it changed under us.
        # O_NONBLOCK: a FIFO planted as the cache must not hang the generator.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return EMPTY_CACHE
    except OSError as error:
        raise LdCacheError(f"cannot open {path}: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise LdCacheError(f"{path} is not a regular file")
        if info.st_size > MAX_CACHE_SIZE:
            raise LdCacheError(f"{path} too large: {info.st_size} bytes (limit {MAX_CACHE_SIZE})")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_CACHE_SIZE + 1)
    except OSError as error:
        raise LdCacheError(f"cannot read {path}: {error.strerror}") from None
    finally:
        os.close(fd)
    try:
        return parse_ldcache(data)
    except LdCacheError as error:
        raise LdCacheError(f"{path}: {error}") from None


def _old_order(data: bytes) -> tuple[str, int]:
    """The byte order and entry count of an old-format cache (it has no endianness mark)."""
    counts = [(order, struct.unpack_from(order + "I", data, 12)[0]) for order in "<>"]
    for order, count in counts:
        if _OLD_HEADER + count * _OLD_ENTRY <= len(data):
            return order, count
    raise LdCacheError(f"truncated ld.so.cache: {counts[0][1]} old-format entries do not fit")


def _new_order(data: bytes, base: int) -> str:
    endian = data[base + 28]
    if endian == _ENDIAN_LITTLE:
        return "<"
    if endian == _ENDIAN_BIG:
        return ">"
    if endian != _ENDIAN_UNSET:
        raise LdCacheError(f"ld.so.cache has an invalid endianness mark {endian}")
    # Before glibc 2.33: no mark; the order under which entries and strings fit the file.
    for order in "<>":
        count, strings = struct.unpack_from(order + "II", data, base + 20)
        if base + _NEW_HEADER + count * _NEW_ENTRY + strings <= len(data):
            return order
    return "<"


def _parse_new(data: bytes, base: int) -> list[CacheEntry]:
    if len(data) < base + _NEW_HEADER:
        raise LdCacheError("truncated ld.so.cache: new-format header incomplete")
    order = _new_order(data, base)
    count, strings_len = struct.unpack_from(order + "II", data, base + 20)
    entries_at = base + _NEW_HEADER
    if entries_at + count * _NEW_ENTRY > len(data):
        raise LdCacheError(f"truncated ld.so.cache: {count} entries do not fit in the file")
    strings_end = entries_at + count * _NEW_ENTRY + strings_len
    if strings_end > len(data):
        raise LdCacheError(
            f"truncated ld.so.cache: string table of {strings_len} bytes does not fit in the file"
        )
    unpack = struct.Struct(order + "iIIIQ").unpack_from
    entries = []
    for index in range(count):
        flags, key, value, osversion, hwcap = unpack(data, entries_at + index * _NEW_ENTRY)
        entries.append(
            CacheEntry(
                flags=flags,
                key=_string(data, base + key, strings_end, index),
                value=_string(data, base + value, strings_end, index),
                osversion=osversion,
                hwcap=hwcap,
            )
        )
    return entries


def _parse_old(data: bytes, order: str, count: int) -> list[CacheEntry]:
    strings_at = _OLD_HEADER + count * _OLD_ENTRY
    unpack = struct.Struct(order + "iII").unpack_from
    entries = []
    for index in range(count):
        flags, key, value = unpack(data, _OLD_HEADER + index * _OLD_ENTRY)
        entries.append(
            CacheEntry(
                flags=flags,
                key=_string(data, strings_at + key, len(data), index),
                value=_string(data, strings_at + value, len(data), index),
            )
        )
    return entries


def _string(data: bytes, start: int, end: int, index: int) -> str:
    """The NUL-terminated string at *start*, which must lie before *end*."""
    if start >= end:
        raise LdCacheError(f"ld.so.cache entry {index}: string offset {start} out of bounds")
    stop = data.find(b"\0", start, min(end, start + _MAX_STRING + 1))
    if stop < 0:
        raise LdCacheError(f"ld.so.cache entry {index}: unterminated string at offset {start}")
    # Paths are bytes; surrogateescape keeps a non-UTF-8 name usable as a file name.
    return data[start:stop].decode("utf-8", "surrogateescape")


def _finish(entries: list[CacheEntry], layout: str) -> LdCache:
    by_bits: dict[int, dict[str, None]] = {64: {}, 32: {}}
    for entry in entries:
        bits = entry.bits
        if entry.is_elf and bits is not None:
            by_bits[bits].setdefault(entry.value)
    return LdCache(
        entries=tuple(entries),
        libraries64=tuple(by_bits[64]),
        libraries32=tuple(by_bits[32]),
        format=layout,
    )


class LdcacheLocator:
    """Libraries of the root's own ``ld.so.cache`` (64-bit entries only), as nvidia-ctk.

    Every cached path stands for itself and each link on the way to its final target; a
    pattern with a ``/`` is matched against the whole path (``{root}`` joined with it), any
    other against the file name. Matches are returned as their final targets.
    """

    def __init__(self, root: str, *, view: RootView | None = None) -> None:
        self.view = view if view is not None else view_of(root)
        self._candidates: list[tuple[str, str, str]] | None = None

    def _load(self) -> list[tuple[str, str, str]]:
        view = self.view
        try:
            libraries = read_ldcache(view.root).libraries64
        except LdCacheError as error:
            logger.warning("ignoring the ld.so.cache: %s", error)
            libraries = ()
        # Every link of a chain leads to the chain's final target: resolve that once.
        candidates: dict[str, tuple[str, str, str]] = {}
        for library in libraries:
            chain = view.chain(view.host(clean("/" + library)))
            if chain[-1] in candidates:
                target = candidates[chain[-1]][2]
            else:
                try:
                    resolved, _ = view.resolve(container_path(view.root, chain[-1]))
                except OSError:
                    continue
                info = view.lstat(resolved)
                if info is None or not stat.S_ISREG(info.st_mode):
                    continue
                target = view.host(resolved)
            for path in chain:
                candidates.setdefault(path, (path, posixpath.basename(path), target))
        return list(candidates.values())

    def locate(self, pattern: str) -> list[str]:
        if self._candidates is None:
            self._candidates = self._load()
        if "/" in pattern:
            prefix = "" if self.view.root == "/" else _escape(self.view.root)
            whole, index = prefix + clean("/" + pattern), 0
        else:
            whole, index = pattern, 1
        try:
            regex = compile_pattern(whole)
        except PatternError as error:
            logger.warning("cannot search for %s: %s", pattern, error)
            return []
        found = dict.fromkeys(c[2] for c in self._candidates if regex.fullmatch(c[index]))
        return list(found)


def _escape(text: str) -> str:
    """*text* quoted for a glob pattern."""
    return "".join("\\" + char if char in "*?[\\" else char for char in text)
