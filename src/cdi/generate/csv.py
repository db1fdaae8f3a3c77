"""``csv`` mode: NVIDIA Tegra systems (Jetson, IGX, Thor), whose driver files are listed in CSV
files instead of being found through NVML (reference §4.2).

A CSV line is ``<type>, <path>``: ``dev`` (a device node), ``dir`` (a directory to mount),
``lib`` (a library, mounted at its resolved location) or ``sym`` (a symlink, recreated in the
container by a hook and its target mounted). Paths may be globs and are looked up under the
driver root (device nodes under the dev root). The CSV files are read from the host paths
given (``--csv.file``), as nvidia-ctk does: they are arguments, not part of the tree.

Pure CSV systems get one device ``0`` holding every ``dev`` node; a Tegra iGPU beside a
discrete GPU (Thor, IGX) gets one device per GPU, the discrete one described through NVML.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cdi.generate import devicenode, edits, gpu, libraryhooks, locate, naming
from cdi.generate.errors import GenerateError
from cdi.generate.hooks import HookMaker
from cdi.generate.nvml import NOT_SUPPORTED, Nvml, NvmlDevice, NvmlError
from cdi.generate.nvmlmode import CONTROL_NODES, control_node_edits
from cdi.generate.options import (
    DISABLE_MULTIPLE_CSV_DEVICES,
    NO_ADDITIONAL_GIDS_FOR_DEVICE_NODES,
    Options,
)
from cdi.generate.rootview import open_in_root
from cdi.globs import PatternError, match
from cdi.spec.model import ContainerEdits, Device, Hook, Mount

_log = logging.getLogger(__name__)

MOUNT_TYPES = ("dev", "dir", "lib", "sym")

#: Marks a Tegra system even where NVML is missing.
TEGRA_RELEASE = "/etc/nv_tegra_release"
#: Where CUDA's forward-compatibility libraries for Orin live in L4T containers.
DEFAULT_ORIN_COMPAT_ROOT = "/usr/local/cuda/compat_orin"
_ORIN_NAME = "Orin (nvgpu)"
#: The PCI address NVML reports for the integrated GPU of Thor systems.
_IGPU_BUS_ID = "0000:01:00.0"
_GPU_NODE = re.compile(r"/dev/nvidia[0-9]+")


class CSVError(GenerateError):
    """A CSV-mode spec cannot be generated (device selection, naming, NVML)."""


class CSVLineError(GenerateError, ValueError):
    """A CSV line that is not ``<type>, <path>`` (such lines are skipped, not fatal)."""


@dataclass(frozen=True)
class MountSpec:
    """One CSV entry."""

    type: str
    path: str


@dataclass(frozen=True)
class MountSpecs:
    """The paths of all CSV files by type, in file order, each once."""

    dev: tuple[str, ...] = ()
    dir: tuple[str, ...] = ()
    lib: tuple[str, ...] = ()
    sym: tuple[str, ...] = ()

    @classmethod
    def of(cls, specs: Iterable[MountSpec]) -> MountSpecs:
        by_type: dict[str, dict[str, None]] = {kind: {} for kind in MOUNT_TYPES}
        for spec in specs:
            by_type[spec.type].setdefault(spec.path, None)
        return cls(*(tuple(by_type[kind]) for kind in MOUNT_TYPES))


def parse_line(line: str) -> MountSpec:
    """The entry of one line: split at the first comma, both parts trimmed."""
    parts = line.strip().split(",", 1)
    if len(parts) < 2:
        raise CSVLineError(f"failed to parse line: {line}")
    kind, path = parts[0].strip(), parts[1].strip()
    if kind not in MOUNT_TYPES:
        raise CSVLineError(f"unexpected mount type: {kind}")
    if not path:
        raise CSVLineError(f"invalid path: {path}")
    return MountSpec(kind, path)


def parse_csv(text: str) -> list[MountSpec]:
    """The entries of a CSV file's text; invalid lines (comments, blanks) are skipped."""
    specs: list[MountSpec] = []
    # Lines end at "\n" only (with an optional "\r"), as Go's line scanner splits them.
    for raw in text.split("\n"):
        line = raw.removesuffix("\r")
        try:
            specs.append(parse_line(line))
        except CSVLineError as err:
            _log.debug("Skipping invalid mount spec '%s': %s", line, err)
    return specs


