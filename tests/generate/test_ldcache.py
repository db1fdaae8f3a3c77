"""Parsing glibc's ld.so.cache: real caches made by ldconfig, the older layouts, hostile bytes."""

from __future__ import annotations

import os
import random
import re
import subprocess
from pathlib import Path

import pytest

from cdi.generate import ldcache
from cdi.generate.ldcache import LdCacheError, parse_ldcache, read_ldcache
from generate.blobs import RawEntry, ldcache_bytes
from generate.fixtures import LDCONFIG, run_ldconfig, symlink, write_file, write_shared_object

V = "999.88.77"

#: One entry per architecture flag nvidia-ctk knows, plus ones it skips.
MIXED = [
    RawEntry("libcuda.so.1", "/lib/x86_64-linux-gnu/libcuda.so.1", 0x0303),
    RawEntry("libcuda.so.1", "/usr/lib/i386-linux-gnu/libcuda.so.1", 0x0003),
    RawEntry("libarm.so.1", "/usr/lib/aarch64-linux-gnu/libarm.so.1", 0x0A03),
    RawEntry("libppc.so.1", "/usr/lib/powerpc64le-linux-gnu/libppc.so.1", 0x0503),
    RawEntry("libx32.so.1", "/usr/libx32/libx32.so.1", 0x0803),
    RawEntry("libhf.so.1", "/usr/lib/arm-linux-gnueabihf/libhf.so.1", 0x0903),
    RawEntry("libs390.so.1", "/usr/lib/s390x-linux-gnu/libs390.so.1", 0x0403),
    RawEntry("libc5.so.1", "/lib/libc5.so.1", 0x0302),  # FLAG_ELF_LIBC5: no ELF bit
    RawEntry("libelf.so.1", "/lib/x86_64-linux-gnu/libelf.so.1", 0x0301),  # FLAG_ELF
    RawEntry("libcuda.so.1", "/lib/x86_64-linux-gnu/libcuda.so.1", 0x0303, hwcap=1),  # again
]
MIXED_64 = (
    "/lib/x86_64-linux-gnu/libcuda.so.1",
    "/usr/lib/aarch64-linux-gnu/libarm.so.1",
    "/usr/lib/powerpc64le-linux-gnu/libppc.so.1",
    "/lib/x86_64-linux-gnu/libelf.so.1",
)
MIXED_32 = (
    "/usr/lib/i386-linux-gnu/libcuda.so.1",
    "/usr/libx32/libx32.so.1",
    "/usr/lib/arm-linux-gnueabihf/libhf.so.1",
)


def real_cache_root(base: Path) -> Path:
    """A root with 64- and 32-bit libraries and the cache the real ldconfig makes of it."""
    write_shared_object(base / f"lib/x86_64-linux-gnu/libcuda.so.{V}", "libcuda.so.1")
    symlink(base / "lib/x86_64-linux-gnu/libcuda.so.1", f"libcuda.so.{V}")
    write_shared_object(base / f"lib/x86_64-linux-gnu/libnvidia-ml.so.{V}", "libnvidia-ml.so.1")
    symlink(base / "lib/x86_64-linux-gnu/libnvidia-ml.so.1", f"libnvidia-ml.so.{V}")
    write_shared_object(
        base / f"usr/lib/i386-linux-gnu/libcuda.so.{V}", "libcuda.so.1", arch="i386"
    )
    symlink(base / "usr/lib/i386-linux-gnu/libcuda.so.1", f"libcuda.so.{V}")
    write_file(base / "etc/ld.so.conf", "/lib/x86_64-linux-gnu\n/usr/lib/i386-linux-gnu\n")
    run_ldconfig(base)
    return base


