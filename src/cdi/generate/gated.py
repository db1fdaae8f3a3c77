"""The feature modes (``gdrcopy``, ``gds``, ``mofed``, ``nvswitch``) and ``imex``: device nodes
of companion kernel modules, without the driver's files (reference §1.8 and §1.9)."""

from __future__ import annotations

import re

from cdi.generate import devicenode, edits
from cdi.generate.errors import GenerateError
from cdi.generate.locate import FileLocator, char_device_locator
from cdi.generate.options import NO_ADDITIONAL_GIDS_FOR_DEVICE_NODES, Options
from cdi.spec import record
from cdi.spec.model import ContainerEdits, Device

GATED_NODES = {
    "gdrcopy": ("/dev/gdrdrv",),
    "gds": ("/dev/nvidia-fs*",),
    "mofed": ("/dev/infiniband/uverbs*", "/dev/infiniband/rdma_cm"),
    "nvswitch": ("/dev/nvidia-nvswitchctl", "/dev/nvidia-nvswitch*"),
}
#: What GPUDirect Storage needs besides its nodes: udev's database and its configuration.
_GDS_MOUNTS = ("/run/udev", "/etc/cufile.json")

IMEX_CHANNELS = "/dev/nvidia-caps-imex-channels"
MAX_IMEX_CHANNEL = (1 << 20) - 1
_CHANNEL_ID = re.compile(r"(?:channel)?([0-9]+)")


class GatedModeError(GenerateError):
    """A feature mode found nothing to hand out, or was asked for a device that is not there."""


def _nodes(options: Options, patterns: tuple[str, ...]) -> ContainerEdits:
    return devicenode.matching_node_edits(
        options.device_root,
        patterns,
        additional_gids=not options.has(NO_ADDITIONAL_GIDS_FOR_DEVICE_NODES),
    )


def discover_gated(options: Options) -> edits.Discovered:
    """One device ``all`` with the mode's nodes (and, for ``gds``, its mounts)."""
    mode = options.mode
    nodes = _nodes(options, GATED_NODES[mode])
    if not nodes.device_nodes:
        raise GatedModeError(f"no devices found for mode {mode}")
    mounts = []
    if mode == "gds":
        finder = FileLocator(options.driver_root, ("/",), accept=lambda _path: True, count=1)
        mounts = [
            edits.mount(hit, path)
            for path in _GDS_MOUNTS
            for hit in finder.locate(path.lstrip("/"))
        ]
    device = Device(
        "all", container_edits=edits.merge([nodes, ContainerEdits(mounts=tuple(mounts))])
    )
    return edits.Discovered((device,))


def _channel_ids(options: Options) -> list[str]:
    if "all" in options.device_ids:
        finder = char_device_locator(options.device_root)
        hits = finder.locate(f"{IMEX_CHANNELS}/channel*")
        names = [hit.rsplit("/channel", 1)[1] for hit in hits]
        return sorted((n for n in names if n.isdigit()), key=int)
    ids = []
    for text in options.device_ids:
        match = _CHANNEL_ID.fullmatch(text)
        if match is None or int(match.group(1)) > MAX_IMEX_CHANNEL:
            raise GatedModeError(
                f"invalid IMEX channel ID {text!r}: want a number from 0 to {MAX_IMEX_CHANNEL}"
            )
        ids.append(str(int(match.group(1))))
    return ids


def discover_imex(options: Options) -> edits.Discovered:
    """One device per IMEX channel, named by its number; ``hostPath`` is always written."""
    root = options.device_root.rstrip("/")
    additional_gids = not options.has(NO_ADDITIONAL_GIDS_FOR_DEVICE_NODES)
    finder = char_device_locator(options.device_root)
    devices = []
    for channel in _channel_ids(options):
        path = f"{IMEX_CHANNELS}/channel{channel}"
        if not finder.locate(path):
            raise GatedModeError(f"IMEX channel {channel} not found: no {root}{path}")
        node_edits = devicenode.node_edits(path, f"{root}{path}", additional_gids=additional_gids)
        node = node_edits.device_nodes[0]
        if not node.host_path:
            node = record.replace(node, host_path=path)
        devices.append(
            Device(
                channel,
                container_edits=ContainerEdits(
                    device_nodes=(node,), additional_gids=node_edits.additional_gids
                ),
            )
        )
    return edits.Discovered(tuple(devices))