def read_csv_files(paths: Sequence[str]) -> list[MountSpec]:
    """The entries of every CSV file in order; unreadable and empty files are skipped."""
    specs: list[MountSpec] = []
    for path in paths:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as err:
            _log.warning("Skipping CSV file %s: %s", path, err)
            continue
        found = parse_csv(data.decode("utf-8", "surrogateescape"))
        if not found:
            _log.warning("Skipping CSV file %s: no mount specs", path)
        specs += found
    return specs


def is_ignored(path: str, patterns: Sequence[str]) -> bool:
    """Whether a ``sym`` entry matches an ignore pattern; a ``**/`` prefix matches the
    entry's base name. A malformed pattern matches nothing."""
    for given in patterns:
        target, pattern = path, given
        if given.startswith("**/"):
            target, pattern = posixpath.basename(path), given.removeprefix("**/")
        try:
            if match(pattern, target):
                return True
        except PatternError:
            continue
    return False


def is_tegra(driver_root: str, sysfs_root: str) -> bool:
    """Whether the host is a Tegra system: the driver root has ``/etc/nv_tegra_release``, or
    the SoC family in sysfs starts with ``tegra`` (any case)."""
    try:
        if posixpath.lexists(locate.resolve_in_root(driver_root, TEGRA_RELEASE)):
            return True
        with open_in_root(sysfs_root, "/devices/soc0/family") as handle:
            return handle.read(64).strip().lower().startswith(b"tegra")
    except OSError:
        return False


# --- common edits ---------------------------------------------------------------------------


def _mounts(root: str, host_paths: Iterable[str]) -> list[Mount]:
    return [edits.mount(path, locate.container_path(root, path)) for path in host_paths]


def _locate_all(locator: locate.Locator, patterns: Iterable[str]) -> list[str]:
    found: dict[str, None] = {}
    for pattern in patterns:
        hits = locator.locate(pattern)
        if not hits:
            _log.debug("Could not locate %s", pattern)
        for hit in hits:
            found.setdefault(hit, None)
    return list(found)


def _symlink_links(root: str, search: Sequence[str], patterns: Sequence[str]) -> list[str]:
    """``readlink-target::link`` for every link in the chain of each ``sym`` entry.

    The first link keeps the entry's spelling; later ones are where the chain leads. Links
    are read with their directories resolved inside the root. nvidia-ctk writes the link's
    host path (with the driver root in front when that is not ``/``); the hook runs inside
    the container, so we write the container path.
    """
    view = locate.view_of(root)
    pairs: dict[str, None] = {}
    for pattern in patterns:
        for search_path in search:
            try:
                hits = view.glob(posixpath.join(search_path, pattern.lstrip("/")))
            except PatternError as err:
                _log.warning("cannot search for %s: %s", pattern, err)
                break
            for spelt, real, _diverted in hits:
                chain = locate.symlink_chain(root, view.host(real))
                for position, element in enumerate(chain):
                    try:
                        target = os.readlink(element)
                    except OSError:
                        continue  # Not a link: the end of the chain.
                    link = spelt if position == 0 else locate.container_path(root, element)
                    pairs.setdefault(f"{target}::{link}", None)
    return list(pairs)


def _compat_hook(options: Options, nvml: Nvml | None, hooks: HookMaker) -> list[Hook | None]:
    """``enable-cuda-compat`` with the host's CUDA version, only where NVML answers; Orin
    containers also get the directory of their compat libraries."""
    if nvml is None:
        return []
    try:
        value = nvml.cuda_driver_version()  # major * 1000 + minor * 10
        cuda = f"{value // 1000}.{value % 1000 // 10}"
    except NvmlError as err:
        _log.warning("failed to get CUDA driver version: %s", err)
        return []
    try:
        names = [nvml.device_by_index(i).name for i in range(nvml.device_count())]
        orin = any(_ORIN_NAME in name for name in names)
    except NvmlError as err:
        _log.warning("failed to get device names: %s", err)
        orin = False
    root = (options.csv_compat_container_root or DEFAULT_ORIN_COMPAT_ROOT) if orin else ""
    return [libraryhooks.cuda_compat_hook(hooks, cuda_version=cuda, compat_root=root)]


