"""NVML behind its interface (cdi.generate.nvml), and the fake the other tests use.

No GPU here: the real loader is tested on roots without NVML, on files that are not NVML, and
with pynvml's functions replaced, so every path of the real classes runs.
"""

from __future__ import annotations

import _ctypes
import ctypes
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pynvml
import pytest

from cdi.errors import CDIError
from cdi.generate.nvml import (
    LIBRARY_DIRS,
    Nvml,
    NvmlError,
    code_name,
    normalize_pci_bus_id,
    nvml_library_candidates,
    open_nvml,
)
from generate.fakenvml import FakeNvml, gpu_uuid, mig_uuid
from generate.fixtures import bus_id


def _system_nvml_loads() -> bool:
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return False
    return True


@pytest.fixture
def pynvml_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """pynvml's module globals, restored after the test."""
    monkeypatch.setattr(pynvml, "nvmlLib", None)
    monkeypatch.setattr(pynvml, "_nvmlGetFunctionPointer_cache", {})
    yield


def _raiser(code: int) -> Callable[..., Any]:
    def fail(*_args: Any) -> Any:
        raise pynvml.NVMLError(code)

    return fail


# -- error codes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (0, "SUCCESS"),
        (pynvml.NVML_ERROR_UNINITIALIZED, "ERROR_UNINITIALIZED"),
        (pynvml.NVML_ERROR_INVALID_ARGUMENT, "ERROR_INVALID_ARGUMENT"),
        (pynvml.NVML_ERROR_NOT_SUPPORTED, "ERROR_NOT_SUPPORTED"),
        (pynvml.NVML_ERROR_NOT_FOUND, "ERROR_NOT_FOUND"),
        (pynvml.NVML_ERROR_DRIVER_NOT_LOADED, "ERROR_DRIVER_NOT_LOADED"),
        (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, "ERROR_LIBRARY_NOT_FOUND"),
        (pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH, "ERROR_LIB_RM_VERSION_MISMATCH"),
        (pynvml.NVML_ERROR_UNKNOWN, "ERROR_UNKNOWN"),
        (4242, "unknown return value: 4242"),
    ],
)
def test_code_names(value: int, name: str) -> None:
    assert code_name(value) == name


def test_error_text_is_the_code() -> None:
    error = NvmlError("ERROR_NOT_FOUND")
    assert isinstance(error, CDIError)
    assert str(error) == error.code == "ERROR_NOT_FOUND"


# -- bus ids -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("00000000:07:00.0", "0000:07:00.0"),
        ("00000000:AB:00.0", "0000:ab:00.0"),
        ("00000001:07:00.0", "0001:07:00.0"),
        ("00010000:07:00.0", "00010000:07:00.0"),
        ("0000:07:00.0", "0000:07:00.0"),
        ("00000000:07:00.0\0\0", "0000:07:00.0"),
    ],
)
def test_normalize_pci_bus_id(raw: str, normalized: str) -> None:
    assert normalize_pci_bus_id(raw) == normalized


# -- library candidates and loading --------------------------------------------------------


def test_candidates_in_directory_order(tmp_path: Path) -> None:
    for directory in ("lib/x86_64-linux-gnu", "usr/lib64"):
        (tmp_path / directory).mkdir(parents=True)
        (tmp_path / directory / "libnvidia-ml.so.1").write_bytes(b"")
    assert nvml_library_candidates(str(tmp_path)) == [
        f"{tmp_path}/usr/lib64/libnvidia-ml.so.1",
        f"{tmp_path}/lib/x86_64-linux-gnu/libnvidia-ml.so.1",
    ]
    assert LIBRARY_DIRS[0] == "/usr/lib64"


def test_no_candidates_for_the_host_root_or_an_empty_root(tmp_path: Path) -> None:
    assert nvml_library_candidates("/") == []
    assert nvml_library_candidates(str(tmp_path)) == []
    assert nvml_library_candidates(str(tmp_path / "missing")) == []


def test_candidate_links_resolve_inside_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside.so"
    outside.write_bytes(b"")
    root = tmp_path / "root"
    lib = root / "usr/lib64"
    lib.mkdir(parents=True)
    (root / "opt").mkdir()
    (root / "opt/libnvidia-ml.so.550.54.15").write_bytes(b"")
    (lib / "libnvidia-ml.so.1").symlink_to("/opt/libnvidia-ml.so.550.54.15")
    # An absolute link to a file that exists only on the host is not NVML of this root.
    (root / "lib64").mkdir()
    (root / "lib64/libnvidia-ml.so.1").symlink_to(outside)
    assert nvml_library_candidates(str(root)) == [f"{root}/opt/libnvidia-ml.so.550.54.15"]


