"""Just enough ELF to tell a statically linked executable from a dynamically linked one.

A dynamically linked executable names its loader in a ``PT_INTERP`` program header; without one
(static, including static-pie) it runs in a root filesystem that has no ``/lib`` at all.
"""

from __future__ import annotations

import os
import struct

_ELF_MAGIC = b"\x7fELF"
_PT_INTERP = 3
_ET_EXEC = 2
_ET_DYN = 3


class NotAnExecutableError(ValueError):
    """The file is not an ELF executable this module understands."""


def elf_interpreter(path: str | os.PathLike[str]) -> str | None:
    """The program interpreter (``/lib64/ld-linux-x86-64.so.2``) of an ELF executable.

    ``None`` for a statically linked one. Raises :class:`NotAnExecutableError` for anything
    that is not an ELF executable, :class:`OSError` when the file cannot be read.
    """
    with open(path, "rb") as f:
        header = f.read(64)
        if len(header) < 52 or header[:4] != _ELF_MAGIC:
            raise NotAnExecutableError(f"{os.fspath(path)} is not an ELF file")
        elf_class, data = header[4], header[5]
        if elf_class not in (1, 2) or data not in (1, 2):
            raise NotAnExecutableError(f"{os.fspath(path)} has an unknown ELF class or encoding")
        order = "<" if data == 1 else ">"
        (e_type,) = struct.unpack_from(order + "H", header, 16)
        if e_type not in (_ET_EXEC, _ET_DYN):
            raise NotAnExecutableError(f"{os.fspath(path)} is not an ELF executable")
        if elf_class == 2:
            if len(header) < 64:
                raise NotAnExecutableError(f"{os.fspath(path)} has a truncated ELF header")
            (phoff,) = struct.unpack_from(order + "Q", header, 32)
            phentsize, phnum = struct.unpack_from(order + "HH", header, 54)
            offset_field = order + "Q"
            offset_at, size_at = 8, 32
        else:
            (phoff,) = struct.unpack_from(order + "I", header, 28)
            phentsize, phnum = struct.unpack_from(order + "HH", header, 42)
            offset_field = order + "I"
            offset_at, size_at = 4, 16
        if phnum == 0:
            return None
        f.seek(phoff)
        table = f.read(phentsize * phnum)
        if len(table) < phentsize * phnum or phentsize < size_at + 8:
            raise NotAnExecutableError(f"{os.fspath(path)} has a truncated program header table")
        for index in range(phnum):
            entry = index * phentsize
            (p_type,) = struct.unpack_from(order + "I", table, entry)
            if p_type != _PT_INTERP:
                continue
            (p_offset,) = struct.unpack_from(offset_field, table, entry + offset_at)
            (p_filesz,) = struct.unpack_from(offset_field, table, entry + size_at)
            f.seek(p_offset)
            raw = f.read(min(p_filesz, 4096))
            return raw.split(b"\0", 1)[0].decode("utf-8", "replace")
    return None


def is_static_executable(path: str | os.PathLike[str]) -> bool:
    """Whether *path* is an ELF executable that needs no program interpreter."""
    return elf_interpreter(path) is None
