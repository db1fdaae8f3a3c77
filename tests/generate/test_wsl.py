"""WSL mode over a fake WSL tree: a driver store, ``libdxcore.so`` and ``/dev/dxg``
(cdi.generate.wsl). The dxcore calls are exercised against a small fake ``libdxcore.so``
compiled from C where a compiler is available."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cdi.generate import wsl
from cdi.generate.hooks import ALL, HookMaker, HookSelection
from cdi.generate.options import Options
from cdi.spec.encode import edits_to_plain
from generate.fixtures import make_char_device, requires_root, symlink, write_file
from generate.fixtures import write_shared_object as write_so
from generate.wire import fill_root

HOOK = "/usr/bin/nvidia-cdi-hook"
RO = ["ro", "nosuid", "nodev", "rbind", "rprivate"]
STORE = "/usr/lib/wsl/drivers/nv_dispi.inf_amd64_7e4d2c3b1a0f9e8d"
INTEL_STORE = "/usr/lib/wsl/drivers/iigd_dch.inf_amd64_0123456789abcdef"
MISC_MAJOR, DXG_MINOR = 10, 63


def hook(*args: str) -> dict[str, Any]:
    return {
        "hookName": "createContainer",
        "path": HOOK,
        "args": ["nvidia-cdi-hook", *args],
        "env": ["NVIDIA_CTK_DEBUG=false"],
    }


def wsl_root(root: Path, *, dxg: bool = True, dxcore: bool = True) -> Path:
    """A WSL2 tree: NVIDIA's and Intel's driver stores, the WSL library folder, ``/dev/dxg``."""
    store = root / STORE.lstrip("/")
    for name in ("libcuda.so.1.1", "libcuda_loader.so", "libnvidia-ptxjitcompiler.so.1"):
        write_so(store / name)
    for name in ("libnvidia-ml.so.1", "libnvidia-ml_loader.so", "libnvdxgdmal.so.1"):
        write_so(store / name)
    write_so(store / "libnvwgf2umx.so")
    write_file(store / "nvcubins.bin", b"\0cubins")
    write_file(store / "nvoptix.bin", b"\0optix")
    write_file(store / "nvidia-smi", b"\x7fELF", mode=0o755)
    write_file(store / "nvapi64.dll", b"MZ")
    write_file(store / "nvdxdlkernels.dll", b"MZ")
    write_file(store / "nv_dispi.inf", "[Version]\n")
    (store / "subdir.so").mkdir()
    write_so(root / INTEL_STORE.lstrip("/") / "libigd12umd64.so")
    if dxcore:
        # Not loadable: dxcore is only called in the tests that build a fake one.
        write_file(root / "usr/lib/wsl/lib/libdxcore.so", b"not an ELF object")
    write_so(root / "usr/lib/wsl/lib/libd3d12.so")
    if dxg:
        make_char_device(root / "dev/dxg", MISC_MAJOR, DXG_MINOR)
    return root


def options_for(root: Path, **changes: Any) -> Options:
    return Options(mode="wsl", driver_root=str(root), **changes)


def ro(path: str) -> dict[str, Any]:
    return {"hostPath": "{root}" + path, "containerPath": path, "options": RO}


EXPECTED_COMMON = {
    "hooks": [
        hook("create-symlinks", "--link", f"{STORE}/nvidia-smi::/usr/bin/nvidia-smi"),
        hook("update-ldcache", "--folder", STORE, "--folder", "/usr/lib/wsl/lib"),
    ],
    "mounts": [
        ro(f"{STORE}/libcuda.so.1.1"),
        ro(f"{STORE}/libcuda_loader.so"),
        ro(f"{STORE}/libnvidia-ptxjitcompiler.so.1"),
        ro(f"{STORE}/libnvidia-ml.so.1"),
        ro(f"{STORE}/libnvidia-ml_loader.so"),
        ro(f"{STORE}/libnvdxgdmal.so.1"),
        ro(f"{STORE}/nvcubins.bin"),
        ro(f"{STORE}/nvidia-smi"),
        ro("/usr/lib/wsl/lib/libdxcore.so"),
        ro(f"{STORE}/libnvwgf2umx.so"),
        ro(f"{STORE}/nvoptix.bin"),
        ro(f"{STORE}/nvapi64.dll"),
        ro(f"{STORE}/nvdxdlkernels.dll"),
    ],
}


@requires_root
def test_wsl_spec(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = wsl_root(tmp_path / "root")
    found = wsl.discover_wsl(options_for(root), hooks=HookMaker(HOOK), stores=[INTEL_STORE, STORE])
    assert [d.name for d in found.devices] == ["all"]
    assert edits_to_plain(found.devices[0].container_edits) == {
        "deviceNodes": [
            {
                "path": "/dev/dxg",
                "hostPath": f"{root}/dev/dxg",
                "major": MISC_MAJOR,
                "minor": DXG_MINOR,
                "fileMode": 0o666,
                "permissions": "rwm",
            }
        ]
    }
    assert edits_to_plain(found.common) == fill_root(EXPECTED_COMMON, root)
    assert "Found multiple driver store paths" in caplog.text


@requires_root
def test_wsl_store_found_by_scanning_without_dxcore(tmp_path: Path) -> None:
    root = wsl_root(tmp_path / "root", dxcore=False)
    assert not wsl.has_dxcore(str(root))
    assert wsl.find_driver_stores(str(root)) == [STORE]
    found = wsl.discover_wsl(options_for(root), hooks=HookMaker(HOOK))
    expected = fill_root(EXPECTED_COMMON, root)
    expected["mounts"].remove(fill_root(ro("/usr/lib/wsl/lib/libdxcore.so"), root))
    # Without a dxcore mount its folder is not in the linker cache either.
    expected["hooks"][1] = hook("update-ldcache", "--folder", STORE)
    assert edits_to_plain(found.common) == expected


def test_has_dxcore_looks_inside_the_root_only(tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert not wsl.has_dxcore(str(root))
    outside = write_so(tmp_path / "host/libdxcore.so")
    link = symlink(root / "usr/lib/wsl/lib/libdxcore.so", str(outside))
    assert not wsl.has_dxcore(str(root))
    link.unlink()
    write_so(root / "usr/lib/wsl/lib/libdxcore.so.1")
    symlink(link, "/usr/lib/wsl/lib/libdxcore.so.1")
    assert wsl.has_dxcore(str(root))
    assert wsl.dxcore_path(str(root)) == str(root / "usr/lib/wsl/lib/libdxcore.so.1")


def test_dxcore_that_does_not_load_falls_back_to_scanning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = wsl_root(tmp_path / "root", dxg=False)
    assert wsl.find_driver_stores(str(root)) == [STORE]
    assert "looking for driver stores in /usr/lib/wsl/drivers" in caplog.text


def test_missing_dxg_is_an_error(tmp_path: Path) -> None:
    root = wsl_root(tmp_path / "root", dxg=False)
    write_file(root / "dev/dxg")  # a plain file is no device
    with pytest.raises(wsl.WSLError) as caught:
        wsl.discover_wsl(options_for(root), hooks=HookMaker(HOOK), stores=[STORE])
    assert str(caught.value) == (
        "failed to create container edits for DXG device: "
        f"no character device /dev/dxg under {root}"
    )


def test_driver_store_errors(tmp_path: Path) -> None:
    root = wsl_root(tmp_path / "root", dxg=False)
    with pytest.raises(wsl.WSLError, match=r"^no driver store paths found$"):
        wsl.nvidia_driver_store(str(root), [])
    with pytest.raises(wsl.WSLError) as caught:
        wsl.nvidia_driver_store(str(root), [INTEL_STORE, "/usr/lib/wsl/drivers/gone"])
    assert str(caught.value) == (
        f"no NVIDIA driver store found: none of ['{INTEL_STORE}', '/usr/lib/wsl/drivers/gone']"
        " has libcuda.so.1.1"
    )
    assert wsl.nvidia_driver_store(str(root), [STORE, INTEL_STORE, STORE]) == STORE


@requires_root
def test_missing_required_files_are_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = wsl_root(tmp_path / "root")
    (root / STORE.lstrip("/") / "nvidia-smi").unlink()
    (root / STORE.lstrip("/") / "libnvdxgdmal.so.1").unlink()
    found = wsl.discover_wsl(options_for(root), hooks=HookMaker(HOOK), stores=[STORE])
    paths = [m.container_path for m in found.common.mounts]
    assert f"{STORE}/nvidia-smi" not in paths
    assert f"{STORE}/libnvdxgdmal.so.1" not in paths
    assert [h.args[1] for h in found.common.hooks] == ["update-ldcache"]
    assert f"Could not locate libnvdxgdmal.so.1 in {STORE}" in caplog.text
    assert "Failed to find nvidia-smi" in caplog.text


@requires_root
def test_store_links_do_not_leave_the_root(tmp_path: Path) -> None:
    root = wsl_root(tmp_path / "root")
    secret = write_so(tmp_path / "host/libsecret.so")
    symlink(root / STORE.lstrip("/") / "libsecret.so", str(secret))
    symlink(root / STORE.lstrip("/") / "libup.so", "../../../../../../host/libsecret.so")
    found = wsl.discover_wsl(options_for(root), hooks=HookMaker(HOOK), stores=[STORE])
    for mount in found.common.mounts:
        assert mount.host_path.startswith(f"{root}/")
    assert not any("libsecret" in m.host_path for m in found.common.mounts)


@requires_root
def test_no_device_ids_and_disabled_hooks(tmp_path: Path) -> None:
    root = wsl_root(tmp_path / "root")
    options = options_for(root, device_ids=(), ldconfig_path="/sbin/ldconfig")
    found = wsl.discover_wsl(options, hooks=HookMaker(HOOK), stores=[STORE])
    assert found.devices == ()
    assert found.common.hooks[1].args[1:4] == (
        "update-ldcache",
        "--ldconfig-path",
        "/sbin/ldconfig",
    )
    off = HookMaker(HOOK, HookSelection.of(disabled=[ALL]))
    found = wsl.discover_wsl(options, hooks=off, stores=[STORE])
    assert found.common.hooks == ()


# --- dxcore through ctypes -------------------------------------------------------------------


def test_structure_layouts_match_d3dkmthk() -> None:
    sizes = {
        wsl._AdapterInfo: 20,
        wsl._EnumAdapters2: 16,
        wsl._EnumAdapters3: 24,
        wsl._QueryAdapterInfo: 24,
        wsl._QueryRegistryInfo: 552,
    }
    assert {cls: ctypes.sizeof(cls) for cls in sizes} == sizes
    assert wsl._QueryRegistryInfo.output_size.offset == 536
    assert wsl._QueryRegistryInfo.output.offset == 544


FAKE_DXCORE = r"""
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct { uint32_t low; int32_t high; } LUID;
typedef struct { uint32_t handle; LUID luid; uint32_t sources; int32_t precise; } ADAPTERINFO;
typedef struct { uint32_t count; ADAPTERINFO *adapters; } ENUM2;
typedef struct { uint64_t filter; uint32_t count; ADAPTERINFO *adapters; } ENUM3;
typedef struct { uint32_t handle; int32_t type; void *data; uint32_t size; } QUERY;
typedef struct {
    int32_t query_type; uint32_t flags; uint16_t value_name[260]; uint32_t value_type;
    uint32_t physical_adapter_index; uint32_t output_size; int32_t status;
    union { uint32_t dword; uint64_t qword; uint16_t string[1]; } output;
} REGISTRY;

