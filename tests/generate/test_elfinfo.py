"""Sonames and notes of ELF objects: the fixture writer's, the system's, and broken ones."""

from __future__ import annotations

import glob
import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cdi.elfinfo import read_note, read_note_from, read_soname
from generate.blobs import MACHINES, shared_object_bytes
from generate.fixtures import symlink, write_file, write_shared_object

READELF = shutil.which("readelf")
NOTE_SECTION = ".note.cuda.fwd_compatibility"
NOTE_NAME = "NVIDIA Corporation"
COMPAT = b'{"format":1,"CUDA version":"12.9","driver":[535,550,570,575]}'


def readelf_soname(path: str) -> str | None:
    assert READELF is not None
    out = subprocess.run([READELF, "-d", path], check=True, capture_output=True, text=True).stdout
    found = re.search(r"Library soname: \[(.*)\]", out)
    return found.group(1) if found else None


@pytest.mark.parametrize("arch", sorted(MACHINES))
@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize(
    "layout",
    [
        {},
        {"load_address": 0x7F0000},
        {"program_headers": False},
        {"section_headers": False},
        {"load_address": 0x10000, "program_headers": False},
    ],
    ids=["plain", "moved", "sections-only", "segments-only", "moved-sections-only"],
)
def test_soname_of_every_kind(
    tmp_path: Path, arch: str, big_endian: bool, layout: dict[str, int]
) -> None:
    path = tmp_path / "libcuda.so.999.88.77"
    data = shared_object_bytes("libcuda.so.1", arch=arch, big_endian=big_endian, **layout)
    path.write_bytes(data)
    assert read_soname(str(path)) == "libcuda.so.1"
    if READELF is not None and layout.get("program_headers", True):
        assert readelf_soname(str(path)) == "libcuda.so.1"


def test_no_soname(tmp_path: Path) -> None:
    path = write_shared_object(tmp_path / "nvidia_drv.so")
    assert read_soname(str(path)) is None
    no_segments = tmp_path / "sections-only.so"
    no_segments.write_bytes(shared_object_bytes(None, program_headers=False))
    assert read_soname(str(no_segments)) is None


def test_not_elf_or_not_readable(tmp_path: Path) -> None:
    empty = write_file(tmp_path / "libcuda.so.999.88.77")
    text = write_file(tmp_path / "script.so", "#!/bin/sh\n")
    bad_class = write_file(tmp_path / "bad.so", b"\x7fELF\x09\x01\x01" + bytes(60))
    directory = tmp_path / "dir.so"
    directory.mkdir()
    fifo = tmp_path / "fifo.so"
    os.mkfifo(fifo)
    for path in (empty, text, bad_class, directory, fifo, tmp_path / "missing.so"):
        assert read_soname(str(path)) is None, path
        assert read_note(str(path), NOTE_SECTION, NOTE_NAME) is None, path


def test_link_is_not_followed(tmp_path: Path) -> None:
    """Callers resolve links inside their root first; a link itself is not opened."""
    target = write_shared_object(tmp_path / "libcuda.so.999.88.77", "libcuda.so.1")
    link = symlink(tmp_path / "libcuda.so.1", target.name)
    assert read_soname(str(link)) is None
    assert read_soname(str(target)) == "libcuda.so.1"


@pytest.mark.parametrize("arch", ["x86_64", "i386"])
@pytest.mark.parametrize("big_endian", [False, True])
def test_notes(tmp_path: Path, arch: str, big_endian: bool) -> None:
    path = tmp_path / "libcuda.so.575.57.08"
    notes = [
        (".note.other", NOTE_NAME, b"other"),
        (NOTE_SECTION, "Someone Else", b"not this"),
        (NOTE_SECTION, NOTE_NAME, COMPAT),
    ]
    path.write_bytes(
        shared_object_bytes("libcuda.so.1", notes=notes, arch=arch, big_endian=big_endian)
    )
    assert read_note(str(path), NOTE_SECTION, NOTE_NAME) == COMPAT
    assert read_note(str(path), ".note.other", NOTE_NAME) == b"other"
    assert read_note(str(path), NOTE_SECTION, "Nobody") is None
    assert read_note(str(path), ".note.missing", NOTE_NAME) is None
    assert read_soname(str(path)) == "libcuda.so.1"


def test_note_from_an_open_file(tmp_path: Path) -> None:
    path = tmp_path / "libcuda.so.575.57.08"
    write_shared_object(path, "libcuda.so.1", notes=[(NOTE_SECTION, NOTE_NAME, COMPAT)])
    fd = os.open(path, os.O_RDONLY)
    try:
        assert read_note_from(fd, NOTE_SECTION, NOTE_NAME) == COMPAT
        # The descriptor stays open and usable: a second read works.
        assert read_note_from(fd, NOTE_SECTION, "Nobody") is None
        assert os.fstat(fd).st_size == path.stat().st_size
    finally:
        os.close(fd)
    with path.open("rb") as handle:
        assert read_note_from(handle, NOTE_SECTION, NOTE_NAME) == COMPAT
        assert not handle.closed


def test_note_from_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert read_note_from(fd, NOTE_SECTION, NOTE_NAME) is None
    finally:
        os.close(fd)
    reader, writer = os.pipe()
    try:  # a pipe would block a reader that did not check: None at once instead
        assert read_note_from(reader, NOTE_SECTION, NOTE_NAME) is None
    finally:
        os.close(reader)
        os.close(writer)


def test_note_needs_section_headers(tmp_path: Path) -> None:
    path = tmp_path / "lib.so"
    notes = [(NOTE_SECTION, NOTE_NAME, COMPAT)]
    path.write_bytes(shared_object_bytes("lib.so", notes=notes, section_headers=False))
    assert read_note(str(path), NOTE_SECTION, NOTE_NAME) is None


def test_every_truncation_gives_none_or_the_answer(tmp_path: Path) -> None:
    data = shared_object_bytes("libcuda.so.1", notes=[(NOTE_SECTION, NOTE_NAME, COMPAT)])
    path = tmp_path / "lib.so"
    for length in range(len(data)):
        path.write_bytes(data[:length])
        assert read_soname(str(path)) in (None, "libcuda.so.1")
        assert read_note(str(path), NOTE_SECTION, NOTE_NAME) in (None, COMPAT)


def test_seeded_mutations_never_raise(tmp_path: Path) -> None:
    rng = random.Random(1234)
    path = tmp_path / "lib.so"
    originals = [
        shared_object_bytes("libcuda.so.1", notes=[(NOTE_SECTION, NOTE_NAME, COMPAT)]),
        shared_object_bytes("libcuda.so.1", arch="i386", big_endian=True),
    ]
    seen = set()
    for _ in range(1500):
        data = bytearray(rng.choice(originals))
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.choice((0, 0xFF, rng.randrange(256)))
        path.write_bytes(bytes(data))
        seen.add(read_soname(str(path)))
        read_note(str(path), NOTE_SECTION, NOTE_NAME)
    assert "libcuda.so.1" in seen and None in seen


def test_system_libraries_agree_with_readelf() -> None:
    if READELF is None:
        pytest.skip("readelf is not installed")
    paths = sorted({os.path.realpath(p) for p in glob.glob("/usr/lib/x86_64-linux-gnu/lib*.so.*")})[
        :60
    ]
    paths = [p for p in paths if os.path.isfile(p)]
    if not paths:
        pytest.skip("no system libraries to compare with")
    for path in paths:
        assert read_soname(path) == readelf_soname(path), path
