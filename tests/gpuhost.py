"""A fixture GPU host, and a glibc root filesystem to build on, for the GPU build tests.

:func:`build_gpu_host` lays out a host root that the NVIDIA installer validates (its
``proc/driver/nvidia/version``, a PCI device of vendor ``0x10de``, or ``/dev/dxg`` on WSL)
and that the generator reads as a real driver install: the driver files and nodes of
:func:`generate.nvidiaroot.build_nvidia_root`, the stand-in ``libnvidia-ml`` compiled from
``examples/gpu-host/libnvidia-ml.c`` with the GPU table built in (inside a container only the
library is mounted, nothing beside it), and a stand-in ``nvidia-smi``
(``examples/gpu-host/nvidia-smi.c``) that, like the real one, dlopen()s ``libnvidia-ml.so.1``
through the container's linker cache and prints ``GPU <i>: <name> (UUID: <uuid>)`` per GPU for
``-L``. The GPUs are those of
:class:`generate.fakenvml.FakeNvml` (same names, UUIDs and bus ids), so a spec generated from
the host equals one generated with the fake NVML.

:func:`glibc_rootfs` stands for ``FROM ubuntu`` without network: busybox plus the host's own
loader and C library, laid out as on Debian (``/etc/debian_version``, multiarch folders).

Both need root (device nodes) and a C compiler; :func:`require_gpu_host_tools` skips or,
with ``CDI_E2E_REQUIRED=1``, fails a test without them.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cdi.runtime import make_busybox_rootfs
from generate.blobs import shared_object_bytes
from generate.fakenvml import DEFAULT_CUDA, DEFAULT_DRIVER, DEFAULT_NAME, gpu_uuid, raw_bus_id
from generate.fixtures import MISC_MAJOR, VERSION, make_char_device, run_ldconfig, write_file
from generate.nvidiaroot import build_nvidia_root
from needs import unavailable

TESTS = Path(__file__).parent
STAND_INS = TESTS.parent / "examples" / "gpu-host"
FAKENVML_SOURCE = STAND_INS / "libnvidia-ml.c"
NVIDIA_SMI_SOURCE = STAND_INS / "nvidia-smi.c"
NVIDIA_VENDOR = "0x10de"
#: ``/dev/dxg``'s numbers on a WSL2 kernel (a misc device).
DXG_MINOR = 63
#: The NVIDIA driver store folder of the WSL fixture (as tests/vectors/generate/golden_roots).
WSL_STORE = "/usr/lib/wsl/drivers/nv_dispi.inf_amd64_7e4d2c3b1a0f9e8d"
#: Files of the store besides the stand-ins; tiny real ELF objects (soname or None) or data.
WSL_STORE_FILES: dict[str, str | None] = {
    "libcuda.so.1.1": "libcuda.so.1",
    "libcuda_loader.so": None,
    "libnvidia-ptxjitcompiler.so.1": "libnvidia-ptxjitcompiler.so.1",
    "libnvidia-ml_loader.so": None,
    "libnvdxgdmal.so.1": "libnvdxgdmal.so.1",
    "libnvwgf2umx.so": None,
}
#: (program interpreter, multiarch triplet) of the machines the glibc root supports.
GLIBC_LAYOUT = {
    "x86_64": ("/lib64/ld-linux-x86-64.so.2", "x86_64-linux-gnu"),
    "aarch64": ("/lib/ld-linux-aarch64.so.1", "aarch64-linux-gnu"),
}
GLIBC_LIBRARIES = ("libc.so.6", "libdl.so.2", "libm.so.6", "libpthread.so.0", "librt.so.1")
NVML_SONAME = "libnvidia-ml.so.1"


@dataclass(frozen=True)
class Gpu:
    name: str
    uuid: str

    @property
    def smi_line(self) -> str:
        """What ``nvidia-smi -L`` prints for this GPU (after ``GPU <index>: ``)."""
        return f"{self.name} (UUID: {self.uuid})"


@dataclass(frozen=True)
class GpuHost:
    """What :func:`build_gpu_host` made; paths are host paths."""

    root: Path
    wsl: bool
    gpus: tuple[Gpu, ...]
    #: The stand-in ``libnvidia-ml`` (the file, not its link) and ``nvidia-smi``.
    nvml_library: Path
    nvidia_smi: Path

    def smi_lines(self) -> list[str]:
        """``nvidia-smi -L``'s output lines for this host."""
        return [f"GPU {index}: {gpu.smi_line}" for index, gpu in enumerate(self.gpus)]


def require_gpu_host_tools() -> None:
    """Skip (or fail under ``CDI_E2E_REQUIRED=1``) without root or a C compiler."""
    if os.geteuid() != 0:
        unavailable("a fixture GPU host needs root (mknod)")
    if shutil.which("cc") is None:
        unavailable("a fixture GPU host needs a C compiler (cc)")


def fixture_gpus(count: int) -> tuple[Gpu, ...]:
    return tuple(Gpu(DEFAULT_NAME, gpu_uuid(index)) for index in range(count))


def nvml_table(gpus: int) -> str:
    """The stand-in's GPU table (``libnvidia-ml.c``'s format) for *gpus* FakeNvml GPUs."""
    lines = [f"driver {DEFAULT_DRIVER}", f"cuda {DEFAULT_CUDA}"]
    lines += [f"gpu {gpu_uuid(i)} {i} {raw_bus_id(i)} {DEFAULT_NAME}" for i in range(gpus)]
    return "".join(f"{line}\n" for line in lines)