def test_open_nvml_resolves_given_paths_inside_the_root(tmp_path: Path, pynvml_state: None) -> None:
    outside = Path(_ctypes.__file__)  # a real shared object, on the host only
    root = tmp_path / "root"
    (root / "usr/lib64").mkdir(parents=True)
    (root / "usr/lib64/libnvidia-ml.so.1").symlink_to(outside)
    nvml = open_nvml(str(root), [f"{root}/usr/lib64/libnvidia-ml.so.1"])
    # The link leads nowhere inside the root, so the loader's own search is used instead.
    assert nvml.library_path == "libnvidia-ml.so.1"  # type: ignore[attr-defined]


def test_missing_library_is_library_not_found(tmp_path: Path, pynvml_state: None) -> None:
    if _system_nvml_loads():
        pytest.skip("this host has NVML: the default library would load")
    root = str(tmp_path / "no-such-root")
    nvml = open_nvml(root, nvml_library_candidates(root))
    with pytest.raises(NvmlError) as caught:
        nvml.init()
    assert caught.value.code == "ERROR_LIBRARY_NOT_FOUND"
    assert pynvml.nvmlLib is None


def test_file_that_is_not_a_library_is_library_not_found(
    tmp_path: Path, pynvml_state: None
) -> None:
    (tmp_path / "usr/lib64").mkdir(parents=True)
    (tmp_path / "usr/lib64/libnvidia-ml.so.1").write_bytes(b"")
    nvml = open_nvml(str(tmp_path), nvml_library_candidates(str(tmp_path)))
    with pytest.raises(NvmlError) as caught:
        nvml.init()
    assert str(caught.value) == "ERROR_LIBRARY_NOT_FOUND"


def test_library_without_nvml_symbols_is_function_not_found(
    tmp_path: Path, pynvml_state: None
) -> None:
    (tmp_path / "usr/lib64").mkdir(parents=True)
    # A loadable shared object that is not NVML.
    (tmp_path / "usr/lib64/libnvidia-ml.so.1").write_bytes(Path(_ctypes.__file__).read_bytes())
    nvml = open_nvml(str(tmp_path), nvml_library_candidates(str(tmp_path)))
    with pytest.raises(NvmlError) as caught:
        nvml.init()
    assert caught.value.code == "ERROR_FUNCTION_NOT_FOUND"
    assert pynvml.nvmlLib is not None  # the library was handed to pynvml


