"""Telling static from dynamic executables, on synthetic ELF files and the real busybox."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from cdi.runtime.elf import NotAnExecutableError, elf_interpreter, is_static_executable

PT_LOAD, PT_INTERP, PT_DYNAMIC = 1, 3, 2


def make_elf(
    *, bits: int = 64, big_endian: bool = False, e_type: int = 2, interp: bytes | None = None
) -> bytes:
    """A minimal ELF file: header, program headers (LOAD, DYNAMIC and maybe INTERP), data."""
    order = ">" if big_endian else "<"
    ehsize, phentsize = (64, 56) if bits == 64 else (52, 32)
    types = [PT_LOAD, PT_DYNAMIC] + ([PT_INTERP] if interp is not None else [])
    phoff = ehsize
    data_at = phoff + phentsize * len(types)
    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1, 2 if big_endian else 1, 1]) + bytes(9)
    if bits == 64:
        header = ident + struct.pack(
            order + "HHIQQQIHHHHHH", e_type, 62, 1, 0, phoff, 0, 0, ehsize, phentsize,
            len(types), 0, 0, 0,
        )  # fmt: skip
    else:
        header = ident + struct.pack(
            order + "HHIIIIIHHHHHH", e_type, 3, 1, 0, phoff, 0, 0, ehsize, phentsize,
            len(types), 0, 0, 0,
        )  # fmt: skip
    assert len(header) == ehsize
    table = b""
    for p_type in types:
        offset, size = (data_at, len(interp)) if p_type == PT_INTERP and interp else (0, 0)
        if bits == 64:
            table += struct.pack(order + "IIQQQQQQ", p_type, 4, offset, 0, 0, size, size, 1)
        else:
            table += struct.pack(order + "IIIIIIII", p_type, offset, 0, 0, size, size, 4, 1)
    return header + table + (interp or b"")


@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("big_endian", [False, True])
def test_dynamic_executable_names_its_interpreter(
    tmp_path: Path, bits: int, big_endian: bool
) -> None:
    path = tmp_path / "dyn"
    path.write_bytes(make_elf(bits=bits, big_endian=big_endian, interp=b"/lib/ld-x.so.2\0"))
    assert elf_interpreter(path) == "/lib/ld-x.so.2"
    assert not is_static_executable(path)


@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("e_type", [2, 3])  # executable, static-pie
def test_static_executable(tmp_path: Path, bits: int, e_type: int) -> None:
    path = tmp_path / "static"
    path.write_bytes(make_elf(bits=bits, e_type=e_type))
    assert elf_interpreter(path) is None
    assert is_static_executable(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"#!/bin/sh\necho hi\n" + bytes(64), "is not an ELF file"),
        (b"\x7fELF", "is not an ELF file"),
        (make_elf(e_type=1), "is not an ELF executable"),  # relocatable object
        (make_elf(interp=b"/lib/ld.so\0")[:100], "truncated program header table"),
    ],
)
def test_not_an_executable(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "file"
    path.write_bytes(content)
    with pytest.raises(NotAnExecutableError, match=message):
        elf_interpreter(path)


def test_real_static_busybox(require_busybox: str) -> None:
    assert is_static_executable(require_busybox)