def _c_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _cc(*args: str) -> None:
    result = subprocess.run(["cc", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"cc {' '.join(args)} failed:\n{result.stderr}")


def compile_nvml(library: Path, gpus: int) -> Path:
    """Compile the stand-in ``libnvidia-ml`` with a table of *gpus* GPUs built in, over
    *library* (soname ``libnvidia-ml.so.1``, so a container's ldconfig links it)."""
    library.parent.mkdir(parents=True, exist_ok=True)
    library.unlink(missing_ok=True)
    header = library.with_name(f".{library.name}.gpus.h")
    header.write_text(f"#define FAKENVML_TABLE {_c_string(nvml_table(gpus))}\n")
    try:
        _cc(
            "-shared",
            "-fPIC",
            "-O2",
            f"-Wl,-soname,{NVML_SONAME}",
            "-include",
            str(header),
            "-o",
            str(library),
            str(FAKENVML_SOURCE),
            "-ldl",
        )
    finally:
        header.unlink(missing_ok=True)
    return library


def compile_nvidia_smi(destination: Path) -> Path:
    """Compile the stand-in ``nvidia-smi`` (dynamically linked, as the real one) at 0755."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    _cc("-O2", "-o", str(destination), str(NVIDIA_SMI_SOURCE), "-ldl")
    os.chmod(destination, 0o755)
    return destination


def build_gpu_host(base: Path, *, gpus: int = 1, wsl: bool = False) -> GpuHost:
    """A fixture host root at *base* with *gpus* GPUs (WSL: the GPUs behind ``/dev/dxg``)."""
    require_gpu_host_tools()
    base.mkdir(parents=True, exist_ok=True)
    if wsl:
        return _build_wsl_host(base, gpus)
    info = build_nvidia_root(base, gpus=gpus)
    library = compile_nvml(info.host(f"{info.lib_dir}/libnvidia-ml.so.{VERSION}"), gpus)
    (library.parent / NVML_SONAME).symlink_to(library.name)
    run_ldconfig(base)  # the host's cache names the new library, as an installer leaves it
    for bus in info.bus_ids:
        write_file(base / "sys/bus/pci/devices" / bus / "vendor", f"{NVIDIA_VENDOR}\n")
        write_file(base / "sys/bus/pci/devices" / bus / "class", "0x030200\n")
    smi = compile_nvidia_smi(base / "usr/bin/nvidia-smi")
    return GpuHost(base, False, fixture_gpus(gpus), library, smi)


def _build_wsl_host(base: Path, gpus: int) -> GpuHost:
    """A WSL2 guest: ``/dev/dxg``, ``libdxcore.so`` and NVIDIA's driver store; no
    ``/proc/driver/nvidia`` and no NVIDIA PCI device (WSL has neither), so only ``/dev/dxg``
    makes the host validate. The PCI folder is there, empty, as on WSL2: BuildKit's check
    fails outright when it cannot list it."""
    make_char_device(base / "dev/dxg", MISC_MAJOR, DXG_MINOR)
    (base / "sys/bus/pci/devices").mkdir(parents=True)
    # Loadable but without dxcore's entry points: the generator falls back to scanning the
    # store folders, as it must where no Windows host answers.
    write_file(base / "usr/lib/wsl/lib/libdxcore.so", shared_object_bytes("libdxcore.so"))
    store = base / WSL_STORE.lstrip("/")
    for name, soname in WSL_STORE_FILES.items():
        write_file(store / name, shared_object_bytes(soname))
    write_file(store / "nvcubins.bin", b"\0nvcubins\0")
    write_file(store / "nvapi64.dll", b"MZ")
    library = compile_nvml(store / NVML_SONAME, gpus)
    smi = compile_nvidia_smi(store / "nvidia-smi")
    return GpuHost(base, True, fixture_gpus(gpus), library, smi)


def _host_library(name: str, triplet: str) -> Path:
    """The host's copy of glibc library *name*, links resolved."""
    for directory in (f"/lib/{triplet}", f"/usr/lib/{triplet}", "/lib64", "/usr/lib64", "/lib"):
        candidate = Path(directory) / name
        if candidate.exists():
            return candidate.resolve()
    raise FileNotFoundError(f"the host has no {name}")


def glibc_rootfs(base: Path) -> Path:
    """A minimal glibc root at *base*: busybox, the host's loader and C libraries in
    ``/lib/<triplet>`` (the loader also at its interpreter path), ``/etc/ld.so.conf`` and
    ``/etc/debian_version`` so that update-ldcache treats it as Debian-like. It stands for
    ``FROM ubuntu`` (``--build-context ubuntu=DIR``): dynamically linked programs such as
    ``nvidia-smi`` run in it."""
    machine = platform.machine()
    if machine not in GLIBC_LAYOUT:
        unavailable(f"no glibc root layout for {machine}")
    interpreter, triplet = GLIBC_LAYOUT[machine]
    root = make_busybox_rootfs(base)
    libdir = root / "lib" / triplet
    libdir.mkdir(parents=True, exist_ok=True)
    loader = Path(interpreter).name
    shutil.copy2(_host_library(loader, triplet), libdir / loader)
    for name in GLIBC_LIBRARIES:
        try:
            shutil.copy2(_host_library(name, triplet), libdir / name)
        except FileNotFoundError:
            if name == "libc.so.6":
                raise
            # Since glibc 2.34 libdl, libpthread and librt are stubs some hosts omit.
    link = root / interpreter.lstrip("/")
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(libdir / loader, link.parent))
    (root / "usr/lib" / triplet).mkdir(parents=True, exist_ok=True)
    write_file(root / "etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n")
    write_file(
        root / f"etc/ld.so.conf.d/{triplet}.conf",
        f"/usr/local/lib/{triplet}\n/lib/{triplet}\n/usr/lib/{triplet}\n",
    )
    write_file(root / "etc/debian_version", "12.11\n")
    run_ldconfig(root)
    return root
