"""``nvml`` mode: one device per GPU and MIG device NVML reports, with the driver's files as
the edits all devices share (reference §1.6 to §1.7, §2.3)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from cdi.generate import devicenode, edits, gpu, naming
from cdi.generate.driver import driver_edits
from cdi.generate.errors import GenerateError
from cdi.generate.graphics import graphics_edits
from cdi.generate.hooks import (
    DISABLE_DEVICE_NODE_MODIFICATION,
    UPDATE_APPLICATION_PROFILE,
    HookMaker,
)
from cdi.generate.locate import Locator, char_device_locator
from cdi.generate.nvml import NOT_FOUND, Nvml, NvmlDevice, NvmlError, NvmlMigDevice
from cdi.generate.options import NO_ADDITIONAL_GIDS_FOR_DEVICE_NODES, Options
from cdi.generate.version import DriverLibraries
from cdi.spec.model import ContainerEdits, Device

_log = logging.getLogger(__name__)

#: Control nodes every GPU container needs, when the host has them.
CONTROL_NODES = (
    "/dev/nvidia-modeset",
    "/dev/nvidia-uvm-tools",
    "/dev/nvidia-uvm",
    "/dev/nvidiactl",
)

#: Display devices NVML lists on DGX stations; they are not GPUs to hand out.
_SKIPPED_NAMES = ("DGX Display", "NVIDIA DGX Display")


class DeviceSelectionError(GenerateError):
    """A ``--device-id`` names no device NVML knows."""


@dataclass(frozen=True)
class _Gpu:
    device: NvmlDevice
    index: int


@dataclass(frozen=True)
class _Mig:
    device: NvmlMigDevice
    parent_index: int
    index: int


def control_node_edits(options: Options, additional_gids: bool) -> ContainerEdits:
    """The control nodes present under the dev root (missing ones are logged and skipped:
    the generator never creates nodes)."""
    finder = char_device_locator(options.device_root)
    parts = []
    for path in CONTROL_NODES:
        hits = finder.locate(path)
        if not hits:
            _log.warning(
                "could not locate %s: not a character device under %s", path, options.device_root
            )
            continue
        parts.append(devicenode.node_edits(path, hits[0], additional_gids=additional_gids))
    return edits.merge(parts)


def _all_devices(nvml: Nvml) -> Iterator[_Gpu | _Mig]:
    """Every GPU, except that a GPU in MIG mode stands for its MIG devices."""
    for index in range(nvml.device_count()):
        device = nvml.device_by_index(index)
        if device.name in _SKIPPED_NAMES:
            continue
        if not device.mig_enabled():
            yield _Gpu(device, index)
            continue
        for j in range(device.max_mig_devices()):
            mig = device.mig_device(j)
            if mig is not None:
                yield _Mig(mig, index, j)


def _device_for_id(nvml: Nvml, text: str) -> _Gpu | _Mig:
    """The device one ``--device-id`` names; an explicit index of a GPU in MIG mode still
    gives the whole GPU."""
    wanted = naming.parse_device_id(text)
    try:
        if wanted.kind is naming.IdKind.GPU_INDEX and wanted.gpu is not None:
            return _Gpu(nvml.device_by_index(wanted.gpu), wanted.gpu)
        if wanted.kind is naming.IdKind.MIG_INDEX and wanted.gpu is not None:
            assert wanted.mig is not None
            mig = nvml.device_by_index(wanted.gpu).mig_device(wanted.mig)
            if mig is None:
                raise NvmlError(NOT_FOUND)
            return _Mig(mig, wanted.gpu, wanted.mig)
    except NvmlError as err:
        raise DeviceSelectionError(f"failed to get device handle from index: {err}") from None
    try:
        if wanted.kind is naming.IdKind.GPU_UUID:
            device = nvml.device_by_uuid(wanted.text)
            return _Gpu(device, device.index)
        mig_device = nvml.mig_device_by_uuid(wanted.text)
        return _Mig(mig_device, mig_device.parent.index, mig_device.index)
    except NvmlError as err:
        raise DeviceSelectionError(f"failed to get device handle from UUID: {err}") from None


def selected_devices(nvml: Nvml, device_ids: tuple[str, ...]) -> list[_Gpu | _Mig]:
    if "all" in device_ids:
        return list(_all_devices(nvml))
    return [_device_for_id(nvml, text) for text in device_ids]


def per_device(
    nvml: Nvml, options: Options, hooks: HookMaker, additional_gids: bool
) -> list[Device]:
    devices: list[Device] = []
    selected = selected_devices(nvml, options.device_ids)
    mig_minors = (
        gpu.load_mig_minors(options.procfs_root)
        if any(isinstance(f, _Mig) for f in selected)
        else None
    )
    for found in selected:
        if isinstance(found, _Gpu):
            device_edits = gpu.full_gpu_edits(
                found.device,
                dev_root=options.device_root,
                sysfs_root=options.sysfs_root,
                hooks=hooks,
                additional_gids=additional_gids,
            )
            names = naming.device_names(options.name_strategies, found.index, found.device.uuid)
        else:
            device_edits = gpu.mig_device_edits(
                found.device,
                dev_root=options.device_root,
                sysfs_root=options.sysfs_root,
                procfs_root=options.procfs_root,
                hooks=hooks,
                additional_gids=additional_gids,
                mig_minors=mig_minors,
            )
            names = naming.mig_device_names(
                options.name_strategies, found.parent_index, found.index, found.device.uuid
            )
        devices += [Device(name, container_edits=device_edits) for name in names]
    return devices


def discover_nvml(
    options: Options,
    nvml: Nvml,
    driver: DriverLibraries,
    libraries: Locator,
    hooks: HookMaker,
) -> edits.Discovered:
    additional_gids = not options.has(NO_ADDITIONAL_GIDS_FOR_DEVICE_NODES)
    devices = per_device(nvml, options, hooks, additional_gids)
    common = edits.merge(
        [
            graphics_edits(driver, options, libraries, hooks),
            driver_edits(driver, options, libraries, hooks),
            control_node_edits(options, additional_gids),
            edits.hooks_only(
                [
                    hooks.make(DISABLE_DEVICE_NODE_MODIFICATION),
                    hooks.make(UPDATE_APPLICATION_PROFILE),
                ]
            ),
        ]
    )
    return edits.Discovered(tuple(devices), common)
