"""A driver root as an NVIDIA driver install leaves it, for the generator tests.

:func:`build_nvidia_root` lays out, under a temp directory, the driver's libraries (tiny real
ELF objects with their soname links), a real ``etc/ld.so.cache`` made by ``ldconfig``,
device nodes (root only), a fake sysfs with the GPUs' DRM nodes, and ``/proc/driver/nvidia``.
With ``library_set="full"`` it is the file set of a real 580-series install; 8 GPUs of that
build in a few tens of milliseconds, so benchmarks reuse it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from generate.blobs import shared_object_bytes
from generate.fixtures import (
    DRI_MAJOR,
    IS_ROOT,
    NVIDIA_CAPS_MAJOR,
    NVIDIA_MAJOR,
    NVIDIA_UVM_MAJOR,
    VERSION,
    VIDEO_GID,
    bus_id,
    make_socket,
    maybe_node,
    run_ldconfig,
    symlink,
    write_file,
)

#: (file, soname) of the libraries of a 580-series driver in its library directory; ``V``
#: stands for the version. A soname differing from the file name gets its link.
FULL_LIBRARIES = (
    ("libcuda.so.V", "libcuda.so.1"),
    ("libcudadebugger.so.V", "libcudadebugger.so.1"),
    ("libnvidia-ml.so.V", "libnvidia-ml.so.1"),
    ("libnvidia-ptxjitcompiler.so.V", "libnvidia-ptxjitcompiler.so.1"),
    ("libnvidia-nvvm.so.V", "libnvidia-nvvm.so.4"),
    ("libnvidia-nvvm70.so.4", "libnvidia-nvvm70.so.4"),
    ("libnvidia-opencl.so.V", "libnvidia-opencl.so.1"),
    ("libnvidia-allocator.so.V", "libnvidia-allocator.so.1"),
    ("libnvidia-cfg.so.V", "libnvidia-cfg.so.1"),
    ("libnvidia-gpucomp.so.V", "libnvidia-gpucomp.so.V"),
    ("libnvidia-glcore.so.V", "libnvidia-glcore.so.V"),
    ("libnvidia-glsi.so.V", "libnvidia-glsi.so.V"),
    ("libnvidia-tls.so.V", "libnvidia-tls.so.V"),
    ("libnvidia-eglcore.so.V", "libnvidia-eglcore.so.V"),
    ("libnvidia-glvkspirv.so.V", "libnvidia-glvkspirv.so.V"),
    ("libnvidia-rtcore.so.V", "libnvidia-rtcore.so.V"),
    ("libnvidia-opticalflow.so.V", "libnvidia-opticalflow.so.1"),
    ("libnvidia-encode.so.V", "libnvidia-encode.so.1"),
    ("libnvidia-fbc.so.V", "libnvidia-fbc.so.1"),
    ("libnvidia-ngx.so.V", "libnvidia-ngx.so.1"),
    ("libnvidia-pkcs11.so.V", "libnvidia-pkcs11.so.V"),
    ("libnvidia-pkcs11-openssl3.so.V", "libnvidia-pkcs11-openssl3.so.V"),
    ("libnvidia-sandboxutils.so.V", "libnvidia-sandboxutils.so.1"),
    ("libnvidia-vulkan-producer.so.V", "libnvidia-vulkan-producer.so.V"),
    ("libnvidia-api.so.1", "libnvidia-api.so.1"),
    ("libnvcuvid.so.V", "libnvcuvid.so.1"),
    ("libnvoptix.so.V", "libnvoptix.so.1"),
    ("libEGL_nvidia.so.V", "libEGL_nvidia.so.0"),
    ("libGLX_nvidia.so.V", "libGLX_nvidia.so.0"),
    ("libGLESv2_nvidia.so.V", "libGLESv2_nvidia.so.2"),
    ("libGLESv1_CM_nvidia.so.V", "libGLESv1_CM_nvidia.so.1"),
    ("libnvidia-egl-gbm.so.1.1.2", "libnvidia-egl-gbm.so.1"),
    ("libnvidia-egl-wayland.so.1.1.19", "libnvidia-egl-wayland.so.1"),
    ("libnvidia-egl-xcb.so.1.0.1", "libnvidia-egl-xcb.so.1"),
    ("libnvidia-egl-xlib.so.1.0.1", "libnvidia-egl-xlib.so.1"),
    ("vdpau/libvdpau_nvidia.so.V", "libvdpau_nvidia.so.1"),
    ("nvidia/xorg/libglxserver_nvidia.so.V", "libglxserver_nvidia.so.V"),
    ("nvidia/xorg/nvidia_drv.so", None),
)
MINIMAL_LIBRARIES = (
    ("libcuda.so.V", "libcuda.so.1"),
    ("vdpau/libvdpau_nvidia.so.V", "libvdpau_nvidia.so.1"),
)
#: 32-bit copies a multilib install adds; never part of a generated spec.
I386_DIR = "/usr/lib/i386-linux-gnu"
I386_LIBRARIES = (
    ("libcuda.so.V", "libcuda.so.1"),
    ("libnvidia-ml.so.V", "libnvidia-ml.so.1"),
    ("libGLX_nvidia.so.V", "libGLX_nvidia.so.0"),
    ("libEGL_nvidia.so.V", "libEGL_nvidia.so.0"),
    ("libnvidia-glcore.so.V", "libnvidia-glcore.so.V"),
    ("vdpau/libvdpau_nvidia.so.V", "libvdpau_nvidia.so.1"),
)
BINARIES = (
    "nvidia-smi",
    "nvidia-debugdump",
    "nvidia-persistenced",
    "nvidia-cuda-mps-control",
    "nvidia-cuda-mps-server",
    "nvidia-imex",
    "nvidia-imex-ctl",
    "nvidia-xconfig",
)
#: Configuration files (container paths) with their contents.
CONFIG_FILES = {
    "/usr/share/glvnd/egl_vendor.d/10_nvidia.json": (
        '{\n    "file_format_version" : "1.0.0",\n'
        '    "ICD" : {\n        "library_path" : "libEGL_nvidia.so.0"\n    }\n}\n'
    ),
    "/usr/share/egl/egl_external_platform.d/15_nvidia_gbm.json": (
        '{\n    "file_format_version" : "1.0.0",\n'
        '    "ICD" : {\n        "library_path" : "libnvidia-egl-gbm.so.1"\n    }\n}\n'
    ),
    "/usr/share/egl/egl_external_platform.d/10_nvidia_wayland.json": (
        '{\n    "file_format_version" : "1.0.0",\n'
        '    "ICD" : {\n        "library_path" : "libnvidia-egl-wayland.so.1"\n    }\n}\n'
    ),
    "/usr/share/egl/egl_external_platform.d/20_nvidia_xcb.json": (
        '{\n    "file_format_version" : "1.0.0",\n'
        '    "ICD" : {\n        "library_path" : "libnvidia-egl-xcb.so.1"\n    }\n}\n'
    ),
    "/usr/share/egl/egl_external_platform.d/20_nvidia_xlib.json": (
        '{\n    "file_format_version" : "1.0.0",\n'
        '    "ICD" : {\n        "library_path" : "libnvidia-egl-xlib.so.1"\n    }\n}\n'
    ),
    "/usr/share/nvidia/nvoptix.bin": "\0nvoptix\0",
    "/usr/share/X11/xorg.conf.d/10-nvidia.conf": (
        'Section "OutputClass"\n    Identifier "nvidia"\n    MatchDriver "nvidia-drm"\n'
        '    Driver "nvidia"\nEndSection\n'
    ),
    "/etc/vulkan/icd.d/nvidia_icd.json": (
        '{\n    "file_format_version" : "1.0.1",\n    "ICD": {\n'
        '        "library_path": "libGLX_nvidia.so.0",\n        "api_version" : "1.4.312"\n'
        "    }\n}\n"
    ),
    "/etc/vulkan/implicit_layer.d/nvidia_layers.json": (
        '{\n    "file_format_version" : "1.0.1",\n    "layer": {\n'
        '        "name": "VK_LAYER_NV_optimus",\n        "type": "INSTANCE",\n'
        '        "library_path": "libGLX_nvidia.so.0"\n    }\n}\n'
    ),
    "/etc/OpenCL/vendors/nvidia.icd": "libnvidia-opencl.so.1\n",
}
FIRMWARE = ("gsp_ga10x.bin", "gsp_tu10x.bin")
PERSISTENCED_SOCKET = "/run/nvidia-persistenced/socket"


def _mig_minor(gpu: int, gi: int, ci: int | None = None) -> int:
    """The minor of a MIG capability, as the driver numbers them (config 1, monitor 2, then
    per GPU 15 GPU instances of an access file and 8 compute instances each)."""
    base = 3 + gpu * 135 + gi * 9
    return base if ci is None else base + 1 + ci


def mig_minors_text(gpus: int) -> str:
    """``/proc/driver/nvidia-caps/mig-minors`` for *gpus* GPUs."""
    lines = ["config 1", "monitor 2"]
    for gpu in range(gpus):
        for gi in range(15):
            lines.append(f"gpu{gpu}/gi{gi}/access {_mig_minor(gpu, gi)}")
            lines += [f"gpu{gpu}/gi{gi}/ci{ci}/access {_mig_minor(gpu, gi, ci)}" for ci in range(8)]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class NvidiaRootInfo:
    """What :func:`build_nvidia_root` made. Roots are host paths; ``lib_dir``,
    ``libraries`` (the library files, not links) and ``binaries`` are container paths."""

    driver_root: str
    dev_root: str
    sysfs_root: str
    procfs_root: str
    lib_dir: str
    version: str
    bus_ids: tuple[str, ...]
    minors: tuple[int, ...]
    #: ``(card, render)`` DRM node names per GPU, e.g. ``("card1", "renderD128")``.
    drm_nodes: tuple[tuple[str, str], ...]
    libraries: tuple[str, ...]
    binaries: tuple[str, ...]
    has_device_nodes: bool
    has_ldcache: bool

    def host(self, container: str) -> Path:
        """The host path of a container path under the driver root."""
        return Path(self.driver_root) / container.lstrip("/")


def build_nvidia_root(
    base: Path,
    *,
    version: str = VERSION,
    gpus: int = 1,
    library_set: str = "minimal",
    lib_dir: str = "/lib/x86_64-linux-gnu",
    control_nodes: bool = True,
    drm: bool = True,
    ldcache: bool = True,
    dev_root: Path | None = None,
    mig: Mapping[int, Sequence[tuple[int, int]]] | None = None,
) -> NvidiaRootInfo:
    """A driver root at *base* as a driver install leaves it, with ``sys/`` and ``proc/``
    standing for the host's sysfs and procfs and device nodes in ``dev/`` (of *dev_root*
    when given). ``library_set="full"`` adds the whole 580-series library set, 32-bit copies
    (cached by ldconfig as 32-bit, never to be mounted), binaries, the persistenced socket,
    GSP firmware and configuration files. *mig* maps a GPU index to the ``(gi, ci)`` pairs
    whose capability nodes ``dev/nvidia-caps/nvidia-cap<minor>`` exist."""
    assert library_set in ("minimal", "full"), library_set
    full = library_set == "full"
    base.mkdir(parents=True, exist_ok=True)
    devs = dev_root if dev_root is not None else base
    libs = base / lib_dir.lstrip("/")
    made = []
    for name, soname in FULL_LIBRARIES if full else MINIMAL_LIBRARIES:
        made.append(f"{lib_dir}/{_library(libs, name, soname, version, 'x86_64')}")
    if full:
        symlink(libs / "libcuda.so", "libcuda.so.1")
        symlink(libs / "gbm/nvidia-drm_gbm.so", "../libnvidia-allocator.so.1")
        symlink(libs / "nvidia/xorg/libglxserver_nvidia.so", f"libglxserver_nvidia.so.{version}")
        for name, soname in I386_LIBRARIES:
            i386 = base / I386_DIR.lstrip("/")
            _library(i386, name, soname, version, "i386")
        for binary in BINARIES:
            write_file(base / "usr/bin" / binary, "#!/bin/sh\nexit 0\n", 0o755)
        make_socket(base / PERSISTENCED_SOCKET.lstrip("/"))
        for firmware in FIRMWARE:
            write_file(base / "lib/firmware/nvidia" / version / firmware, b"\x7fGSP")
        for path, content in CONFIG_FILES.items():
            write_file(base / path.lstrip("/"), content)
    if ldcache:
        conf = [lib_dir] + ([I386_DIR] if full else [])
        write_file(base / "etc/ld.so.conf", "".join(f"{d}\n" for d in conf))
        run_ldconfig(base)

    bus_ids = tuple(bus_id(i) for i in range(gpus))
    drm_nodes = tuple((f"card{i + 1}", f"renderD{128 + i}") for i in range(gpus))
    for index in range(gpus):
        maybe_node(devs / f"dev/nvidia{index}", NVIDIA_MAJOR, index)
        if drm:
            card, render = drm_nodes[index]
            maybe_node(devs / "dev/dri" / card, DRI_MAJOR, index + 1, 0o660, VIDEO_GID)
            maybe_node(devs / "dev/dri" / render, DRI_MAJOR, 128 + index, 0o666)
            symlink(devs / f"dev/dri/by-path/pci-{bus_ids[index]}-card", f"../{card}")
            symlink(devs / f"dev/dri/by-path/pci-{bus_ids[index]}-render", f"../{render}")
            for name in drm_nodes[index]:
                (base / "sys/bus/pci/devices" / bus_ids[index] / "drm" / name).mkdir(parents=True)
    if control_nodes:
        maybe_node(devs / "dev/nvidiactl", NVIDIA_MAJOR, 255)
        maybe_node(devs / "dev/nvidia-modeset", NVIDIA_MAJOR, 254)
        maybe_node(devs / "dev/nvidia-uvm", NVIDIA_UVM_MAJOR, 0)
        maybe_node(devs / "dev/nvidia-uvm-tools", NVIDIA_UVM_MAJOR, 1)
    for gpu, instances in (mig or {}).items():
        for gi, ci in instances:
            for minor in (_mig_minor(gpu, gi), _mig_minor(gpu, gi, ci)):
                maybe_node(
                    devs / f"dev/nvidia-caps/nvidia-cap{minor}", NVIDIA_CAPS_MAJOR, minor, 0o444
                )
    (base / "sys/bus/pci/devices").mkdir(parents=True, exist_ok=True)
    _write_procfs(base / "proc", version, gpus)
    return NvidiaRootInfo(
        driver_root=str(base),
        dev_root=str(devs),
        sysfs_root=str(base / "sys"),
        procfs_root=str(base / "proc"),
        lib_dir=lib_dir,
        version=version,
        bus_ids=bus_ids,
        minors=tuple(range(gpus)),
        drm_nodes=drm_nodes if drm else (),
        libraries=tuple(made),
        binaries=tuple(f"/usr/bin/{b}" for b in BINARIES) if full else (),
        has_device_nodes=IS_ROOT,
        has_ldcache=ldcache,
    )


def _library(directory: Path, name: str, soname: str | None, version: str, arch: str) -> str:
    """Write one library and its soname link; its container path (under the lib dir)."""
    name, soname = (_versioned(text, version) if text else None for text in (name, soname))
    assert name is not None
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_shared_object(soname, arch))
    if soname and soname != path.name:
        symlink(path.parent / soname, path.name)
    return name


def _versioned(text: str, version: str) -> str:
    return text.replace(".so.V", f".so.{version}")


_OBJECTS: dict[tuple[str | None, str], bytes] = {}


def _shared_object(soname: str | None, arch: str) -> bytes:
    key = (soname, arch)
    if key not in _OBJECTS:
        _OBJECTS[key] = shared_object_bytes(soname, arch=arch)
    return _OBJECTS[key]


def _write_procfs(proc: Path, version: str, gpus: int) -> None:
    write_file(
        proc / "driver/nvidia/version",
        f"NVRM version: NVIDIA UNIX x86_64 Kernel Module  {version}  "
        "Tue Sep 23 09:55:41 UTC 2025\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n",
    )
    write_file(
        proc / "driver/nvidia/params",
        "ResmanDebugLevel: 4294967295\nRmLogonRC: 1\nModifyDeviceFiles: 1\n"
        "DeviceFileUID: 0\nDeviceFileGID: 0\nDeviceFileMode: 438\n",
    )
    write_file(proc / "driver/nvidia-caps/mig-minors", mig_minors_text(gpus))
