"""The edits of one device: a full GPU, or a MIG device of one.

A full GPU is ``/dev/nvidia<minor>`` plus the DRM nodes the kernel lists for its PCI function
(``<sysfs>/bus/pci/devices/<bus id>/drm/*``), and a hook recreating the
``/dev/dri/by-path`` links that point at those nodes. A MIG device is its parent's node plus
the two capability nodes that grant access to its GPU and compute instance, whose minors the
driver publishes in ``<procfs>/driver/nvidia-caps/mig-minors``; it gets DRM nodes only when
its profile has graphics engines.

Nodes are looked up under the dev root only (a missing one is logged and left out, as
nvidia-ctk does); the hook links name container paths.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import stat
from collections.abc import Iterable, Mapping, Sequence

from cdi import gopath
from cdi.generate.devicenode import node_edits
from cdi.generate.edits import hooks_only, merge
from cdi.generate.errors import GenerateError
from cdi.generate.hooks import HookMaker
from cdi.generate.locate import resolve_in_root
from cdi.generate.nvml import NvmlDevice, NvmlMigDevice
from cdi.generate.rootview import open_in_root
from cdi.spec.model import ContainerEdits

log = logging.getLogger(__name__)

#: The driver's table of MIG capability minors, relative to the procfs root.
MIG_MINORS_PATH = "/driver/nvidia-caps/mig-minors"
#: Far above the real table (about 110 KiB for 32 GPUs); a bigger file is not the driver's.
MIG_MINORS_LIMIT = 4 * 1024 * 1024

#: The only device folders the (deprecated) chmod hook opens up.
_CHMOD_FOLDERS = ("/dev/dri", "/dev/nvidia-caps")
_DRI = "/dev/dri"

_GI_CAP = re.compile(r"gpu(\d+)/gi(\d+)/access")
_CI_CAP = re.compile(r"gpu(\d+)/gi(\d+)/ci(\d+)/access")
_NAMED_CAPS = ("config", "monitor")


class MigCapsError(GenerateError):
    """The MIG capability minors cannot be read, or lack the caps of a MIG device."""


def gpu_instance_cap(gpu_minor: int, gpu_instance: int) -> str:
    return f"gpu{gpu_minor}/gi{gpu_instance}/access"


def compute_instance_cap(gpu_minor: int, gpu_instance: int, compute_instance: int) -> str:
    return f"gpu{gpu_minor}/gi{gpu_instance}/ci{compute_instance}/access"


def cap_device_path(minor: int) -> str:
    return f"/dev/nvidia-caps/nvidia-cap{minor}"


def parse_mig_minors(text: str) -> dict[str, int]:
    """The ``<cap> <minor>`` lines of the MIG minors table; other lines are skipped (logged).

    Cap names are normalised the way the numbers read (``gpu01`` is ``gpu1``), so lookups by
    :func:`gpu_instance_cap` and :func:`compute_instance_cap` find them.
    """
    caps: dict[str, int] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 2 or not fields[1].isascii() or not fields[1].isdigit():
            if line.strip():
                log.debug("Skipping line in MIG minors file: unparsable line: %s", line)
            continue
        name, minor = fields[0], int(fields[1])
        if match := _CI_CAP.fullmatch(name):
            gpu, gi, ci = map(int, match.groups())
            caps[compute_instance_cap(gpu, gi, ci)] = minor
        elif match := _GI_CAP.fullmatch(name):
            gpu, gi = map(int, match.groups())
            caps[gpu_instance_cap(gpu, gi)] = minor
        elif name in _NAMED_CAPS:
            caps[name] = minor
        else:
            log.debug("Skipping line in MIG minors file: unparsable line: %s", line)
    return caps


def load_mig_minors(procfs_root: str) -> dict[str, int]:
    """:func:`parse_mig_minors` of ``<procfs_root>/driver/nvidia-caps/mig-minors``."""
    path = posixpath.join(procfs_root, MIG_MINORS_PATH.lstrip("/"))
    try:
        with open_in_root(procfs_root, MIG_MINORS_PATH) as handle:
            # procfs reports size 0, so the limit is enforced on what is read.
            data = handle.read(MIG_MINORS_LIMIT + 1)
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise MigCapsError(f"failed to load MIG minors: open {path}: {reason}") from None
    if len(data) > MIG_MINORS_LIMIT:
        raise MigCapsError(
            f"failed to load MIG minors: {path}: larger than {MIG_MINORS_LIMIT} bytes"
        )
    return parse_mig_minors(data.decode("utf-8", errors="replace"))


def drm_node_paths(sysfs_root: str, pci_bus_id: str) -> list[str]:
    """``/dev/dri/<name>`` for every entry the kernel lists under the GPU's ``drm`` folder,
    sorted by name (as Go's ``filepath.Glob`` returns them); none when it has no folder."""
    try:
        folder = resolve_in_root(sysfs_root, f"/bus/pci/devices/{pci_bus_id}/drm")
        names = os.listdir(folder)
    except OSError:
        return []
    return [posixpath.join(_DRI, name) for name in sorted(names)]


def _char_device(dev_root: str, path: str) -> str | None:
    """The host path of the char device at container *path* under *dev_root*, or ``None``."""
    try:
        host_path = resolve_in_root(dev_root, path)
        info = os.lstat(host_path)
    except OSError:
        return None
    return host_path if stat.S_ISCHR(info.st_mode) else None


def _located_nodes(
    dev_root: str, paths: Iterable[str], additional_gids: bool
) -> tuple[ContainerEdits, list[str]]:
    """The edits of the char devices among *paths*, and the container paths found."""
    parts: list[ContainerEdits] = []
    found: list[str] = []
    for path in dict.fromkeys(paths):
        host_path = _char_device(dev_root, path)
        if host_path is None:
            log.warning("Could not locate %s: no char device at %s", path, dev_root)
            continue
        parts.append(node_edits(path, host_path, additional_gids=additional_gids))
        found.append(path)
    return merge(parts), found


def _by_path_links(dev_root: str, pci_bus_id: str, selected: Sequence[str]) -> list[str]:
    """``--link`` values recreating the GPU's ``/dev/dri/by-path`` links that point at a
    selected node.

    nvidia-ctk writes the link as ``<dev root>/dev/dri/by-path/…``; inside the container the
    link belongs at ``/dev/dri/by-path/…`` whatever the dev root, so that is what we write.
    """
    chosen = set(selected)
    links: list[str] = []
    if not any(path.startswith(f"{_DRI}/") for path in chosen):
        return links  # no DRM nodes (compute-only GPU, or none on this host): nothing to link
    for suffix in ("card", "render"):
        link = f"{_DRI}/by-path/pci-{pci_bus_id}-{suffix}"
        try:
            target = os.readlink(resolve_in_root(dev_root, link, follow_last=False))
        except OSError:
            log.warning("Failed to evaluate symlink %s; ignoring", link)
            continue
        node = gopath.clean(posixpath.join(posixpath.dirname(link), target))
        if node not in chosen:
            log.debug(
                "ignoring device symlink %s -> %s since %s is not mounted", link, target, node
            )
            continue
        links.append(f"{target}::{link}")
    return links


def _chmod_folders(paths: Iterable[str]) -> list[str]:
    folders = (posixpath.dirname(path) for path in paths)
    return [folder for folder in dict.fromkeys(folders) if folder in _CHMOD_FOLDERS]


def full_gpu_edits(
    device: NvmlDevice,
    *,
    dev_root: str,
    sysfs_root: str,
    hooks: HookMaker,
    additional_gids: bool,
) -> ContainerEdits:
    """The edits of full GPU *device*: its node, its DRM nodes, their by-path links, and
    ``chmod`` of ``/dev/dri`` where that hook is enabled. Raises NvmlError."""
    node = f"/dev/nvidia{device.minor_number}"
    bus_id = device.pci_bus_id
    paths = [node, *drm_node_paths(sysfs_root, bus_id)]
    nodes, found = _located_nodes(dev_root, paths, additional_gids)
    return merge(
        [
            nodes,
            hooks_only(
                [
                    hooks.create_symlinks(_by_path_links(dev_root, bus_id, found)),
                    hooks.chmod("755", _chmod_folders(found)),
                ]
            ),
        ]
    )


def _cap_path(caps: Mapping[str, int], cap: str, kind: str) -> str:
    minor = caps.get(cap)
    if minor is None:
        raise MigCapsError(
            f"failed to get {kind} cap device path: invalid MIG capability path {cap}"
        )
    return cap_device_path(minor)


def mig_device_edits(
    mig: NvmlMigDevice,
    *,
    dev_root: str,
    sysfs_root: str,
    procfs_root: str,
    hooks: HookMaker,
    additional_gids: bool,
    mig_minors: Mapping[str, int] | None = None,
) -> ContainerEdits:
    """The edits of MIG device *mig*: the parent's node and the GPU and compute instance
    capability nodes, plus DRM nodes and by-path links for a graphics profile.

    *mig_minors* is the parsed table (read from *procfs_root* when ``None``; pass it to
    read it once for many devices). Raises :class:`MigCapsError` or NvmlError.
    """
    parent = mig.parent
    minor = parent.minor_number
    caps = load_mig_minors(procfs_root) if mig_minors is None else mig_minors
    gpu_instance = mig.gpu_instance_id
    gi_path = _cap_path(caps, gpu_instance_cap(minor, gpu_instance), "GI")
    ci_cap = compute_instance_cap(minor, gpu_instance, mig.compute_instance_id)
    ci_path = _cap_path(caps, ci_cap, "CI")
    paths = [f"/dev/nvidia{minor}", gi_path, ci_path]
    if not mig.has_gfx_profile():
        nodes, _found = _located_nodes(dev_root, paths, additional_gids)
        return nodes
    bus_id = parent.pci_bus_id
    paths += drm_node_paths(sysfs_root, bus_id)
    nodes, found = _located_nodes(dev_root, paths, additional_gids)
    by_path = hooks.create_symlinks(_by_path_links(dev_root, bus_id, found))
    return merge([nodes, hooks_only([by_path])])
