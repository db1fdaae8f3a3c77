"""``wsl`` mode: GPUs of Windows hosts seen from WSL2 (reference §3).

WSL exposes every GPU through one paravirtual node, ``/dev/dxg``, and the Windows driver
package through a *driver store* folder under ``/usr/lib/wsl/drivers``. The spec has one
device, ``all``, with ``/dev/dxg``; the common edits mount the NVIDIA store's libraries and
tools, ``libdxcore.so`` from ``/usr/lib/wsl/lib``, and add hooks that put ``nvidia-smi`` on
``$PATH`` and the two folders in the linker cache.

The stores are listed by Microsoft's ``libdxcore.so`` (loaded with ctypes from the driver
root), as nvidia-ctk does. Where it cannot be loaded (a tree copied off a WSL host, tests) the
stores are found by their contents instead: every ``/usr/lib/wsl/drivers/*`` folder holding
``libcuda.so.1.1``. That fallback is ours, not nvidia-ctk's.
"""

from __future__ import annotations

import ctypes
import logging
import os
import posixpath
from collections.abc import Sequence

from cdi.generate import devicenode, edits, libraryhooks, locate
from cdi.generate.errors import GenerateError
from cdi.generate.hooks import HookMaker
from cdi.generate.options import NO_ADDITIONAL_GIDS_FOR_DEVICE_NODES, Options
from cdi.spec.model import ContainerEdits, Device, Hook, Mount

_log = logging.getLogger(__name__)

DXG = "/dev/dxg"
WSL_LIBRARY_DIR = "/usr/lib/wsl/lib"
DRIVER_STORES_DIR = "/usr/lib/wsl/drivers"
DXCORE = "libdxcore.so"
#: The file that marks NVIDIA's store among the stores of all GPU vendors.
NVIDIA_STORE_MARKER = "libcuda.so.1.1"
#: Files of the NVIDIA store every CUDA container needs, each looked up once.
REQUIRED_STORE_FILES = (
    "libcuda.so.1.1",
    "libcuda_loader.so",
    "libnvidia-ptxjitcompiler.so.1",
    "libnvidia-ml.so.1",
    "libnvidia-ml_loader.so",
    "libnvdxgdmal.so.1",
    "nvcubins.bin",
    "nvidia-smi",
)
#: Everything else of the store that a container may load.
OTHER_STORE_PATTERNS = ("*.so*", "*.bin", "*.dll")
NVIDIA_SMI_LINK = "/usr/bin/nvidia-smi"


class WSLError(GenerateError):
    """A WSL spec cannot be generated: no driver store, or no ``/dev/dxg``."""


class DxcoreError(GenerateError):
    """``libdxcore.so`` cannot be loaded or does not answer."""


def dxcore_path(driver_root: str) -> str | None:
    """The host path of ``libdxcore.so`` in the driver root's WSL library folder, or ``None``."""
    try:
        path = locate.resolve_in_root(driver_root, posixpath.join(WSL_LIBRARY_DIR, DXCORE))
    except OSError:
        return None
    return path if os.path.isfile(path) else None


def has_dxcore(driver_root: str) -> bool:
    """Whether the driver root is a WSL system (it has ``libdxcore.so``).

    nvidia-ctk asks whether ``dlopen("libdxcore.so")`` succeeds; we look for the file in
    the root being described, which gives the same answer on a WSL host without loading
    foreign code merely to choose a mode.
    """
    return dxcore_path(driver_root) is not None


# --- dxcore (ctypes) ----------------------------------------------------------------------
# The structures of Windows' d3dkmthk.h as WSL's dxcore takes them: 32-bit handles, UTF-16
# strings. Untested against a real WSL host here; any failure falls back to the folder scan.

