"""Byte-exact writers for the binary files of fixture roots: ELF shared objects and
``ld.so.cache`` files.

The ELF objects are tiny but real: glibc's ``ldconfig`` caches them (x86-64 and i386; it
rejects other machines on an x86-64 host) and ``readelf -d`` shows their soname. The cache
writer produces the layouts ``ldconfig`` no longer writes (old, old+new, big-endian, no
endianness mark) so the parser can be tested on them.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

EM_386, EM_PPC64, EM_X86_64, EM_AARCH64 = 3, 21, 62, 183
#: arch name -> (e_machine, word size)
MACHINES = {
    "x86_64": (EM_X86_64, 64),
    "i386": (EM_386, 32),
    "aarch64": (EM_AARCH64, 64),
    "ppc64le": (EM_PPC64, 64),
}
_SHF_WRITE, _SHF_ALLOC = 1, 2
_SHT_STRTAB, _SHT_HASH, _SHT_DYNAMIC, _SHT_NOTE, _SHT_DYNSYM = 3, 5, 6, 7, 11
_DT_NULL, _DT_HASH, _DT_STRTAB, _DT_SYMTAB, _DT_STRSZ, _DT_SYMENT, _DT_SONAME = (
    0,
    4,
    5,
    6,
    10,
    11,
    14,
)


def _pad(data: bytes, align: int) -> bytes:
    return data + bytes(-len(data) % align)


@dataclass(frozen=True)
class _Formats:
    """Struct formats of one ELF class."""

    header: str
    phdr: str
    shdr: str
    dyn: str
    sizes: tuple[int, int, int]  # ELF header, program header, section header
    symbol: int  # size of one (null) symbol


_ELF64 = _Formats("HHIQQQIHHHHHH", "IIQQQQQQ", "IIQQQQIIQQ", "qQ", (64, 56, 64), 24)
_ELF32 = _Formats("HHIIIIIHHHHHH", "IIIIIIII", "IIIIIIIIII", "iI", (52, 32, 40), 16)


def shared_object_bytes(
    soname: str | None = None,
    *,
    notes: Sequence[tuple[str, str, bytes]] = (),
    size_padding: int = 0,
    arch: str = "x86_64",
    big_endian: bool = False,
    load_address: int = 0,
    program_headers: bool = True,
    section_headers: bool = True,
) -> bytes:
    """A minimal ``ET_DYN`` object: a ``PT_LOAD`` segment holding ``.dynstr`` and
    ``.dynamic`` (``DT_SONAME`` when *soname* is given, ``DT_STRTAB``, ``DT_STRSZ``), its
    ``PT_DYNAMIC``, then one ``SHT_NOTE`` section per *notes* entry (section name, note name,
    descriptor), *size_padding* zero bytes, ``.shstrtab`` and the section headers.
    *load_address* moves the segment so that addresses differ from file offsets; the header
    switches let a test drop either way of finding the dynamic section."""
    machine, bits = MACHINES[arch]
    fmt = _ELF64 if bits == 64 else _ELF32
    order = ">" if big_endian else "<"
    ehsize, phentsize, shentsize = fmt.sizes
    phnum = 2 if program_headers else 0

    # .dynstr, .dynsym (the null symbol), .hash (one empty bucket), .dynamic: with the
    # symbol table and hash the dynamic loader can dlopen the file (and then finds no
    # symbols) instead of crashing, should code under test try to load a fixture library.
    dynstr = b"\0" + (soname.encode() + b"\0" if soname else b"")
    dynstr_at = ehsize + phentsize * phnum
    dynsym_at = dynstr_at + len(_pad(dynstr, 8))
    hash_at = dynsym_at + fmt.symbol
    hash_table = struct.pack(order + "IIII", 1, 1, 0, 0)
    dynamic_at = hash_at + len(_pad(hash_table, 8))
    tags = [(_DT_SONAME, 1)] if soname else []
    tags += [
        (_DT_HASH, load_address + hash_at),
        (_DT_STRTAB, load_address + dynstr_at),
        (_DT_SYMTAB, load_address + dynsym_at),
        (_DT_STRSZ, len(dynstr)),
        (_DT_SYMENT, fmt.symbol),
        (_DT_NULL, 0),
    ]
    dynamic = b"".join(struct.pack(order + fmt.dyn, tag, value) for tag, value in tags)
    body = _pad(dynstr, 8) + bytes(fmt.symbol) + _pad(hash_table, 8) + dynamic
    loaded_end = dynamic_at + len(dynamic)

    # (name, type, offset, size, link, alignment, flags)
    sections = [
        (".dynstr", _SHT_STRTAB, dynstr_at, len(dynstr), 0, 1, _SHF_ALLOC),
        (".dynsym", _SHT_DYNSYM, dynsym_at, fmt.symbol, 1, 8, _SHF_ALLOC),
        (".hash", _SHT_HASH, hash_at, len(hash_table), 2, 8, _SHF_ALLOC),
        (".dynamic", _SHT_DYNAMIC, dynamic_at, len(dynamic), 1, 8, _SHF_ALLOC | _SHF_WRITE),
    ]
    for section_name, note_name, desc in notes:
        name = note_name.encode() + b"\0"
        note = struct.pack(order + "III", len(name), len(desc), 1) + _pad(name, 4) + _pad(desc, 4)
        body = _pad(body, 4)
        sections.append((section_name, _SHT_NOTE, dynstr_at + len(body), len(note), 0, 4, 0))
        body += note
    body += bytes(size_padding)
    names = b"\0"
    name_offsets = []
    for section in [*sections, (".shstrtab",)]:
        name_offsets.append(len(names))
        names += section[0].encode() + b"\0"
    sections.append((".shstrtab", _SHT_STRTAB, dynstr_at + len(body), len(names), 0, 1, 0))
    body = _pad(body + names, 8)
    shnum = len(sections) + 1 if section_headers else 0
    shoff = dynstr_at + len(body) if section_headers else 0

    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1, 2 if big_endian else 1, 1]) + bytes(9)
    phoff = ehsize if phnum else 0
    shstrndx = shnum - 1 if shnum else 0
    header = ident + struct.pack(
        order + fmt.header,
        *(3, machine, 1, 0, phoff, shoff, 0, ehsize, phentsize, phnum, shentsize, shnum, shstrndx),
    )
    phdrs = b""
    for kind, offset, size in ((1, 0, loaded_end), (2, dynamic_at, len(dynamic))):
        if not program_headers:
            break
        address, flags, align = load_address + offset, 6, (0x1000 if kind == 1 else 8)
        if bits == 64:
            values = (kind, flags, offset, address, address, size, size, align)
        else:
            values = (kind, offset, address, address, size, size, flags, align)
        phdrs += struct.pack(order + fmt.phdr, *values)
    shdrs = bytes(shentsize) if section_headers else b""
    for (_, kind, offset, size, link, align, flags), name in zip(
        sections, name_offsets, strict=True
    ):
        if not section_headers:
            break
        address = load_address + offset if flags & _SHF_ALLOC else 0
        entsize = {_SHT_DYNAMIC: struct.calcsize(fmt.dyn), _SHT_DYNSYM: fmt.symbol}.get(kind, 0)
        info = 1 if kind == _SHT_DYNSYM else 0  # one local symbol: the null one
        values = (name, kind, flags, address, offset, size, link, info, align, entsize)
        shdrs += struct.pack(order + fmt.shdr, *values)
    return header + phdrs + body + shdrs


@dataclass(frozen=True)
class RawEntry:
    """An entry for :func:`ldcache_bytes`; flags 0x0303 is an x86-64 libc6 library, 0x0003
    an i386 one, 0x0a03 aarch64, 0x0903 armhf."""

    key: str
    value: str
    flags: int = 0x0303
    hwcap: int = 0


def ldcache_bytes(
    entries: Sequence[RawEntry],
    layout: str = "new",
    *,
    big_endian: bool = False,
    endian_mark: bool = True,
) -> bytes:
    """An ``ld.so.cache`` in *layout* ``new``, ``old`` or ``old+new`` (glibc < 2.32's
    default). *endian_mark* False leaves the endianness byte 0, as glibc < 2.33 did."""
    order = ">" if big_endian else "<"
    strings = bytearray()
    offsets: dict[str, int] = {}
    for entry in entries:
        for text in (entry.key, entry.value):
            if text not in offsets:
                offsets[text] = len(strings)
                strings += text.encode() + b"\0"
    new_size = 48 + 24 * len(entries)

    def new_part() -> bytes:
        # New-format offsets count from the new header, whose entries the strings follow.
        mark = (3 if big_endian else 2) if endian_mark else 0
        head = b"glibc-ld.so.cache1.1" + struct.pack(order + "II", len(entries), len(strings))
        head += bytes([mark, 0, 0, 0]) + struct.pack(order + "I", 0) + bytes(12)
        return head + b"".join(
            struct.pack(
                order + "iIIIQ",
                *(e.flags, new_size + offsets[e.key], new_size + offsets[e.value], 0, e.hwcap),
            )
            for e in entries
        )

    if layout == "new":
        return new_part() + bytes(strings)
    old_head = b"ld.so-1.7.0\0" + struct.pack(order + "I", len(entries))
    pad = -(len(old_head) + 12 * len(entries)) % 8
    # Old-format offsets count from the end of the old entries; in the combined layout the
    # new part sits in front of the strings.
    skip = 0 if layout == "old" else pad + new_size
    old_rows = b"".join(
        struct.pack(order + "iII", e.flags, skip + offsets[e.key], skip + offsets[e.value])
        for e in entries
    )
    if layout == "old":
        return old_head + old_rows + bytes(strings)
    assert layout == "old+new", layout
    return old_head + old_rows + bytes(pad) + new_part() + bytes(strings)
