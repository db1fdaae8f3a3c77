"""Fixture roots for the generator tests: tiny real ELF libraries, real device nodes, a real
``ld.so.cache`` made by glibc's ``ldconfig``, a fake sysfs and ``/proc/driver/nvidia``.

The trees mirror nvidia-ctk's own ``testdata`` roots (``rootfs-1``, ``rootfs-2``, ...) and a
full driver install of the 580 series. Device nodes need root; without it the builders leave
them out and say so (``has_device_nodes``), and :data:`requires_root` skips a test.

Import as ``from generate.fixtures import ...`` (``tests`` is on the path). The full driver
install is :func:`generate.nvidiaroot.build_nvidia_root`; the byte writers behind the ELF
objects and hand-made caches are in :mod:`generate.blobs`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from generate.blobs import RawEntry, ldcache_bytes, shared_object_bytes

requires_root = pytest.mark.skipif(os.geteuid() != 0, reason="device nodes need root (mknod)")

IS_ROOT = os.geteuid() == 0
VERSION = "999.88.77"

# Character device majors as on a real host (the dynamic ones as they commonly come out).
NVIDIA_MAJOR = 195  # nvidia<N>, nvidiactl (255), nvidia-modeset (254)
NVIDIA_UVM_MAJOR = 510  # nvidia-uvm (0), nvidia-uvm-tools (1)
NVIDIA_CAPS_MAJOR = 508
NVIDIA_CAPS_IMEX_MAJOR = 507
NVIDIA_NVSWITCH_MAJOR = 506  # nvidia-nvswitch<N>, nvidia-nvswitchctl (255)
GDRDRV_MAJOR = 505
NVIDIA_FS_MAJOR = 504
DRI_MAJOR = 226
INFINIBAND_MAJOR = 231  # uverbs<N> at minor 192+N
MISC_MAJOR = 10  # rdma_cm
VIDEO_GID = 44
#: PCI addresses of the GPUs of a DGX A100, used for the first eight fixture GPUs.
BUS_NUMBERS = (0x07, 0x0F, 0x47, 0x4E, 0x87, 0x90, 0xB7, 0xBD)

# --------------------------------------------------------------------------- ELF, ld.so.cache


def write_shared_object(
    path: str | os.PathLike[str],
    soname: str | None = None,
    *,
    notes: Sequence[tuple[str, str, bytes]] = (),
    size_padding: int = 0,
    arch: str = "x86_64",
) -> Path:
    """Write a tiny real shared object (see :func:`shared_object_bytes`); parents created."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = shared_object_bytes(soname, notes=notes, size_padding=size_padding, arch=arch)
    target.write_bytes(data)
    return target


# --------------------------------------------------------------------------- ld.so.cache


def write_ldcache(
    root: str | os.PathLike[str], entries: Sequence[RawEntry], layout: str = "new"
) -> Path:
    """Write ``{root}/etc/ld.so.cache`` by hand (for libraries ldconfig would not cache)."""
    target = Path(root) / "etc" / "ld.so.cache"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(ldcache_bytes(entries, layout))
    return target


LDCONFIG = shutil.which("ldconfig", path="/sbin:/usr/sbin:/usr/bin:/bin")


def run_ldconfig(root: str | os.PathLike[str]) -> Path:
    """Run the real ``ldconfig -r ROOT`` (it reads ``ROOT/etc/ld.so.conf`` and writes
    ``ROOT/etc/ld.so.cache``); skips the test where glibc's ldconfig is missing."""
    if LDCONFIG is None:
        pytest.skip("glibc's ldconfig is not installed")
    base = Path(root)
    (base / "etc").mkdir(parents=True, exist_ok=True)
    # -X: the builders made the links themselves, as an installer does.
    subprocess.run([LDCONFIG, "-X", "-r", str(base)], check=True, capture_output=True)
    return base / "etc" / "ld.so.cache"


# --------------------------------------------------------------------------- nodes, files