def glibc_view(cache: Path) -> list[tuple[str, str]]:
    """``(soname, path)`` of every entry, as glibc's own ``ldconfig -p`` prints them."""
    assert LDCONFIG is not None
    out = subprocess.run(
        [LDCONFIG, "-C", str(cache), "-p"], check=True, capture_output=True, text=True
    ).stdout
    return re.findall(r"^\t(\S+) \(.*\) => (.*)$", out, flags=re.MULTILINE)


def test_real_cache_from_ldconfig(tmp_path: Path) -> None:
    root = real_cache_root(tmp_path)
    cache = read_ldcache(str(root))
    assert cache.format == "new"
    assert set(cache.libraries64) == {
        "/lib/x86_64-linux-gnu/libcuda.so.1",
        "/lib/x86_64-linux-gnu/libnvidia-ml.so.1",
    }
    assert cache.libraries32 == ("/usr/lib/i386-linux-gnu/libcuda.so.1",)
    entries = [(e.key, e.value) for e in cache.entries]
    assert entries == glibc_view(root / "etc/ld.so.cache")


def test_host_cache_matches_glibc() -> None:
    host = Path("/etc/ld.so.cache")
    if LDCONFIG is None or not host.is_file():
        pytest.skip("no host ld.so.cache")
    cache = parse_ldcache(host.read_bytes())
    assert [(e.key, e.value) for e in cache.entries] == glibc_view(host)


@pytest.mark.parametrize("layout", ["new", "old", "old+new"])
@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("endian_mark", [True, False])
def test_layouts_and_architectures(layout: str, big_endian: bool, endian_mark: bool) -> None:
    data = ldcache_bytes(MIXED, layout, big_endian=big_endian, endian_mark=endian_mark)
    cache = parse_ldcache(data)
    assert cache.format == layout
    assert cache.libraries64 == MIXED_64
    assert cache.libraries32 == MIXED_32
    assert [(e.key, e.value, e.flags) for e in cache.entries] == [
        (e.key, e.value, e.flags) for e in MIXED
    ]


@pytest.mark.parametrize("layout", ["new", "old", "old+new"])
def test_handmade_layouts_read_by_glibc(tmp_path: Path, layout: str) -> None:
    """The hand-made layouts are what glibc reads, so the parser is tested on real formats."""
    if LDCONFIG is None:
        pytest.skip("glibc's ldconfig is not installed")
    path = tmp_path / "ld.so.cache"
    path.write_bytes(ldcache_bytes(MIXED, layout))
    assert glibc_view(path) == [(e.key, e.value) for e in MIXED]


def test_hwcap_and_empty_cache() -> None:
    cache = parse_ldcache(ldcache_bytes(MIXED))
    assert cache.entries[-1].hwcap == 1
    empty = parse_ldcache(ldcache_bytes([]))
    assert empty.entries == () and empty.libraries64 == ()


def test_missing_cache_is_empty(tmp_path: Path) -> None:
    assert read_ldcache(str(tmp_path)) == ldcache.EMPTY_CACHE


def test_absolute_link_stays_in_root(tmp_path: Path) -> None:
    """An absolute link target is the root's own file, never the host's."""
    symlink(tmp_path / "etc/ld.so.cache", "/data/ld.so.cache")
    assert read_ldcache(str(tmp_path)) == ldcache.EMPTY_CACHE
    write_file(tmp_path / "data/ld.so.cache", ldcache_bytes(MIXED))
    assert read_ldcache(str(tmp_path)).libraries64 == MIXED_64


def test_link_to_the_host_path_is_a_loop(tmp_path: Path) -> None:
    """Inside the root, ``/etc/ld.so.cache -> /etc/ld.so.cache`` is a loop (as in a chroot),
    not the host's cache."""
    symlink(tmp_path / "etc/ld.so.cache", "/etc/ld.so.cache")
    with pytest.raises(LdCacheError, match="Too many levels of symbolic links"):
        read_ldcache(str(tmp_path))