_KMTQAITYPE_DRIVERVERSION = 13
_KMTQAITYPE_QUERYREGISTRY = 48
_QUERYREGISTRY_DRIVERSTOREPATH = 2
_QUERYREGISTRY_STATUS_SUCCESS = 0
_QUERYREGISTRY_STATUS_BUFFER_OVERFLOW = 1
_QUERYREGISTRY_TRANSLATE_PATH = 1
_WDDM_2_7 = 2700
_ENUM_INCLUDE_COMPUTE_ONLY = 1
_MAX_PATH = 260
_MAX_ADAPTERS = 64


class _Luid(ctypes.Structure):
    _fields_ = (("low_part", ctypes.c_uint32), ("high_part", ctypes.c_int32))


class _AdapterInfo(ctypes.Structure):
    _fields_ = (
        ("adapter", ctypes.c_uint32),
        ("luid", _Luid),
        ("sources", ctypes.c_uint32),
        ("precise_present_regions", ctypes.c_int32),
    )


class _EnumAdapters2(ctypes.Structure):
    _fields_ = (("count", ctypes.c_uint32), ("adapters", ctypes.POINTER(_AdapterInfo)))


class _EnumAdapters3(ctypes.Structure):
    _fields_ = (
        ("filter", ctypes.c_uint64),
        ("count", ctypes.c_uint32),
        ("adapters", ctypes.POINTER(_AdapterInfo)),
    )


class _QueryAdapterInfo(ctypes.Structure):
    _fields_ = (
        ("adapter", ctypes.c_uint32),
        ("type", ctypes.c_int32),
        ("data", ctypes.c_void_p),
        ("size", ctypes.c_uint32),
    )


class _CloseAdapter(ctypes.Structure):
    _fields_ = (("adapter", ctypes.c_uint32),)


class _QueryRegistryInfo(ctypes.Structure):
    _fields_ = (
        ("query_type", ctypes.c_int32),
        ("flags", ctypes.c_uint32),
        ("value_name", ctypes.c_uint16 * _MAX_PATH),
        ("value_type", ctypes.c_uint32),
        ("physical_adapter_index", ctypes.c_uint32),
        ("output_size", ctypes.c_uint32),
        ("status", ctypes.c_int32),
        ("output", ctypes.c_uint64),  # a union; the string starts here
    )


def _filled(info: _QueryRegistryInfo, size: int) -> ctypes.Array[ctypes.c_char]:
    """A zeroed buffer of *size* bytes that starts with *info*."""
    buffer = ctypes.create_string_buffer(size)
    ctypes.memmove(buffer, ctypes.byref(info), ctypes.sizeof(info))
    return buffer


def _status(value: int) -> str:
    return f"{value & 0xFFFFFFFF:#010x}"  # NTSTATUS as Windows prints it


def _query(
    library: ctypes.CDLL, adapter: int, kind: int, buffer: ctypes.Array[ctypes.c_char]
) -> None:
    args = _QueryAdapterInfo(adapter, kind, ctypes.cast(buffer, ctypes.c_void_p), len(buffer))
    status = library.D3DKMTQueryAdapterInfo(ctypes.byref(args))
    if status != 0:
        raise DxcoreError(f"D3DKMTQueryAdapterInfo failed: {_status(status)}")


def _wddm_version(library: ctypes.CDLL, adapter: int) -> int:
    buffer = ctypes.create_string_buffer(4)
    _query(library, adapter, _KMTQAITYPE_DRIVERVERSION, buffer)
    return int.from_bytes(buffer.raw, "little", signed=True)


