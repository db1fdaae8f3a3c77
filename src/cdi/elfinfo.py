"""Two facts read from ELF shared objects: the soname and the payload of a named note.

Generators use the soname to name the links a library needs (``libcuda.so.1`` for
``libcuda.so.580.95.05``), and the CUDA forward-compatibility check reads a note that NVIDIA
puts in ``libcuda``. Files come from foreign roots, so everything is bounds-checked, reads are
capped, and any malformed, truncated or unreadable file simply gives ``None``.

Callers pass paths whose links were already resolved inside their root: the last component is
opened without following a link, so a planted link cannot make us read outside the root. A
caller that opened the file itself (``cdi-hook`` opens files relative to a directory descriptor
of the container root) hands the open file to :func:`read_note_from` instead.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

_MAGIC = b"\x7fELF"
_PT_LOAD, _PT_DYNAMIC = 1, 2
_SHT_DYNAMIC, _SHT_NOTE = 6, 7
_DT_NULL, _DT_STRTAB, _DT_STRSZ, _DT_SONAME = 0, 5, 10, 14
_SHN_XINDEX = 0xFFFF

#: Caps on what is read: program and section header tables, a dynamic table, a note section.
_MAX_TABLE = 1 << 20
_MAX_STRING = 4096


@dataclass(frozen=True)
class _Layout:
    """Struct formats of one ELF class and byte order."""

    order: str
    wide: bool  # ELFCLASS64

    def fmt(self, spec32: str, spec64: str) -> struct.Struct:
        return struct.Struct(self.order + (spec64 if self.wide else spec32))


@dataclass(frozen=True)
class _Header:
    layout: _Layout
    phoff: int
    phentsize: int
    phnum: int
    shoff: int
    shentsize: int
    shnum: int
    shstrndx: int


@dataclass(frozen=True)
class _Segment:
    kind: int
    offset: int
    vaddr: int
    filesz: int


@dataclass(frozen=True)
class _Section:
    name: int
    kind: int
    offset: int
    size: int
    link: int
    addralign: int


def read_soname(path: str) -> str | None:
    """The ``DT_SONAME`` of the ELF object at *path*, or ``None`` (none, not ELF, unreadable)."""
    try:
        with _open(path) as handle:
            return _soname(handle)
    except (OSError, ValueError, OverflowError, struct.error):
        return None


def read_note(path: str, section_name: str, note_name: str) -> bytes | None:
    """The descriptor of the first note called *note_name* in the ``SHT_NOTE`` section
    *section_name* of the ELF file at *path*; ``None`` when there is none or the file is not
    a readable ELF file."""
    try:
        with _open(path) as handle:
            return _note(handle, section_name.encode(), note_name.encode())
    except (OSError, ValueError, OverflowError, struct.error):
        return None


def read_note_from(handle: BinaryIO | int, section_name: str, note_name: str) -> bytes | None:
    """:func:`read_note` for a file the caller opened: a binary file object or a file
    descriptor (left open; its offset moves). ``None`` also when it is not a regular file, so
    that a FIFO or a device planted in a container cannot block or feed the reader."""
    try:
        if isinstance(handle, int):
            # closefd=False: the descriptor stays the caller's.
            with os.fdopen(handle, "rb", closefd=False) as wrapped:
                return _note_checked(wrapped, section_name, note_name)
        return _note_checked(handle, section_name, note_name)
    except (OSError, ValueError, OverflowError, struct.error):
        return None


def _note_checked(handle: BinaryIO, section_name: str, note_name: str) -> bytes | None:
    if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
        raise ValueError("not a regular file")
    return _note(handle, section_name.encode(), note_name.encode())


def _open(path: str) -> BinaryIO:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read(handle: BinaryIO, offset: int, size: int) -> bytes:
    """Exactly *size* bytes at *offset*; ``ValueError`` when the file is shorter or the
    request is implausibly large."""
    if size < 0 or size > _MAX_TABLE or offset < 0:
        raise ValueError("table out of bounds")
    handle.seek(offset)
    data = handle.read(size)
    if len(data) != size:
        raise ValueError("truncated")
    return data


def _header(handle: BinaryIO) -> _Header:
    ident = _read(handle, 0, 16)
    if ident[:4] != _MAGIC or ident[4] not in (1, 2) or ident[5] not in (1, 2):
        raise ValueError("not ELF")
    layout = _Layout(order="<" if ident[5] == 1 else ">", wide=ident[4] == 2)
    fields = layout.fmt("HHIIIIIHHHHHH", "HHIQQQIHHHHHH")
    raw = _read(handle, 16, fields.size)
    _, _, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum, shstrndx = fields.unpack(
        raw
    )
    return _Header(layout, phoff, phentsize, phnum, shoff, shentsize, shnum, shstrndx)


def _segments(handle: BinaryIO, header: _Header) -> list[_Segment]:
    entry = header.layout.fmt("IIIIIIII", "IIQQQQQQ")
    if header.phnum == 0 or header.phentsize < entry.size:
        return []
    table = _read(handle, header.phoff, header.phentsize * header.phnum)
    segments = []
    for index in range(header.phnum):
        values = entry.unpack_from(table, index * header.phentsize)
        if header.layout.wide:
            kind, _, offset, vaddr, _, filesz = values[:6]
        else:
            kind, offset, vaddr, _, filesz = values[:5]
        segments.append(_Segment(kind, offset, vaddr, filesz))
    return segments


def _sections(handle: BinaryIO, header: _Header) -> tuple[list[_Section], int]:
    """The section headers and the index of the section-name string table."""
    entry = header.layout.fmt("IIIIIIIIII", "IIQQQQIIQQ")
    if header.shoff == 0 or header.shentsize < entry.size:
        return [], 0
    count = header.shnum
    if count == 0:  # more than 0xff00 sections: the count is in section 0's sh_size
        first = _section(entry, _read(handle, header.shoff, entry.size), 0)
        count = first.size
    table = _read(handle, header.shoff, header.shentsize * count)
    sections = [_section(entry, table, i * header.shentsize) for i in range(count)]
    names = header.shstrndx
    if names == _SHN_XINDEX and sections:
        names = sections[0].link
    return sections, names


def _section(entry: struct.Struct, table: bytes, at: int) -> _Section:
    name, kind, _, _, offset, size, link, _, addralign, _ = entry.unpack_from(table, at)
    return _Section(name, kind, offset, size, link, addralign)


def _dynamic(
    handle: BinaryIO, layout: _Layout, offset: int, size: int
) -> Iterator[tuple[int, int]]:
    entry = layout.fmt("iI", "qQ")
    table = _read(handle, offset, size - size % entry.size)
    for tag, value in entry.iter_unpack(table):
        if tag == _DT_NULL:
            return
        yield tag, value


def _string(handle: BinaryIO, offset: int, limit: int | None = None) -> str:
    size = _MAX_STRING if limit is None else max(0, min(_MAX_STRING, limit))
    if offset < 0:
        raise ValueError("string out of bounds")
    handle.seek(offset)
    raw = handle.read(size)
    end = raw.find(b"\0")
    if end < 0:
        raise ValueError("unterminated string")
    return raw[:end].decode("utf-8", "surrogateescape")


def _soname(handle: BinaryIO) -> str | None:
    header = _header(handle)
    segments = _segments(handle, header)
    dynamic = next((s for s in segments if s.kind == _PT_DYNAMIC), None)
    if dynamic is not None:
        tags = dict(_dynamic(handle, header.layout, dynamic.offset, dynamic.filesz))
        if _DT_SONAME not in tags:
            return None
        strtab = _file_offset(segments, tags.get(_DT_STRTAB))
        if strtab is not None:
            size = tags.get(_DT_STRSZ)
            limit = None if size is None else size - tags[_DT_SONAME]
            return _string(handle, strtab + tags[_DT_SONAME], limit)
    # No program headers, or a string table outside every segment: the section headers.
    sections, _ = _sections(handle, header)
    for section in sections:
        if section.kind != _SHT_DYNAMIC or section.link >= len(sections):
            continue
        tags = dict(_dynamic(handle, header.layout, section.offset, section.size))
        if _DT_SONAME not in tags:
            return None
        strings = sections[section.link]
        return _string(handle, strings.offset + tags[_DT_SONAME], strings.size - tags[_DT_SONAME])
    return None


def _file_offset(segments: list[_Segment], address: int | None) -> int | None:
    """Where the loaded *address* lies in the file, through the ``PT_LOAD`` segments."""
    if address is None:
        return None
    for segment in segments:
        if segment.kind == _PT_LOAD and segment.vaddr <= address < segment.vaddr + segment.filesz:
            return segment.offset + (address - segment.vaddr)
    return None


def _note(handle: BinaryIO, section_name: bytes, note_name: bytes) -> bytes | None:
    header = _header(handle)
    sections, names_index = _sections(handle, header)
    if not 0 < names_index < len(sections):
        return None
    names = sections[names_index]
    names_data = _read(handle, names.offset, min(names.size, _MAX_TABLE))
    for section in sections:
        if section.kind != _SHT_NOTE or section.name >= len(names_data):
            continue
        end = names_data.find(b"\0", section.name)
        if names_data[section.name : end if end >= 0 else None] != section_name:
            continue
        align = 8 if section.addralign == 8 else 4
        desc = _find_note(
            _read(handle, section.offset, section.size), header.layout, align, note_name
        )
        if desc is not None:
            return desc
    return None


def _find_note(data: bytes, layout: _Layout, align: int, wanted: bytes) -> bytes | None:
    """The descriptor of the note called *wanted* among the notes packed in *data*."""
    pos = 0
    header = struct.Struct(layout.order + "III")
    while pos + header.size <= len(data):
        namesz, descsz, _ = header.unpack_from(data, pos)
        name_at = pos + header.size
        desc_at = name_at + _align(namesz, align)
        end = desc_at + _align(descsz, align)
        if desc_at + descsz > len(data):
            return None
        if data[name_at : name_at + namesz].rstrip(b"\0") == wanted:
            return data[desc_at : desc_at + descsz]
        pos = end
    return None


def _align(size: int, align: int) -> int:
    return -(-size // align) * align