def make_char_device(
    path: str | os.PathLike[str], major: int, minor: int, mode: int = 0o666, gid: int = 0
) -> Path:
    """A real character device node (root only; use :data:`requires_root`)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.mknod(target, 0o600 | 0o020000, os.makedev(major, minor))
    os.chmod(target, mode)
    if gid:
        os.chown(target, 0, gid)
    return target


def write_file(path: Path, content: str | bytes = b"", mode: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    if mode is not None:
        os.chmod(path, mode)
    return path


def symlink(path: Path, target: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path


def make_socket(path: Path) -> Path:
    """A real unix socket file (bound, then closed); a plain file where binding fails (a
    path longer than ``sun_path``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.bind(str(path))
    except OSError:
        write_file(path)
    return path


def bus_id(index: int) -> str:
    number = BUS_NUMBERS[index] if index < len(BUS_NUMBERS) else 0xC0 + index
    return f"0000:{number:02x}:00.0"


def maybe_node(path: Path, major: int, minor: int, mode: int = 0o666, gid: int = 0) -> None:
    """A device node where we may make one; nothing otherwise (the caller records that)."""
    if IS_ROOT:
        make_char_device(path, major, minor, mode, gid)


# --------------------------------------------------------------------------- nvidia-ctk's roots


@dataclass(frozen=True)
class FixtureRoot:
    """A small root: its host path, and whether its device nodes could be made."""

    root: str
    has_device_nodes: bool = IS_ROOT

    def host(self, container: str) -> Path:
        return Path(self.root) / container.lstrip("/")


def make_gated_nodes(root: Path) -> None:
    """The nodes and files of the gated modes (gdrcopy, gds, mofed, nvswitch)."""
    maybe_node(root / "dev/gdrdrv", GDRDRV_MAJOR, 0)
    maybe_node(root / "dev/nvidia-fs0", NVIDIA_FS_MAJOR, 0)
    maybe_node(root / "dev/infiniband/rdma_cm", MISC_MAJOR, 58)
    maybe_node(root / "dev/infiniband/uverbs0", INFINIBAND_MAJOR, 192)
    make_nvswitch_nodes(root, switches=1)
    write_file(root / "etc/cufile.json", '{\n    "logging": {"level": "ERROR"}\n}\n')
    (root / "run/udev").mkdir(parents=True, exist_ok=True)


def make_nvswitch_nodes(root: Path, switches: int = 2) -> None:
    for index in range(switches):
        maybe_node(root / f"dev/nvidia-nvswitch{index}", NVIDIA_NVSWITCH_MAJOR, index)
    maybe_node(root / "dev/nvidia-nvswitchctl", NVIDIA_NVSWITCH_MAJOR, 255)


def make_imex_channels(root: Path, channels: Sequence[int] = (0, 1, 2047)) -> None:
    """IMEX channel nodes and the ``nvidia-cap1`` capability node."""
    for channel in channels:
        maybe_node(
            root / f"dev/nvidia-caps-imex-channels/channel{channel}",
            NVIDIA_CAPS_IMEX_MAJOR,
            channel,
        )
    maybe_node(root / "dev/nvidia-caps/nvidia-cap1", NVIDIA_CAPS_MAJOR, 1, 0o444)


ROOTFS1_LIB_DIR = "/lib/x86_64-linux-gnu"


def build_rootfs_1(base: Path, version: str = VERSION) -> FixtureRoot:
    """Like nvidia-ctk's ``testdata/lookup/rootfs-1``: empty files for ``libcuda`` (with its
    ``libcuda.so.1`` link) and ``vdpau/libvdpau_nvidia``, the nodes of every mode, and an
    ``ld.so.cache`` from elsewhere: written by hand (ldconfig does not cache empty files),
    it names ``libcuda.so.1``, two libraries this root lacks and a 32-bit one."""
    libs = base / ROOTFS1_LIB_DIR.lstrip("/")
    write_file(libs / f"libcuda.so.{version}")
    symlink(libs / "libcuda.so.1", f"libcuda.so.{version}")
    write_file(libs / f"vdpau/libvdpau_nvidia.so.{version}")
    write_ldcache(
        base,
        [
            RawEntry("libnvidia-ml.so.1", f"{ROOTFS1_LIB_DIR}/libnvidia-ml.so.1"),
            RawEntry("libcuda.so.1", f"{ROOTFS1_LIB_DIR}/libcuda.so.1"),
            RawEntry("libcuda.so.1", "/usr/lib/i386-linux-gnu/libcuda.so.1", flags=0x0003),
            RawEntry(
                "libnvidia-ptxjitcompiler.so.1",
                "/lib/x86_64-linux-gnu/libnvidia-ptxjitcompiler.so.1",
            ),
        ],
    )
    maybe_node(base / "dev/nvidia0", NVIDIA_MAJOR, 0)
    maybe_node(base / "dev/nvidiactl", NVIDIA_MAJOR, 255)
    make_gated_nodes(base)
    make_imex_channels(base)
    return FixtureRoot(str(base))


def build_rootfs_empty(base: Path) -> FixtureRoot:
    base.mkdir(parents=True, exist_ok=True)
    return FixtureRoot(str(base))


def build_rootfs_no_cache_lib64(base: Path, version: str = VERSION) -> FixtureRoot:
    """``usr/lib64/libcuda.so.1 -> libcuda.so.<V>`` (an empty file) and no cache."""
    write_file(base / f"usr/lib64/libcuda.so.{version}")
    symlink(base / "usr/lib64/libcuda.so.1", f"libcuda.so.{version}")
    return FixtureRoot(str(base))


ROOTFS2_LIB_DIR = "/var/lib/nvidia/lib64"


def build_rootfs_2(
    base: Path, version: str = VERSION, lib_dir: str = ROOTFS2_LIB_DIR
) -> FixtureRoot:
    """``libcuda`` (a real ELF object) in a directory only the root's ``ld.so.conf`` names,
    and the cache ldconfig makes of it."""
    libs = base / lib_dir.lstrip("/")
    write_shared_object(libs / f"libcuda.so.{version}", "libcuda.so.1")
    symlink(libs / "libcuda.so.1", f"libcuda.so.{version}")
    write_file(base / "etc/ld.so.conf", f"{lib_dir}\n")
    run_ldconfig(base)
    return FixtureRoot(str(base))


def build_rootfs_drm(base: Path, bus: str = "0000:07:00.0") -> FixtureRoot:
    """``dev/dri/card0`` and ``renderD128`` with their ``by-path`` links."""
    maybe_node(base / "dev/dri/card0", DRI_MAJOR, 0, 0o660, VIDEO_GID)
    maybe_node(base / "dev/dri/renderD128", DRI_MAJOR, 128)
    symlink(base / f"dev/dri/by-path/pci-{bus}-card", "../card0")
    symlink(base / f"dev/dri/by-path/pci-{bus}-render", "../renderD128")
    return FixtureRoot(str(base))


def build_rootfs_with_nvswitch(base: Path) -> FixtureRoot:
    make_nvswitch_nodes(base, switches=2)
    return FixtureRoot(str(base))
