"""NVML behind one small interface: what the generators ask of it, and the real thing.

The generators see only the :class:`Nvml`, :class:`NvmlDevice` and :class:`NvmlMigDevice`
protocols, so tests drive them with a fake made of plain data. :func:`open_nvml` gives the real
implementation over ``pynvml`` (PyPI ``nvidia-ml-py``), imported only when NVML is first used:
commands on a container's start path never pay for it.

Every failure is an :class:`NvmlError` whose text is the NVML return code's name as go-nvml
prints it (``ERROR_LIBRARY_NOT_FOUND``), so messages read as nvidia-ctk's do.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import posixpath
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any, Protocol, TypeVar

from cdi.generate.errors import GenerateError
from cdi.generate.locate import resolve_in_root

LIBRARY_NAME = "libnvidia-ml.so.1"

#: Where a driver root other than ``/`` keeps NVML, tried in this order (go-nvlib's list).
LIBRARY_DIRS = (
    "/usr/lib64",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib64",
    "/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
)

LIBRARY_NOT_FOUND = "ERROR_LIBRARY_NOT_FOUND"
INVALID_ARGUMENT = "ERROR_INVALID_ARGUMENT"
NOT_FOUND = "ERROR_NOT_FOUND"
NOT_SUPPORTED = "ERROR_NOT_SUPPORTED"
FUNCTION_NOT_FOUND = "ERROR_FUNCTION_NOT_FOUND"

#: NVML's ``NVML_DEVICE_ADDRESSING_MODE_ATS``: the GPU shares the CPU's page tables.
_ADDRESSING_MODE_ATS = 2
#: The GPU instance profiles with graphics engines (go-nvlib's ``gfx`` attribute):
#: ``NVML_GPU_INSTANCE_PROFILE_{1,2,4}_SLICE_GFX``.
_GFX_PROFILES = (0xA, 0xB, 0xC)
_UINT32_MAX = 2**32 - 1

T = TypeVar("T")


class NvmlError(GenerateError):
    """An NVML call failed; ``code`` (and ``str()``) is the return code's go-nvml name."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class NvmlDevice(Protocol):
    """A full GPU. Reading an attribute may call NVML and raise :class:`NvmlError`."""

    @property
    def index(self) -> int: ...
    @property
    def uuid(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def minor_number(self) -> int: ...
    @property
    def pci_bus_id(self) -> str:
        """Lower-case, the 8-digit domain cut to 4 (``0000:07:00.0``)."""
        ...

    def mig_enabled(self) -> bool:
        """MIG mode is on now (a GPU that cannot do MIG is simply not enabled)."""
        ...

    def max_mig_devices(self) -> int: ...
    def mig_device(self, slot: int) -> NvmlMigDevice | None:
        """The MIG device in *slot* (``0 <= slot < max_mig_devices()``), ``None`` if empty."""
        ...

    def addressing_mode_is_ats(self) -> bool: ...


class NvmlMigDevice(Protocol):
    """A MIG device: a compute instance inside a GPU instance of a parent GPU."""

    @property
    def uuid(self) -> str: ...
    @property
    def index(self) -> int:
        """The slot the parent enumerates it under (the ``j`` of ``i:j`` names)."""
        ...

    @property
    def gpu_instance_id(self) -> int: ...
    @property
    def compute_instance_id(self) -> int: ...
    @property
    def parent(self) -> NvmlDevice: ...
    def has_gfx_profile(self) -> bool:
        """The GPU instance profile has graphics engines (so DRM nodes belong to it)."""
        ...


class Nvml(Protocol):
    """The NVML library: :meth:`init` before any other call, :meth:`shutdown` after."""

    def init(self) -> None: ...
    def shutdown(self) -> None: ...
    def driver_version(self) -> str: ...
    def cuda_driver_version(self) -> int:
        """``major * 1000 + minor * 10`` (``13010`` is CUDA 13.1)."""
        ...

    def device_count(self) -> int: ...
    def device_by_index(self, index: int) -> NvmlDevice: ...
    def device_by_uuid(self, uuid: str) -> NvmlDevice: ...
    def mig_device_by_uuid(self, uuid: str) -> NvmlMigDevice: ...


def normalize_pci_bus_id(bus_id: str) -> str:
    """go-nvlib's form of an NVML bus id: lower-case, ``00000000:07:00.0`` as ``0000:07:00.0``."""
    bus_id = bus_id.strip("\0").lower()
    domain, sep, rest = bus_id.partition(":")
    if sep and len(domain) == 8 and domain.startswith("0000"):
        return f"{domain[4:]}:{rest}"
    return bus_id


def nvml_library_candidates(driver_root: str) -> list[str]:
    """The host paths of ``libnvidia-ml.so.1`` in the usual directories of *driver_root*.

    Empty for ``/``: there the dynamic loader's own search finds it. Links are resolved inside
    the root, so an absolute link in a foreign tree cannot load the host's library instead.
    """
    if posixpath.normpath(driver_root) in ("/", "//"):
        return []
    found: list[str] = []
    for directory in LIBRARY_DIRS:
        try:
            path = resolve_in_root(driver_root, posixpath.join(directory, LIBRARY_NAME))
        except OSError:
            continue
        if os.path.isfile(path) and path not in found:
            found.append(path)
    return found


def open_nvml(driver_root: str, library_paths: Sequence[str] = ()) -> Nvml:
    """The real NVML, loaded on :meth:`Nvml.init` from the first existing of
    *library_paths* (host paths, usually :func:`nvml_library_candidates`), else by its plain
    name through the dynamic loader. A path inside *driver_root* is resolved inside it."""
    for candidate in library_paths:
        path = _confined(driver_root, candidate)
        if path is not None and os.path.isfile(path):
            return _RealNvml(path)
    return _RealNvml(LIBRARY_NAME)


def _confined(root: str, path: str) -> str | None:
    """*path* with its links resolved inside *root* when it lies there, else as given."""
    root = posixpath.normpath(root)
    if root in ("/", "//") or not path.startswith(root + "/"):
        return path
    try:
        return resolve_in_root(root, path[len(root) :])
    except OSError:
        return None


def _pynvml() -> Any:
    # Imported on first use, and through importlib: pynvml ships without type information.
    return importlib.import_module("pynvml")


_CODE_NAMES: dict[int, str] = {}


def code_name(value: int) -> str:
    """The go-nvml name of NVML return code *value* (``12`` is ``ERROR_LIBRARY_NOT_FOUND``)."""
    if not _CODE_NAMES:
        for attribute, number in vars(_pynvml()).items():
            if attribute.startswith("NVML_ERROR_") and isinstance(number, int):
                _CODE_NAMES.setdefault(number, attribute.removeprefix("NVML_"))
        _CODE_NAMES[0] = "SUCCESS"
    return _CODE_NAMES.get(value, f"unknown return value: {value}")


def _call(function: Callable[..., T], *args: Any) -> T:
    """*function* (a pynvml call), its NVML failures as :class:`NvmlError`."""
    pynvml = _pynvml()
    try:
        return function(*args)
    except pynvml.NVMLError as exc:
        raise NvmlError(code_name(int(exc.value))) from None


def _text(value: str | bytes) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


class _RealNvml:
    """:class:`Nvml` over pynvml, with the library taken from a path of our choosing."""

    def __init__(self, library_path: str) -> None:
        self.library_path = library_path
        self._library: ctypes.CDLL | None = None

    def _load(self) -> None:
        pynvml = _pynvml()
        if self._library is None:
            try:
                self._library = ctypes.CDLL(self.library_path)
            except OSError:
                # pynvml answers a failed dlopen the same way.
                raise NvmlError(LIBRARY_NOT_FOUND) from None
        if pynvml.nvmlLib is not self._library:
            # pynvml loads "libnvidia-ml.so.1" itself unless its module global is already set,
            # and caches function pointers of whatever library was set before.
            pynvml.nvmlLib = self._library
            cache = getattr(pynvml, "_nvmlGetFunctionPointer_cache", None)
            if isinstance(cache, dict):
                cache.clear()

    def init(self) -> None:
        self._load()
        _call(_pynvml().nvmlInit)

    def shutdown(self) -> None:
        _call(_pynvml().nvmlShutdown)

    def driver_version(self) -> str:
        return _text(_call(_pynvml().nvmlSystemGetDriverVersion))

    def cuda_driver_version(self) -> int:
        return int(_call(_pynvml().nvmlSystemGetCudaDriverVersion))

    def device_count(self) -> int:
        return int(_call(_pynvml().nvmlDeviceGetCount))

    def device_by_index(self, index: int) -> NvmlDevice:
        # ctypes would wrap a larger index into range and silently pick another GPU.
        if not 0 <= index <= _UINT32_MAX:
            raise NvmlError(INVALID_ARGUMENT)
        return _RealDevice(_call(_pynvml().nvmlDeviceGetHandleByIndex, index))

    def device_by_uuid(self, uuid: str) -> NvmlDevice:
        return _RealDevice(_call(_pynvml().nvmlDeviceGetHandleByUUID, uuid))

    def mig_device_by_uuid(self, uuid: str) -> NvmlMigDevice:
        pynvml = _pynvml()
        handle = _call(pynvml.nvmlDeviceGetHandleByUUID, uuid)
        if not _call(pynvml.nvmlDeviceIsMigDeviceHandle, handle):
            raise NvmlError(INVALID_ARGUMENT)
        return _RealMigDevice(handle)


class _RealDevice:
    """:class:`NvmlDevice` over a pynvml handle; attributes are read once."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    @cached_property
    def index(self) -> int:
        return int(_call(_pynvml().nvmlDeviceGetIndex, self.handle))

    @cached_property
    def uuid(self) -> str:
        return _text(_call(_pynvml().nvmlDeviceGetUUID, self.handle))

    @cached_property
    def name(self) -> str:
        return _text(_call(_pynvml().nvmlDeviceGetName, self.handle))

    @cached_property
    def minor_number(self) -> int:
        return int(_call(_pynvml().nvmlDeviceGetMinorNumber, self.handle))

    @cached_property
    def pci_bus_id(self) -> str:
        info = _call(_pynvml().nvmlDeviceGetPciInfo, self.handle)
        return normalize_pci_bus_id(_text(info.busId))

    def mig_enabled(self) -> bool:
        pynvml = _pynvml()
        try:
            current, _pending = _call(pynvml.nvmlDeviceGetMigMode, self.handle)
        except NvmlError as exc:
            if exc.code == NOT_SUPPORTED:
                return False
            raise
        return bool(current == pynvml.NVML_DEVICE_MIG_ENABLE)

    def max_mig_devices(self) -> int:
        return int(_call(_pynvml().nvmlDeviceGetMaxMigDeviceCount, self.handle))

    def mig_device(self, slot: int) -> NvmlMigDevice | None:
        if not 0 <= slot <= _UINT32_MAX:
            return None
        try:
            handle = _call(_pynvml().nvmlDeviceGetMigDeviceHandleByIndex, self.handle, slot)
        except NvmlError as exc:
            if exc.code in (NOT_FOUND, INVALID_ARGUMENT):
                return None
            raise
        return _RealMigDevice(handle, parent=self, index=slot)

    def addressing_mode_is_ats(self) -> bool:
        try:
            mode = _call(_pynvml().nvmlDeviceGetAddressingMode, self.handle)
        except NvmlError as exc:
            # Older GPUs and drivers have no addressing mode to report: not ATS.
            if exc.code in (NOT_SUPPORTED, FUNCTION_NOT_FOUND):
                return False
            raise
        return int(mode) == _ADDRESSING_MODE_ATS


class _RealMigDevice:
    """:class:`NvmlMigDevice` over a pynvml MIG handle."""

    def __init__(
        self, handle: Any, *, parent: _RealDevice | None = None, index: int | None = None
    ) -> None:
        self.handle = handle
        self._parent = parent
        self._index = index

    @cached_property
    def uuid(self) -> str:
        return _text(_call(_pynvml().nvmlDeviceGetUUID, self.handle))

    @cached_property
    def gpu_instance_id(self) -> int:
        return int(_call(_pynvml().nvmlDeviceGetGpuInstanceId, self.handle))

    @cached_property
    def compute_instance_id(self) -> int:
        return int(_call(_pynvml().nvmlDeviceGetComputeInstanceId, self.handle))

    @property
    def parent(self) -> NvmlDevice:
        return self._real_parent

    @cached_property
    def _real_parent(self) -> _RealDevice:
        if self._parent is not None:
            return self._parent
        pynvml = _pynvml()
        return _RealDevice(_call(pynvml.nvmlDeviceGetDeviceHandleFromMigDeviceHandle, self.handle))

    @cached_property
    def index(self) -> int:
        if self._index is not None:
            return self._index
        # NVML has no call for it: find the slot under the parent that holds this UUID.
        parent = self._real_parent
        for slot in range(parent.max_mig_devices()):
            candidate = parent.mig_device(slot)
            if candidate is not None and candidate.uuid == self.uuid:
                return slot
        raise NvmlError(NOT_FOUND)

    def has_gfx_profile(self) -> bool:
        pynvml = _pynvml()
        parent = self._real_parent.handle
        instance = _call(pynvml.nvmlDeviceGetGpuInstanceById, parent, self.gpu_instance_id)
        profile_id = _call(pynvml.nvmlGpuInstanceGetInfo, instance).profileId
        for profile in _GFX_PROFILES:
            try:
                info = _call(pynvml.nvmlDeviceGetGpuInstanceProfileInfo, parent, profile)
            except NvmlError as exc:
                # A GPU without that profile: it cannot be this instance's.
                if exc.code in (NOT_SUPPORTED, INVALID_ARGUMENT, NOT_FOUND):
                    continue
                raise
            if info.id == profile_id:
                return True
        return False