def _store_path(library: ctypes.CDLL, adapter: int) -> str:
    """The adapter's driver store, as the Linux path WSL translates it to."""
    header = ctypes.sizeof(_QueryRegistryInfo)
    info = _QueryRegistryInfo(_QUERYREGISTRY_DRIVERSTOREPATH, _QUERYREGISTRY_TRANSLATE_PATH)
    buffer = _filled(info, header)
    _query(library, adapter, _KMTQAITYPE_QUERYREGISTRY, buffer)
    answer = _QueryRegistryInfo.from_buffer_copy(buffer.raw)
    if answer.status == _QUERYREGISTRY_STATUS_BUFFER_OVERFLOW:
        # The first call only tells the size of the path.
        if not 0 < answer.output_size <= 1 << 16:
            raise DxcoreError(f"implausible driver store path size {answer.output_size}")
        info.output_size = answer.output_size
        buffer = _filled(info, header + answer.output_size)
        _query(library, adapter, _KMTQAITYPE_QUERYREGISTRY, buffer)
        answer = _QueryRegistryInfo.from_buffer_copy(buffer.raw)
    if answer.status != _QUERYREGISTRY_STATUS_SUCCESS:
        raise DxcoreError(f"driver store path query failed: status {answer.status}")
    offset = _QueryRegistryInfo.output.offset
    raw = buffer.raw[offset : offset + answer.output_size]
    path = raw.decode("utf-16-le", "replace").split("\0", 1)[0]
    if not path.startswith("/"):
        # An untranslated Windows path: WSL mounts each store under its folder name.
        path = posixpath.join(DRIVER_STORES_DIR, path.replace("\\", "/").rsplit("/", 1)[-1])
    return path


def _adapters(library: ctypes.CDLL) -> list[int]:
    """The handles of the adapters dxcore opens (compute-only ones included where it can)."""
    adapters = (_AdapterInfo * _MAX_ADAPTERS)()
    pointer = ctypes.cast(adapters, ctypes.POINTER(_AdapterInfo))
    enum3 = getattr(library, "D3DKMTEnumAdapters3", None)
    if enum3 is not None:
        args3 = _EnumAdapters3(_ENUM_INCLUDE_COMPUTE_ONLY, _MAX_ADAPTERS, pointer)
        status, count = enum3(ctypes.byref(args3)), args3.count
    else:
        args2 = _EnumAdapters2(_MAX_ADAPTERS, pointer)
        status, count = library.D3DKMTEnumAdapters2(ctypes.byref(args2)), args2.count
    if status != 0:
        raise DxcoreError(f"D3DKMTEnumAdapters failed: {_status(status)}")
    return [adapters[i].adapter for i in range(min(count, _MAX_ADAPTERS))]


def dxcore_driver_stores(library_path: str) -> list[str]:
    """The driver stores of the adapters with WDDM 2.7 or later, in dxcore's order."""
    try:
        library = ctypes.CDLL(library_path)
        handles = _adapters(library)
    except (OSError, AttributeError) as err:
        raise DxcoreError(f"failed to initialize dxcore: {err}") from None
    stores: list[str] = []
    for handle in handles:
        try:
            if _wddm_version(library, handle) < _WDDM_2_7:
                _log.warning("Skipping adapter %d: WDDM 2.7 or later is required", handle)
                continue
            stores.append(_store_path(library, handle))
        except (DxcoreError, AttributeError) as err:
            _log.warning("Skipping adapter %d: %s", handle, err)
        finally:
            close = getattr(library, "D3DKMTCloseAdapter", None)
            if close is not None:
                close(ctypes.byref(_CloseAdapter(handle)))
    return stores


def scanned_driver_stores(driver_root: str) -> list[str]:
    """Our fallback: the store folders holding ``libcuda.so.1.1``, sorted by name."""
    marker = posixpath.join(DRIVER_STORES_DIR, "*", NVIDIA_STORE_MARKER)
    hits = locate.FileLocator(driver_root).locate(marker)
    return [posixpath.dirname(locate.container_path(driver_root, hit)) for hit in hits]


def find_driver_stores(driver_root: str) -> list[str]:
    """The driver stores (paths in the container's view), from dxcore if it loads."""
    library = dxcore_path(driver_root)
    if library is not None:
        try:
            return dxcore_driver_stores(library)
        except DxcoreError as err:
            _log.warning("%s; looking for driver stores in %s", err, DRIVER_STORES_DIR)
    return scanned_driver_stores(driver_root)


