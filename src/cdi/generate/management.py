"""``management`` mode: one device ``all`` with every NVIDIA device node on the host, for
management containers (monitoring, MIG configuration) that must see every GPU (§4.1)."""

from __future__ import annotations

from cdi.generate import devicenode, edits
from cdi.generate.driver import driver_edits
from cdi.generate.errors import GenerateError
from cdi.generate.hooks import HookMaker
from cdi.generate.locate import Locator
from cdi.generate.options import NO_ADDITIONAL_GIDS_FOR_DEVICE_NODES, Options
from cdi.generate.version import DriverLibraries
from cdi.spec.model import Device

_PATTERNS = (
    "/dev/nvidia*",
    "/dev/nvidia-caps/nvidia-cap*",
    "/dev/nvidia-modeset",
    "/dev/nvidia-uvm-tools",
    "/dev/nvidia-uvm",
    "/dev/nvidiactl",
    "/dev/nvidia-caps-imex-channels/channel*",
)
#: Nodes of other kernel modules that share the ``nvidia`` prefix; their own modes hand them out.
_EXCLUDED_PREFIXES = ("nvidia-fs", "nvidia-nvswitch", "nvidia-nvlink")
#: Directories whose mode the (opt-in) ``chmod`` hook fixes.
_CHMOD_DIRECTORIES = ("/dev/dri", "/dev/nvidia-caps")


class NoDeviceNodesError(GenerateError):
    """The dev root holds no NVIDIA device nodes."""


def discover_management(
    options: Options, driver: DriverLibraries, libraries: Locator, hooks: HookMaker
) -> edits.Discovered:
    nodes = devicenode.matching_node_edits(
        options.device_root,
        _PATTERNS,
        additional_gids=not options.has(NO_ADDITIONAL_GIDS_FOR_DEVICE_NODES),
        skip=lambda name: name.startswith(_EXCLUDED_PREFIXES),
    )
    if not nodes.device_nodes:
        raise NoDeviceNodesError("no NVIDIA device nodes found")
    paths = [node.path for node in nodes.device_nodes]
    chmod = hooks.chmod(
        "755", [d for d in _CHMOD_DIRECTORIES if any(p.startswith(d + "/") for p in paths)]
    )
    device_edits = edits.merge([nodes, edits.hooks_only([chmod])])
    common = driver_edits(driver, options, libraries, hooks)
    return edits.Discovered((Device("all", container_edits=device_edits),), common)
