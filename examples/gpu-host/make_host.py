"""Make the demo's simulated GPU host: ``python examples/gpu-host/make_host.py DIR``.

No GPU and no NVIDIA driver needed. Under DIR it makes (after removing what a previous run
left there):

* ``DIR/host``: a host root as an NVIDIA driver install leaves it, standing for ``/`` with
  ``cdi inspect --host-root`` and ``cdi build --host-root``: ``proc/driver/nvidia/version``,
  a PCI device of NVIDIA's vendor id, the device nodes (numbers as on a real host; nothing
  can open them), ``libcuda``, a stand-in ``libnvidia-ml.so.1`` (``libnvidia-ml.c``) that
  answers NVML's calls for one A100, and a stand-in ``nvidia-smi`` (``nvidia-smi.c``) that,
  like the real one, finds that library through the container's linker cache;
* ``DIR/ubuntu``: a minimal glibc root standing for ``FROM ubuntu`` without network:
  busybox plus this machine's loader and C library, laid out as Debian lays them out;
* ``DIR/cdi``: an empty spec directory, where the build writes the generated spec.

Needs root (mknod), a C compiler, glibc's ``ldconfig`` and a static busybox. Run it with the
interpreter that has ``cdi`` installed. A compact copy of the tests' fixture
(``tests/gpuhost.py``): examples do not use the tests.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from cdi.runtime import make_busybox_rootfs

HERE = Path(__file__).resolve().parent
VERSION = "999.88.77"
LIB_DIR = "lib/x86_64-linux-gnu"
BUS_ID = "0000:07:00.0"
GPU = ("GPU-49e855fc-90fb-5e5f-ac20-0fc79f0aaeb4", "NVIDIA A100-SXM4-40GB")
#: (path, major, minor) of the driver's device nodes.
NODES = (
    ("dev/nvidia0", 195, 0),
    ("dev/nvidiactl", 195, 255),
    ("dev/nvidia-modeset", 195, 254),
    ("dev/nvidia-uvm", 510, 0),
    ("dev/nvidia-uvm-tools", 510, 1),
)
GLIBC = ("libc.so.6", "libdl.so.2", "libm.so.6", "libpthread.so.0", "librt.so.1")
LDCONFIG = shutil.which("ldconfig", path="/sbin:/usr/sbin:/usr/bin:/bin") or "ldconfig"


def write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


def cc(*args: str) -> None:
    subprocess.run(["cc", "-O2", *args], check=True)


def make_host(root: Path) -> None:
    libs = root / LIB_DIR
    libs.mkdir(parents=True)
    empty = root / "empty.c"
    empty.write_text("int nvidia_stand_in;\n")
    cuda = str(libs / f"libcuda.so.{VERSION}")
    cc("-shared", "-fPIC", "-Wl,-soname,libcuda.so.1", "-o", cuda, str(empty))
    empty.unlink()
    table = root / "gpus.h"
    # The GPU table, built into the library (a container gets only the library mounted).
    lines = f"driver {VERSION}\\ncuda 13010\\ngpu {GPU[0]} 0 0000{BUS_ID.upper()} {GPU[1]}\\n"
    table.write_text(f'#define FAKENVML_TABLE "{lines}"\n')
    library = libs / f"libnvidia-ml.so.{VERSION}"
    source = str(HERE / "libnvidia-ml.c")
    cc(
        "-shared",
        "-fPIC",
        "-Wl,-soname,libnvidia-ml.so.1",
        "-include",
        str(table),
        "-o",
        str(library),
        source,
    )
    table.unlink()
    for name in ("libcuda.so.1", "libnvidia-ml.so.1"):
        (libs / name).symlink_to(f"{name.rsplit('.', 1)[0]}.{VERSION}")
    write(root / "etc/ld.so.conf", f"/{LIB_DIR}\n")
    subprocess.run([LDCONFIG, "-X", "-r", str(root)], check=True)
    (root / "usr/bin").mkdir(parents=True)
    cc("-o", str(root / "usr/bin/nvidia-smi"), str(HERE / "nvidia-smi.c"), "-ldl")
    for path, major, minor in NODES:
        node = root / path
        node.parent.mkdir(parents=True, exist_ok=True)
        os.mknod(node, 0o666 | 0o020000, os.makedev(major, minor))
        os.chmod(node, 0o666)
    write(
        root / "proc/driver/nvidia/version",
        f"NVRM version: NVIDIA UNIX x86_64 Kernel Module  {VERSION}  "
        "Tue Sep 23 09:55:41 UTC 2025\n",
    )
    write(root / f"sys/bus/pci/devices/{BUS_ID}/vendor", "0x10de\n")


def host_library(name: str, triplet: str) -> Path:
    for directory in (f"/lib/{triplet}", f"/usr/lib/{triplet}", "/lib64", "/usr/lib64", "/lib"):
        if (Path(directory) / name).exists():
            return (Path(directory) / name).resolve()
    raise SystemExit(f"this machine has no {name}")


def make_ubuntu(root: Path) -> None:
    """busybox, then the loader and C library where Debian has them."""
    if platform.machine() != "x86_64":
        raise SystemExit("the simulated GPU host is an x86-64 one")
    triplet = "x86_64-linux-gnu"
    make_busybox_rootfs(root)
    libs = root / "lib" / triplet
    libs.mkdir(parents=True)
    for name in ("ld-linux-x86-64.so.2", *GLIBC):
        try:
            shutil.copy2(host_library(name, triplet), libs / name)
        except SystemExit:
            if name in ("ld-linux-x86-64.so.2", "libc.so.6"):
                raise  # the others are stubs since glibc 2.34, missing on some machines
    (root / "lib64").mkdir()
    (root / "lib64/ld-linux-x86-64.so.2").symlink_to(f"../lib/{triplet}/ld-linux-x86-64.so.2")
    write(root / "etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n")
    write(root / f"etc/ld.so.conf.d/{triplet}.conf", f"/lib/{triplet}\n/usr/lib/{triplet}\n")
    write(root / "etc/debian_version", "12.11\n")
    subprocess.run([LDCONFIG, "-X", "-r", str(root)], check=True)


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: {sys.argv[0]} DIR")
    shown = sys.argv[1].rstrip("/")  # printed as given, so the output is the same anywhere
    base = Path(shown).absolute()
    shutil.rmtree(base, ignore_errors=True)
    make_host(base / "host")
    make_ubuntu(base / "ubuntu")
    (base / "cdi").mkdir()
    print(f"simulated GPU host in {shown}/host: 1 GPU, {GPU[1]} ({GPU[0]}), driver {VERSION}")
    print(f"FROM ubuntu stand-in in {shown}/ubuntu; empty spec directory {shown}/cdi")


if __name__ == "__main__":
    main()