def nvidia_driver_store(driver_root: str, stores: Sequence[str]) -> str:
    """The first store holding ``libcuda.so.1.1`` (several GPUs' vendors may have one)."""
    unique = list(dict.fromkeys(stores))
    if not unique:
        raise WSLError("no driver store paths found")
    if len(unique) > 1:
        _log.warning("Found multiple driver store paths: %s", unique)
    for store in unique:
        if locate.FileLocator(driver_root, (store,)).locate(NVIDIA_STORE_MARKER):
            _log.info("Using WSL driver store path: %s", store)
            return store
    raise WSLError(f"no NVIDIA driver store found: none of {unique} has {NVIDIA_STORE_MARKER}")


# --- edits ----------------------------------------------------------------------------------


def _mount_paths(options: Options, store: str) -> list[str]:
    """Host paths to mount: the required store files, ``libdxcore.so``, the rest of the store."""
    root = options.driver_root
    in_store = locate.FileLocator(root, (store,), count=1)
    found: dict[str, None] = {}
    for name in REQUIRED_STORE_FILES:
        hits = in_store.locate(name)
        if not hits:
            _log.warning("Could not locate %s in %s", name, store)
        found.update(dict.fromkeys(hits))
    dxcore = locate.FileLocator(root, (WSL_LIBRARY_DIR,), count=1).locate(DXCORE)
    if not dxcore:
        _log.warning("Could not locate %s in %s", DXCORE, WSL_LIBRARY_DIR)
    found.update(dict.fromkeys(dxcore))
    everything = locate.FileLocator(root, (store,))
    for pattern in OTHER_STORE_PATTERNS:
        found.update(dict.fromkeys(everything.locate(pattern)))
    return list(found)


def _nvidia_smi_hook(mounts: Sequence[Mount], hooks: HookMaker) -> Hook | None:
    """A link that puts the store's ``nvidia-smi`` on ``$PATH``."""
    target = next(
        (m.container_path for m in mounts if m.container_path.endswith("/nvidia-smi")), ""
    )
    if not target:
        _log.warning("Failed to find nvidia-smi in the driver store mounts")
        return None
    if target == NVIDIA_SMI_LINK:
        return None
    return hooks.create_symlinks([f"{target}::{NVIDIA_SMI_LINK}"])


def wsl_common_edits(options: Options, store: str, hooks: HookMaker) -> ContainerEdits:
    """The store and dxcore mounts, the ``nvidia-smi`` link and the linker cache folders."""
    root = options.driver_root
    mounts = [edits.mount(p, locate.container_path(root, p)) for p in _mount_paths(options, store)]
    folders = libraryhooks.ldcache_folders([m.container_path for m in mounts])
    hook_list = [
        _nvidia_smi_hook(mounts, hooks),
        libraryhooks.update_ldcache_hook(hooks, folders, options.ldconfig_path),
    ]
    return ContainerEdits(hooks=tuple(h for h in hook_list if h), mounts=tuple(mounts))


def dxg_edits(options: Options) -> ContainerEdits:
    """``/dev/dxg`` from the dev root; WSL containers reach every GPU through it."""
    hits = locate.char_device_locator(options.device_root).locate(DXG)
    if not hits:
        raise WSLError(
            f"failed to create container edits for DXG device: "
            f"no character device {DXG} under {options.device_root}"
        )
    gids = not options.has(NO_ADDITIONAL_GIDS_FOR_DEVICE_NODES)
    return devicenode.node_edits(DXG, hits[0], additional_gids=gids)


def discover_wsl(
    options: Options, *, hooks: HookMaker, stores: Sequence[str] | None = None
) -> edits.Discovered:
    """The WSL spec's device ``all`` and common edits. *stores* replaces dxcore's list of
    driver stores (container-view paths); ``None`` asks dxcore, or scans the folder.
    WSL has no per-GPU devices: naming strategies and device ids other than ``none`` (an
    empty *options.device_ids*) do not apply."""
    found_stores = find_driver_stores(options.driver_root) if stores is None else stores
    store = nvidia_driver_store(options.driver_root, found_stores)
    devices = (Device("all", container_edits=dxg_edits(options)),) if options.device_ids else ()
    return edits.Discovered(devices, wsl_common_edits(options, store, hooks))