def csv_common_edits(
    options: Options, specs: MountSpecs, nvml: Nvml | None, hooks: HookMaker
) -> ContainerEdits:
    """Mounts of the ``dir``, ``lib`` and ``sym`` entries and ``/etc/nv_tegra_release``, and
    the hooks: ``sym`` links, library links, CUDA compatibility, then the linker cache."""
    root = options.driver_root
    search = (*options.library_search_paths, "/")
    directories = locate.FileLocator(root, ("/",), accept=locate.is_directory)
    resolving = locate.FileLocator(root, search, resolve_symlinks=True)
    sym = [path for path in specs.sym if not is_ignored(path, options.csv_ignore_patterns)]

    library_mounts = _mounts(root, _locate_all(resolving, specs.lib))
    mounts = [
        *_mounts(root, _locate_all(directories, specs.dir)),
        *library_mounts,
        *_mounts(root, _locate_all(resolving, sym)),
        *_mounts(root, locate.FileLocator(root).locate(TEGRA_RELEASE)),
    ]
    pairs = [(m.host_path, m.container_path) for m in library_mounts]
    hook_list = [
        hooks.create_symlinks(_symlink_links(root, search, sym)),
        hooks.create_symlinks(
            libraryhooks.driver_library_links(pairs, libraryhooks.WILDCARD_VERSION)
        ),
        *_compat_hook(options, nvml, hooks),
        libraryhooks.update_ldcache_hook(
            hooks,
            libraryhooks.ldcache_folders([m.container_path for m in library_mounts]),
            options.ldconfig_path,
        ),
    ]
    # A sym entry's target is often a lib entry too: mount it once.
    unique = tuple(dict.fromkeys(mounts))
    return ContainerEdits(hooks=tuple(h for h in hook_list if h is not None), mounts=unique)


# --- devices --------------------------------------------------------------------------------


def _dev_nodes(options: Options, patterns: Iterable[str]) -> dict[str, str]:
    """Container path -> host path of the char devices the ``dev`` entries match."""
    finder = locate.char_device_locator(options.device_root)
    nodes: dict[str, str] = {}
    for host_path in _locate_all(finder, patterns):
        nodes.setdefault(locate.container_path(options.device_root, host_path), host_path)
    return nodes


def _node_edits(options: Options, nodes: dict[str, str]) -> ContainerEdits:
    gids = not options.has(NO_ADDITIONAL_GIDS_FOR_DEVICE_NODES)
    return edits.merge(
        devicenode.node_edits(path, host, additional_gids=gids) for path, host in nodes.items()
    )


def _named(options: Options, index: int, uuid: str, device_edits: ContainerEdits) -> list[Device]:
    """The device under each of its names; a device without a UUID (pure CSV) has no
    ``uuid`` name."""
    names = [name for name in naming.device_names(options.name_strategies, index, uuid) if name]
    if not names:
        raise CSVError("no names defined")
    return [Device(name, container_edits=device_edits) for name in names]


def _pure_devices(options: Options, nodes: dict[str, str]) -> list[Device]:
    """One device, index 0, with every ``dev`` node; only ``all`` and ``0`` select it."""
    for device_id in options.device_ids:
        if device_id not in ("all", "0"):
            raise CSVError(f"unsupported device id: {device_id}")
    if not options.device_ids:
        return []
    if not nodes:
        _log.warning("No device nodes found for the CSV device")
    return _named(options, 0, "", _node_edits(options, nodes))


def is_integrated(device: NvmlDevice) -> bool:
    """Whether NVML's *device* is a Tegra iGPU: NVML has no PCI data for it and its name is
    an iGPU's, or it sits at the iGPU's PCI address."""
    try:
        return device.pci_bus_id == _IGPU_BUS_ID
    except NvmlError as err:
        if err.code != NOT_SUPPORTED:
            raise
    name = device.name
    return "(nvgpu)" in name or "NVIDIA Thor" in name