def test_link_climbing_out_of_root_is_clamped(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_file(tmp_path / "outside.cache", ldcache_bytes(MIXED))
    symlink(root / "etc/ld.so.cache", "../../../outside.cache")
    assert read_ldcache(str(root)) == ldcache.EMPTY_CACHE
    write_file(root / "outside.cache", ldcache_bytes(MIXED[:1]))
    assert read_ldcache(str(root)).libraries64 == MIXED_64[:1]


def test_not_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "etc/ld.so.cache").mkdir(parents=True)
    with pytest.raises(LdCacheError, match="is not a regular file"):
        read_ldcache(str(tmp_path))


def test_fifo_does_not_hang(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    os.mkfifo(tmp_path / "etc/ld.so.cache")
    with pytest.raises(LdCacheError, match="is not a regular file"):
        read_ldcache(str(tmp_path))


def test_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ldcache, "MAX_CACHE_SIZE", 100)
    data = ldcache_bytes(MIXED)
    with pytest.raises(LdCacheError, match=r"too large: \d+ bytes \(limit 100\)"):
        parse_ldcache(data)
    write_file(tmp_path / "etc/ld.so.cache", data)
    with pytest.raises(LdCacheError, match="too large"):
        read_ldcache(str(tmp_path))


def test_read_error_names_the_file(tmp_path: Path) -> None:
    write_file(tmp_path / "etc/ld.so.cache", b"garbage")
    with pytest.raises(LdCacheError) as caught:
        read_ldcache(str(tmp_path))
    assert str(caught.value) == (f"{tmp_path}/etc/ld.so.cache: not an ld.so.cache: unknown magic")


def _with(data: bytes, at: int, raw: bytes) -> bytes:
    return data[:at] + raw + data[at + len(raw) :]


_NEW = ldcache_bytes(MIXED[:2])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not an ld.so.cache: unknown magic"),
        (b"ld.so-1.7.0", "truncated ld.so.cache: old-format header incomplete"),
        (b"glibc-ld.so.cache1.1", "truncated ld.so.cache: new-format header incomplete"),
        (_with(_NEW, 20, b"\xff\xff\x00\x00"), "truncated ld.so.cache: 65535 entries do not fit"),
        (
            _with(_NEW, 24, b"\xff\xff\x00\x00"),
            "truncated ld.so.cache: string table of 65535 bytes does not fit in the file",
        ),
        (_with(_NEW, 28, b"\x07"), "ld.so.cache has an invalid endianness mark 7"),
        (_with(_NEW, 48 + 4, b"\xff\xff\x00\x00"), "entry 0: string offset 65535 out of bounds"),
        (_with(_NEW, len(_NEW) - 1, b"x"), "entry 1: unterminated string"),
        (
            ldcache_bytes(MIXED, "old")[:20],
            "truncated ld.so.cache: 10 old-format entries do not fit",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_malformed_caches(data: bytes, message: str) -> None:
    with pytest.raises(LdCacheError, match=re.escape(message)):
        parse_ldcache(data)


@pytest.mark.parametrize("layout", ["new", "old", "old+new"])
def test_every_truncation_is_an_ldcache_error(layout: str) -> None:
    data = ldcache_bytes(MIXED, layout)
    for length in range(len(data)):
        with pytest.raises(LdCacheError):
            parse_ldcache(data[:length])


def test_seeded_mutations_raise_nothing_else(tmp_path: Path) -> None:
    """Random byte flips of a real cache give a cache or an LdCacheError, nothing else."""
    original = (real_cache_root(tmp_path) / "etc/ld.so.cache").read_bytes()
    rng = random.Random(20260901)
    outcomes = {"parsed": 0, "rejected": 0}
    for _ in range(3000):
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(data))
            data[at] = rng.choice((0, 0xFF, rng.randrange(256)))
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        try:
            parse_ldcache(bytes(data))
            outcomes["parsed"] += 1
        except LdCacheError:
            outcomes["rejected"] += 1
    assert outcomes["parsed"] and outcomes["rejected"]