def test_pynvml_is_imported_lazily() -> None:
    code = (
        "import sys, cdi.generate.nvml as n; n.open_nvml('/', []); print('pynvml' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# -- the real classes over replaced pynvml functions ------------------------------------------


class _Handles:
    """pynvml's device functions over two GPUs (handles ``"gpu0"``, ``"gpu1"``) where GPU 0
    has MIG slots 0 and 2 filled (handles ``"mig0"``, ``"mig2"``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        gpu_pci = SimpleNamespace(busId=b"00000000:0A:00.0")
        functions: dict[str, Callable[..., Any]] = {
            "nvmlInit": lambda: self.calls.append("init"),
            "nvmlShutdown": lambda: self.calls.append("shutdown"),
            "nvmlSystemGetDriverVersion": lambda: "999.88.77",
            "nvmlSystemGetCudaDriverVersion": lambda: 13010,
            "nvmlDeviceGetCount": lambda: 2,
            "nvmlDeviceGetHandleByIndex": self._by_index,
            "nvmlDeviceGetHandleByUUID": self._by_uuid,
            "nvmlDeviceIsMigDeviceHandle": lambda h: int(h.startswith("mig")),
            "nvmlDeviceGetIndex": lambda h: int(h[-1]),
            "nvmlDeviceGetUUID": lambda h: f"UUID-{h}",
            "nvmlDeviceGetName": lambda h: "NVIDIA A100-SXM4-40GB",
            "nvmlDeviceGetMinorNumber": lambda h: int(h[-1]) + 4,
            "nvmlDeviceGetPciInfo": lambda h: gpu_pci,
            "nvmlDeviceGetMigMode": self._mig_mode,
            "nvmlDeviceGetMaxMigDeviceCount": lambda h: 7,
            "nvmlDeviceGetMigDeviceHandleByIndex": self._mig_by_index,
            "nvmlDeviceGetDeviceHandleFromMigDeviceHandle": lambda h: "gpu0",
            "nvmlDeviceGetGpuInstanceId": lambda h: 3,
            "nvmlDeviceGetComputeInstanceId": lambda h: 1,
            "nvmlDeviceGetAddressingMode": self._addressing,
            "nvmlDeviceGetGpuInstanceById": lambda parent, gi: f"gi{gi}",
            "nvmlGpuInstanceGetInfo": lambda gi: SimpleNamespace(profileId=self.gi_profile),
            "nvmlDeviceGetGpuInstanceProfileInfo": self._profile_info,
        }
        for name, function in functions.items():
            monkeypatch.setattr(pynvml, name, function)
        self.gi_profile = 9
        self.mig_mode_error: int | None = None
        self.addressing: int | Exception = 2

    def _by_index(self, index: int) -> str:
        if index > 1:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return f"gpu{index}"

    def _by_uuid(self, uuid: bytes | str) -> str:
        text = uuid.decode() if isinstance(uuid, bytes) else uuid
        if not text.startswith("UUID-"):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
        return text.removeprefix("UUID-")

    def _mig_mode(self, handle: str) -> list[int]:
        if self.mig_mode_error is not None:
            raise pynvml.NVMLError(self.mig_mode_error)
        return [1, 1] if handle == "gpu0" else [0, 0]

    def _mig_by_index(self, handle: str, slot: int) -> str:
        if slot >= 7:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        if handle != "gpu0" or slot not in (0, 2):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
        return f"mig{slot}"

    def _addressing(self, handle: str) -> int:
        if isinstance(self.addressing, Exception):
            raise self.addressing
        return self.addressing

    def _profile_info(self, parent: str, profile: int) -> Any:
        # This GPU has no 1-slice gfx profile; the 2-slice one has id 9.
        if profile == pynvml.NVML_GPU_INSTANCE_PROFILE_1_SLICE_GFX:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        ids = {pynvml.NVML_GPU_INSTANCE_PROFILE_2_SLICE_GFX: 9}
        return SimpleNamespace(id=ids.get(profile, 100 + profile))


@pytest.fixture
def handles(monkeypatch: pytest.MonkeyPatch, pynvml_state: None, tmp_path: Path) -> _Handles:
    return _Handles(monkeypatch)


@pytest.fixture
def real(tmp_path: Path, handles: _Handles) -> Nvml:
    """The real implementation, its library a real (non-NVML) shared object in the root."""
    (tmp_path / "usr/lib64").mkdir(parents=True)
    (tmp_path / "usr/lib64/libnvidia-ml.so.1").write_bytes(Path(_ctypes.__file__).read_bytes())
    nvml = open_nvml(str(tmp_path), nvml_library_candidates(str(tmp_path)))
    nvml.init()
    return nvml


def test_real_init_hands_the_library_to_pynvml(real: Nvml, handles: _Handles) -> None:
    assert isinstance(pynvml.nvmlLib, ctypes.CDLL)
    real.shutdown()
    assert handles.calls == ["init", "shutdown"]


def test_real_system_queries(real: Nvml) -> None:
    assert real.driver_version() == "999.88.77"
    assert real.cuda_driver_version() == 13010
    assert real.device_count() == 2


def test_real_device_attributes(real: Nvml) -> None:
    device = real.device_by_index(1)
    assert (device.index, device.uuid, device.minor_number) == (1, "UUID-gpu1", 5)
    assert device.name == "NVIDIA A100-SXM4-40GB"
    assert device.pci_bus_id == "0000:0a:00.0"
    assert real.device_by_uuid("UUID-gpu1").index == 1


def test_real_lookup_errors(real: Nvml) -> None:
    with pytest.raises(NvmlError, match=r"^ERROR_INVALID_ARGUMENT$"):
        real.device_by_index(2)
    # Past 32 bits ctypes would wrap the index around to an existing GPU.
    with pytest.raises(NvmlError, match=r"^ERROR_INVALID_ARGUMENT$"):
        real.device_by_index(2**32)
    with pytest.raises(NvmlError, match=r"^ERROR_NOT_FOUND$"):
        real.device_by_uuid("GPU-nope")
    with pytest.raises(NvmlError, match=r"^ERROR_INVALID_ARGUMENT$"):
        real.mig_device_by_uuid("UUID-gpu0")


def test_real_mig_mode(real: Nvml, handles: _Handles) -> None:
    assert real.device_by_index(0).mig_enabled() is True
    assert real.device_by_index(1).mig_enabled() is False
    handles.mig_mode_error = pynvml.NVML_ERROR_NOT_SUPPORTED
    assert real.device_by_index(0).mig_enabled() is False
    handles.mig_mode_error = pynvml.NVML_ERROR_UNKNOWN
    with pytest.raises(NvmlError, match=r"^ERROR_UNKNOWN$"):
        real.device_by_index(0).mig_enabled()


def test_real_mig_devices(real: Nvml) -> None:
    gpu = real.device_by_index(0)
    assert gpu.max_mig_devices() == 7
    slots = [gpu.mig_device(slot) for slot in range(8)]
    assert [slot is not None for slot in slots] == [True, False, True, *[False] * 5]
    mig = slots[2]
    assert mig is not None
    assert (mig.uuid, mig.index, mig.gpu_instance_id, mig.compute_instance_id) == (
        "UUID-mig2",
        2,
        3,
        1,
    )
    assert mig.parent is gpu
    assert gpu.mig_device(-1) is None


def test_real_mig_device_by_uuid_finds_its_slot(real: Nvml) -> None:
    mig = real.mig_device_by_uuid("UUID-mig2")
    assert mig.index == 2
    assert mig.parent.index == 0


def test_real_gfx_profile(real: Nvml, handles: _Handles) -> None:
    mig = real.mig_device_by_uuid("UUID-mig0")
    assert mig.has_gfx_profile() is True
    handles.gi_profile = 4
    assert real.mig_device_by_uuid("UUID-mig0").has_gfx_profile() is False


def test_real_addressing_mode(real: Nvml, handles: _Handles) -> None:
    assert real.device_by_index(0).addressing_mode_is_ats() is True
    handles.addressing = 1
    assert real.device_by_index(0).addressing_mode_is_ats() is False
    handles.addressing = pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
    assert real.device_by_index(0).addressing_mode_is_ats() is False
    handles.addressing = pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
    with pytest.raises(NvmlError, match=r"^ERROR_GPU_IS_LOST$"):
        real.device_by_index(0).addressing_mode_is_ats()


# -- the fake -----------------------------------------------------------------------------


def test_fake_is_an_nvml() -> None:
    nvml: Nvml = FakeNvml.with_gpus(1)
    nvml.init()
    assert nvml.driver_version() == "999.88.77"
    assert nvml.cuda_driver_version() == 13010


@pytest.mark.parametrize("count", [1, 2, 8])
def test_fake_gpus(count: int) -> None:
    nvml = FakeNvml.with_gpus(count)
    nvml.init()
    assert nvml.device_count() == count
    devices = [nvml.device_by_index(i) for i in range(count)]
    assert [d.minor_number for d in devices] == list(range(count))
    assert devices[-1].pci_bus_id == bus_id(count - 1)  # the fixture roots' bus ids
    assert len({d.uuid for d in devices}) == count
    assert all(d.uuid.startswith("GPU-") and d.name == "NVIDIA A100-SXM4-40GB" for d in devices)
    assert nvml.device_by_uuid(gpu_uuid(count - 1)) is devices[-1]
    with pytest.raises(NvmlError, match=r"^ERROR_INVALID_ARGUMENT$"):
        nvml.device_by_index(count)


def test_fake_mig() -> None:
    nvml = FakeNvml.with_gpus(2, mig={1: [(1, 0, False), None, (2, 0, True)]})
    nvml.init()
    assert not nvml.device_by_index(0).mig_enabled()
    gpu = nvml.device_by_index(1)
    assert gpu.mig_enabled() and gpu.max_mig_devices() == 7
    assert [gpu.mig_device(j) is not None for j in range(7)] == [True, False, True] + [False] * 4
    mig = nvml.mig_device_by_uuid(mig_uuid(1, 2))
    assert (mig.index, mig.gpu_instance_id, mig.compute_instance_id) == (2, 2, 0)
    assert mig.has_gfx_profile() and mig.parent is gpu


def test_fake_counts_init_and_shutdown_and_fails_on_request() -> None:
    nvml = FakeNvml.with_gpus(1, fail={"init": "ERROR_DRIVER_NOT_LOADED"})
    with pytest.raises(NvmlError, match=r"^ERROR_DRIVER_NOT_LOADED$"):
        nvml.init()
    nvml = FakeNvml.with_gpus(1)
    with pytest.raises(NvmlError, match=r"^ERROR_UNINITIALIZED$"):
        nvml.device_count()
    nvml.init()
    nvml.shutdown()
    assert (nvml.init_count, nvml.shutdown_count) == (1, 1)
    with pytest.raises(NvmlError, match=r"^ERROR_UNINITIALIZED$"):
        nvml.driver_version()