def _selected_indices(options: Options, gpus: Sequence[NvmlDevice]) -> list[int]:
    indices: dict[int, None] = {}
    for text in options.device_ids:
        wanted = naming.parse_device_id(text)
        if wanted.kind is naming.IdKind.ALL:
            indices.update(dict.fromkeys(range(len(gpus))))
        elif wanted.kind is naming.IdKind.GPU_INDEX and wanted.gpu is not None:
            if wanted.gpu >= len(gpus):
                raise CSVError(f"unsupported device id: {text}")
            indices.setdefault(wanted.gpu, None)
        elif wanted.kind is naming.IdKind.GPU_UUID:
            found = [i for i, device in enumerate(gpus) if device.uuid == text]
            if not found:
                raise CSVError(f"unsupported device id: {text}")
            indices.setdefault(found[0], None)
        else:
            # MIG devices do not exist on these systems.
            raise CSVError(f"unsupported device id: {text}")
    return sorted(indices)


def _mixed_devices(
    options: Options, nvml: Nvml, nodes: dict[str, str], hooks: HookMaker
) -> list[Device]:
    """An iGPU (index 0) beside discrete GPUs (Thor, IGX): the iGPU gets the ``dev`` nodes
    except the dGPU's ``/dev/nvidia1``, plus ``/dev/nvidia2``; a dGPU gets its NVML edits, the
    control nodes and the ``dev`` nodes that belong to no GPU in particular."""
    try:
        gpus = [nvml.device_by_index(i) for i in range(nvml.device_count())]
    except NvmlError as err:
        raise CSVError(f"failed to get device handle from index: {err}") from None
    if not is_integrated(gpus[0]):
        raise CSVError("device at index 0 is not an integrated GPU")
    for index, device in enumerate(gpus[1:], start=1):
        if is_integrated(device):
            raise CSVError(f"device at index {index} is not a discrete GPU")
    gids = not options.has(NO_ADDITIONAL_GIDS_FOR_DEVICE_NODES)
    devices: list[Device] = []
    for index in _selected_indices(options, gpus):
        device = gpus[index]
        if index == 0:
            own = {p: h for p, h in nodes.items() if p != "/dev/nvidia1"}
            own.update(_dev_nodes(options, ["/dev/nvidia2"]))
            device_edits = _node_edits(options, own)
        else:
            shared = {
                p: h
                for p, h in nodes.items()
                if not _GPU_NODE.fullmatch(p) and p not in CONTROL_NODES
            }
            full = gpu.full_gpu_edits(
                device,
                dev_root=options.device_root,
                sysfs_root=options.sysfs_root,
                hooks=hooks,
                additional_gids=gids,
            )
            device_edits = edits.merge(
                [full, control_node_edits(options, gids), _node_edits(options, shared)]
            )
        devices += _named(options, index, device.uuid, device_edits)
    return devices


def _device_count(options: Options, nvml: Nvml | None) -> int:
    """How many GPUs NVML sees, 0 when it is absent, fails or multiple devices are off."""
    if nvml is None or options.has(DISABLE_MULTIPLE_CSV_DEVICES):
        return 0
    try:
        return nvml.device_count()
    except NvmlError as err:
        _log.warning("failed to get device count: %s", err)
        return 0


def discover_csv(options: Options, *, nvml: Nvml | None, hooks: HookMaker) -> edits.Discovered:
    """The CSV mode's devices and common edits. *nvml* is an initialised NVML, or ``None``
    where it cannot be loaded. Raises :class:`CSVError` (and NvmlError from a failing NVML
    while describing a discrete GPU)."""
    specs = MountSpecs.of(read_csv_files(options.csv_files))
    nodes = _dev_nodes(options, specs.dev)
    if nvml is not None and _device_count(options, nvml) > 1:
        devices = _mixed_devices(options, nvml, nodes, hooks)
    else:
        devices = _pure_devices(options, nodes)
    common = csv_common_edits(options, specs, nvml, hooks)
    return edits.Discovered(tuple(devices), common)