int fake_closed = 0;
uint64_t fake_filter = 0;
static const uint32_t handles[] = {7, 9, 11};

static int fill(uint32_t *count, ADAPTERINFO *adapters) {
    if (adapters == NULL || *count < 3) { *count = 3; return adapters ? (int32_t)0xC0000023 : 0; }
    for (int i = 0; i < 3; i++) adapters[i].handle = handles[i];
    *count = 3;
    return 0;
}
#ifdef WITH_ENUM3
int D3DKMTEnumAdapters3(ENUM3 *args) {
    fake_filter = args->filter;
    return fill(&args->count, args->adapters);
}
#endif
int D3DKMTEnumAdapters2(ENUM2 *args) { return fill(&args->count, args->adapters); }
int D3DKMTCloseAdapter(uint32_t *handle) { (void)handle; fake_closed++; return 0; }

int D3DKMTQueryAdapterInfo(QUERY *query) {
    if (query->type == 13) {
        int32_t version = query->handle == 7 ? 2600 : 3100;
        if (query->size < 4) return -1;
        memcpy(query->data, &version, 4);
        return 0;
    }
    if (query->type != 48 || query->size < sizeof(REGISTRY)) return -1;
    REGISTRY *info = query->data;
    if (info->query_type != 2 || !(info->flags & 1)) return -1;
    const char *path = query->handle == 9
        ? "/usr/lib/wsl/drivers/nv_dispi.inf_amd64_7e4d2c3b1a0f9e8d"
        : "\\\\?\\C:\\Windows\\System32\\DriverStore\\FileRepository\\"
          "iigd_dch.inf_amd64_0123456789abcdef";
    uint32_t need = (uint32_t)(strlen(path) + 1) * 2;
    if (query->size - offsetof(REGISTRY, output) < need) {
        info->status = 1;
        info->output_size = need;
        return 0;
    }
    for (size_t i = 0; i <= strlen(path); i++) info->output.string[i] = (uint16_t)path[i];
    info->output_size = need;
    info->status = 0;
    return 0;
}
"""


@pytest.mark.parametrize("enum3", [False, True], ids=["EnumAdapters2", "EnumAdapters3"])
def test_driver_stores_from_dxcore(tmp_path: Path, enum3: bool) -> None:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build the fake libdxcore.so")
    source = write_file(tmp_path / "dxcore.c", FAKE_DXCORE)
    root = tmp_path / "root"
    library = root / "usr/lib/wsl/lib/libdxcore.so"
    library.parent.mkdir(parents=True)
    flags = ["-DWITH_ENUM3"] if enum3 else []
    subprocess.run(
        [compiler, "-shared", "-fPIC", *flags, "-o", str(library), str(source)], check=True
    )
    assert wsl.has_dxcore(str(root))
    # Adapter 7 has WDDM 2.6 and is skipped; 11 answers with an untranslated Windows path.
    assert wsl.find_driver_stores(str(root)) == [STORE, INTEL_STORE]
    loaded = ctypes.CDLL(str(library))
    assert ctypes.c_int.in_dll(loaded, "fake_closed").value == 3
    if enum3:
        assert ctypes.c_uint64.in_dll(loaded, "fake_filter").value == 1  # compute-only too


def test_dxcore_that_cannot_load_raises(tmp_path: Path) -> None:
    with pytest.raises(wsl.DxcoreError, match=r"^failed to initialize dxcore: "):
        wsl.dxcore_driver_stores(str(tmp_path / "missing.so"))
