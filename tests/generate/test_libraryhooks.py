"""The hooks that follow from mounted driver libraries (cdi.generate.libraryhooks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cdi.generate.hooks import ALL, ENABLE_CUDA_COMPAT, UPDATE_LDCACHE, HookMaker, HookSelection
from cdi.generate.libraryhooks import (
    WILDCARD_VERSION,
    cuda_compat_hook,
    driver_library_links,
    is_library_name,
    ldcache_folders,
    update_ldcache_hook,
)
from generate.fixtures import symlink, write_shared_object
from tables import cases

HOOK = "/usr/bin/nvidia-cdi-hook"


@cases("generate/library_links.yaml")
def test_library_link_vectors(case: dict[str, Any]) -> None:
    sonames: dict[str, str] = case.get("sonames", {})
    symlinks = set(case.get("symlinks", []))
    read: list[str] = []

    def soname(path: str) -> str | None:
        read.append(path)
        return sonames.get(path)

    libraries = [(host, container) for host, container in case["libraries"]]
    links = driver_library_links(
        libraries, case["version"], soname=soname, is_symlink=symlinks.__contains__
    )
    assert links == case["links"]
    # The soname is read from the host file, never from the container path.
    assert set(read) <= {host for host, _ in libraries}


@cases("generate/ldcache_folders.yaml")
def test_ldcache_folder_vectors(case: dict[str, Any]) -> None:
    assert ldcache_folders(case["paths"]) == case["folders"]
    for path in case["paths"]:
        assert is_library_name(path) == any(path.startswith(f + "/") for f in case["folders"])


def test_links_from_real_elf_objects_and_symlinks(tmp_path: Path) -> None:
    """The defaults read DT_SONAME from the file and look for real symlinks beside it."""
    root = tmp_path / "root"
    lib = root / "usr/lib/x86_64-linux-gnu"
    write_shared_object(lib / "libcuda.so.580.95.05", soname="libcuda.so.1")
    symlink(lib / "libcuda.so.1", "libcuda.so.580.95.05")
    write_shared_object(lib / "libnvidia-ml.so.580.95.05", soname="libnvidia-ml.so.1")
    symlink(lib / "libnvidia-ml.so.1", "libnvidia-ml.so.580.95.05")
    symlink(lib / "libnvidia-ml.so", "libnvidia-ml.so.1")
    # Named like a library but a regular file: no link is recreated for it.
    write_shared_object(lib / "libnvidia-gpucomp.so.580.95.05", soname="libnvidia-gpucomp.so.1")
    (lib / "libnvidia-gpucomp.so.1").write_bytes(b"")
    # Not an ELF file at all: no soname, no links.
    (lib / "libnvidia-cfg.so.580.95.05").write_bytes(b"not elf")
    symlink(lib / "libnvidia-cfg.so.1", "libnvidia-cfg.so.580.95.05")

    names = (
        "libcuda.so.580.95.05",
        "libnvidia-ml.so.580.95.05",
        "libnvidia-gpucomp.so.580.95.05",
        "libnvidia-cfg.so.580.95.05",
    )
    mounts = [(str(lib / n), f"/usr/lib/x86_64-linux-gnu/{n}") for n in names]
    assert driver_library_links(mounts, "580.95.05") == [
        "libcuda.so.580.95.05::/usr/lib/x86_64-linux-gnu/libcuda.so.1",
        "libcuda.so.1::/usr/lib/x86_64-linux-gnu/libcuda.so",
        "libnvidia-ml.so.580.95.05::/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1",
        "libnvidia-ml.so.1::/usr/lib/x86_64-linux-gnu/libnvidia-ml.so",
    ]


def test_csv_wildcard_constant() -> None:
    assert WILDCARD_VERSION == "*.*"


def test_update_ldcache_arguments() -> None:
    hook = update_ldcache_hook(HookMaker(HOOK), ["/usr/lib64", "/usr/lib64/vdpau", "/usr/lib64"])
    assert hook is not None
    assert hook.hook_name == "createContainer"
    assert hook.path == HOOK
    assert hook.args == (
        "nvidia-cdi-hook",
        "update-ldcache",
        "--folder",
        "/usr/lib64",
        "--folder",
        "/usr/lib64/vdpau",
    )
    assert hook.env == ("NVIDIA_CTK_DEBUG=false",)


def test_update_ldcache_with_ldconfig_path_first() -> None:
    hook = update_ldcache_hook(HookMaker(HOOK), ["/lib"], "/sbin/ldconfig.real")
    assert hook is not None
    assert hook.args[1:] == (
        "update-ldcache",
        "--ldconfig-path",
        "/sbin/ldconfig.real",
        "--folder",
        "/lib",
    )


def test_update_ldcache_left_out_without_folders_or_when_disabled() -> None:
    assert update_ldcache_hook(HookMaker(HOOK), []) is None
    assert update_ldcache_hook(HookMaker(HOOK), [], "/sbin/ldconfig") is None
    off = HookMaker(HOOK, HookSelection.of(disabled=[UPDATE_LDCACHE]))
    assert update_ldcache_hook(off, ["/lib"]) is None


def test_update_ldcache_through_nvidia_ctk() -> None:
    hook = update_ldcache_hook(HookMaker("/usr/bin/nvidia-ctk"), ["/lib"])
    assert hook is not None
    assert hook.args == ("nvidia-ctk", "hook", "update-ldcache", "--folder", "/lib")


def test_cuda_compat_with_driver_version() -> None:
    hook = cuda_compat_hook(HookMaker(HOOK), driver_version="999.88.77")
    assert hook is not None
    assert hook.args == ("nvidia-cdi-hook", "enable-cuda-compat", "--host-driver-version=999.88.77")


def test_cuda_compat_leaves_out_a_glob_version() -> None:
    hook = cuda_compat_hook(HookMaker(HOOK), driver_version="*.*")
    assert hook is not None
    assert hook.args == ("nvidia-cdi-hook", "enable-cuda-compat")


def test_cuda_compat_csv_arguments() -> None:
    hook = cuda_compat_hook(
        HookMaker(HOOK),
        driver_version=WILDCARD_VERSION,
        cuda_version="13.1",
        compat_root="/usr/local/cuda/compat_orin",
    )
    assert hook is not None
    assert hook.args == (
        "nvidia-cdi-hook",
        "enable-cuda-compat",
        "--host-cuda-version=13.1",
        "--cuda-compat-container-root=/usr/local/cuda/compat_orin",
    )


def test_cuda_compat_disabled() -> None:
    assert (
        cuda_compat_hook(HookMaker(HOOK, HookSelection.of(disabled=[ENABLE_CUDA_COMPAT]))) is None
    )
    assert cuda_compat_hook(HookMaker(HOOK, HookSelection.of(disabled=[ALL]))) is None
    enabled = HookSelection.of(disabled=[ALL], enabled=[ENABLE_CUDA_COMPAT])
    assert cuda_compat_hook(HookMaker(HOOK, enabled), driver_version="1.2") is not None
