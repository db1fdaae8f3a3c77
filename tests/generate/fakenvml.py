"""A fake NVML made of plain data, behind the same protocols as the real one.

``FakeNvml.with_gpus(8)`` is an 8-GPU A100 host with driver ``999.88.77`` (the version
nvidia-ctk's own tests use); ``mig={0: [(gi, ci, gfx), ...]}`` turns MIG on for a GPU and
fills its slots. UUIDs are deterministic, so expected specs can name them. Like the real
library, every call between :meth:`init` and :meth:`shutdown` works and any other fails with
``ERROR_UNINITIALIZED``; an out-of-range index is ``ERROR_INVALID_ARGUMENT``.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cdi.generate.nvml import NvmlDevice, NvmlError, NvmlMigDevice, normalize_pci_bus_id
from generate.fixtures import bus_id

DEFAULT_NAME = "NVIDIA A100-SXM4-40GB"
DEFAULT_DRIVER = "999.88.77"
DEFAULT_CUDA = 13010
#: ``nvmlDeviceGetMaxMigDeviceCount`` of an A100.
A100_MAX_MIG_DEVICES = 7

_NAMESPACE = uuidlib.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")


def gpu_uuid(index: int) -> str:
    """The fake UUID of GPU *index*: ``GPU-`` and a fixed name-based UUID."""
    return f"GPU-{uuidlib.uuid5(_NAMESPACE, f'gpu{index}')}"


def mig_uuid(index: int, slot: int) -> str:
    """The fake UUID of the MIG device in *slot* of GPU *index*."""
    return f"MIG-{uuidlib.uuid5(_NAMESPACE, f'mig{index}:{slot}')}"


def raw_bus_id(index: int) -> str:
    """NVML's form (8-digit domain, upper case) of GPU *index*'s PCI bus id: the one the
    fixture roots give that GPU (:func:`generate.fixtures.bus_id`)."""
    return f"0000{bus_id(index)}".upper()


@dataclass(frozen=True)
class FakeMigDevice:
    uuid: str
    index: int
    gpu_instance_id: int
    compute_instance_id: int
    gfx: bool
    parent: NvmlDevice

    def has_gfx_profile(self) -> bool:
        return self.gfx


@dataclass(frozen=True)
class FakeDevice:
    index: int
    uuid: str
    name: str
    minor_number: int
    raw_pci_bus_id: str
    #: ``(gpu instance, compute instance, gfx)`` per filled MIG slot; ``None`` is an empty slot.
    mig_slots: tuple[tuple[int, int, bool] | None, ...] = ()
    mig_mode: bool = False
    mig_capable: bool = True
    max_mig: int = A100_MAX_MIG_DEVICES
    ats: bool = False

    @property
    def pci_bus_id(self) -> str:
        return normalize_pci_bus_id(self.raw_pci_bus_id)

    def mig_enabled(self) -> bool:
        return self.mig_capable and self.mig_mode

    def max_mig_devices(self) -> int:
        if not self.mig_capable:
            raise NvmlError("ERROR_NOT_SUPPORTED")
        return self.max_mig

    def mig_device(self, slot: int) -> NvmlMigDevice | None:
        if not self.mig_enabled() or not 0 <= slot < len(self.mig_slots):
            return None
        entry = self.mig_slots[slot]
        if entry is None:
            return None
        gi, ci, gfx = entry
        return FakeMigDevice(mig_uuid(self.index, slot), slot, gi, ci, gfx, self)

    def addressing_mode_is_ats(self) -> bool:
        return self.ats


@dataclass
class FakeNvml:
    """The fake library. ``fail`` maps a method name to the error code it raises."""

    devices: list[FakeDevice] = field(default_factory=list)
    driver: str = DEFAULT_DRIVER
    cuda: int = DEFAULT_CUDA
    fail: dict[str, str] = field(default_factory=dict)
    init_count: int = 0
    shutdown_count: int = 0

    @classmethod
    def with_gpus(
        cls,
        count: int,
        *,
        driver: str = DEFAULT_DRIVER,
        cuda: int = DEFAULT_CUDA,
        mig: Mapping[int, Sequence[tuple[int, int, bool] | None]] | None = None,
        names: Mapping[int, str] | None = None,
        bus_ids: Mapping[int, str] | None = None,
        fail: Mapping[str, str] | None = None,
    ) -> FakeNvml:
        mig = mig or {}
        devices = [
            FakeDevice(
                index=index,
                uuid=gpu_uuid(index),
                name=(names or {}).get(index, DEFAULT_NAME),
                minor_number=index,
                raw_pci_bus_id=(bus_ids or {}).get(index, raw_bus_id(index)),
                mig_slots=tuple(mig.get(index, ())),
                mig_mode=index in mig,
            )
            for index in range(count)
        ]
        return cls(devices=devices, driver=driver, cuda=cuda, fail=dict(fail or {}))

    @property
    def initialized(self) -> bool:
        return self.init_count > self.shutdown_count

    def _check(self, method: str) -> None:
        if method in self.fail:
            raise NvmlError(self.fail[method])
        if not self.initialized:
            raise NvmlError("ERROR_UNINITIALIZED")

    def init(self) -> None:
        if "init" in self.fail:
            raise NvmlError(self.fail["init"])
        self.init_count += 1

    def shutdown(self) -> None:
        self._check("shutdown")
        self.shutdown_count += 1

    def driver_version(self) -> str:
        self._check("driver_version")
        return self.driver

    def cuda_driver_version(self) -> int:
        self._check("cuda_driver_version")
        return self.cuda

    def device_count(self) -> int:
        self._check("device_count")
        return len(self.devices)

    def device_by_index(self, index: int) -> NvmlDevice:
        self._check("device_by_index")
        if not 0 <= index < len(self.devices):
            raise NvmlError("ERROR_INVALID_ARGUMENT")
        return self.devices[index]

    def device_by_uuid(self, uuid: str) -> NvmlDevice:
        self._check("device_by_uuid")
        for device in self.devices:
            if device.uuid == uuid:
                return device
        raise NvmlError("ERROR_NOT_FOUND")

    def mig_device_by_uuid(self, uuid: str) -> NvmlMigDevice:
        self._check("mig_device_by_uuid")
        for device in self.devices:
            for slot in range(len(device.mig_slots)):
                mig = device.mig_device(slot)
                if mig is not None and mig.uuid == uuid:
                    return mig
        raise NvmlError("ERROR_NOT_FOUND")
