"""The generic generator: a spec of any kind for any character devices
(``cdi generate devices``).

For hardware whose vendor ships no generator (FPGAs such as Alveo cards, Tenstorrent
accelerators, ...). The nodes come from globs over ``/dev`` and/or the entries of a sysfs
class (:mod:`cdi.generate.chardevices`); each node becomes one device, named by a template
(:mod:`cdi.generate.nametemplate`), and optionally a device ``all`` with every node. Extra
environment and bind mounts (:mod:`cdi.generate.useredits`) go to the spec's own edits, which
every device of the kind gets.

Order: nodes are sorted by the PCI address of their device (nodes without one first), then
major, minor and path; ``{index}`` counts in that order, the devices follow it, and ``all``
comes last. So the spec is the same on every run on the same host, and indices follow the
cards' slots rather than the order in which the driver happened to probe them.

Everything is checked before anything is returned: a name that a node cannot fill, that is
not a valid device name or that two nodes share is an error, as is a node the kernel lists
but ``/dev`` lacks. Nothing partial is produced.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence

from cdi.errors import InvalidNameError, SpecError
from cdi.generate.chardevices import (
    DeviceSearchError,
    FoundNode,
    check_class,
    check_glob,
    nodes_from_class,
    nodes_from_globs,
    pci_address,
    serial_number,
)
from cdi.generate.devicenode import StatFunction, node_edits
from cdi.generate.edits import merge
from cdi.generate.errors import GenerateError, NoDevicesError
from cdi.generate.nametemplate import NameTemplate
from cdi.generate.subtree import Subtree
from cdi.generate.transform import ALL_DEVICE, dedupe
from cdi.generate.useredits import parse_env, parse_mounts
from cdi.gotext import quote
from cdi.names import validate_device_name, validate_kind
from cdi.spec import record
from cdi.spec.load import validate_spec
from cdi.spec.model import ContainerEdits, Device, Spec
from cdi.spec.version import minimum_version

__all__ = ["DeviceNamingError", "InvalidKindError", "generate_devices"]


class DeviceNamingError(GenerateError):
    """The name template gives a node no name, an invalid one, or one another node has."""


class InvalidKindError(GenerateError, ValueError):
    """The kind asked for is not ``vendor/class`` by the naming rules."""


def _check_kind(kind: str) -> None:
    try:
        validate_kind(kind)
    except InvalidNameError as error:
        raise InvalidKindError(str(error)) from None


def _found_nodes(
    dev: Subtree,
    sysfs: Subtree,
    globs: Sequence[str],
    sysfs_class: str | None,
    report: Callable[[str], None],
) -> list[FoundNode]:
    """Every node the globs and the class find, each container path once (first finding)."""
    found = nodes_from_globs(dev, globs, report)
    if sysfs_class is not None:
        found += nodes_from_class(dev, sysfs, sysfs_class, report)
    unique: dict[str, FoundNode] = {}
    for node in found:
        unique.setdefault(node.path, node)
    return list(unique.values())


def _nothing_found(
    kind: str, globs: Sequence[str], sysfs_class: str | None, dev: Subtree, sysfs: Subtree
) -> str:
    places = []
    if globs:
        places.append(f"none matches {', '.join(globs)} in {dev.root}")
    if sysfs_class is not None:
        places.append(f"none in sysfs class {sysfs_class} ({sysfs.spelt('class/' + sysfs_class)})")
    return f"no character devices found for {kind}: {'; '.join(places)}"


class _Namer:
    """Fills the template for one node after another; the checks name the node at fault."""

    def __init__(self, template: NameTemplate, sysfs: Subtree, reserved: dict[str, str]) -> None:
        self.template = template
        self.sysfs = sysfs
        self.taken = dict(reserved)

    def _field(self, field: str, index: int, node: FoundNode, pci: str | None) -> str:
        value: str | None
        if field == "index":
            return str(index)
        if field == "basename":
            return posixpath.basename(node.path)
        if field == "pci":
            value, why = pci, f"{node.sysfs_device}/device is not a PCI device"
        else:
            value = serial_number(self.sysfs, node)
            why = (
                f"no serial or serial_number attribute in {node.sysfs_device}/device"
                f" or {node.sysfs_device}"
            )
        if value is None:
            raise DeviceNamingError(
                f"node {node.path} has no {{{field}}} for the name template"
                f" {quote(self.template.text)}: {why} (sysfs at {self.sysfs.root})"
            )
        return value

    def name(self, index: int, node: FoundNode, pci: str | None) -> str:
        values = {field: self._field(field, index, node, pci) for field in self.template.fields}
        name = self.template.render(values)
        try:
            validate_device_name(name)
        except InvalidNameError as error:
            raise DeviceNamingError(
                f"node {node.path}: the name {quote(name)} from the template"
                f" {quote(self.template.text)} is not a valid device name: {error}"
            ) from None
        holder = self.taken.get(name)
        if holder is not None:
            raise DeviceNamingError(
                f"node {node.path} gets the device name {quote(name)} from the template"
                f" {quote(self.template.text)}, which {holder} has already"
            )
        self.taken[name] = f"node {node.path}"
        return name


def _known_stat(node: FoundNode) -> StatFunction:
    """A stat function answering with the ``lstat`` made when the node was found: the data
    written is the data that was checked."""
    return lambda _path: node.info


def generate_devices(
    kind: str,
    *,
    device_globs: Sequence[str] = (),
    sysfs_class: str | None = None,
    name_template: str = "{index}",
    env: Sequence[str] = (),
    mounts: Sequence[str] = (),
    include_all: bool = False,
    sysfs_root: str = "/sys",
    dev_root: str = "/dev",
    progress: Callable[[str], None] | None = None,
) -> Spec:
    """The spec of *kind* (``vendor.com/class``) with one device per character device node
    found by *device_globs* (``/dev/...`` globs, under *dev_root*) and *sysfs_class* (the
    entries of ``<sysfs_root>/class/<sysfs_class>``), named by *name_template*; *env*
    (``KEY=VALUE``) and *mounts* (``HOST:CONTAINER[:OPTIONS]``) go to the spec's own edits;
    *include_all* adds the device ``all`` with every node. *dev_root* and *sysfs_root* are
    the directories read as ``/dev`` and ``/sys``; nothing outside them is read.

    *progress* gets a line per node found and per match skipped. Raises
    :class:`~cdi.generate.errors.NoDevicesError` when no node is found, another
    :class:`~cdi.generate.errors.GenerateError` for anything else wrong.
    """
    report = progress or (lambda _line: None)
    _check_kind(kind)
    template = NameTemplate.parse(name_template)
    common = ContainerEdits(env=parse_env(env), mounts=parse_mounts(mounts))
    if not device_globs and sysfs_class is None:
        raise DeviceSearchError("nothing to look for: give a device glob or a sysfs class")
    for pattern in device_globs:  # every argument is checked before anything is read
        check_glob(pattern)
    if sysfs_class is not None:
        check_class(sysfs_class)
    dev, sysfs = Subtree(dev_root, "/dev"), Subtree(sysfs_root, "/sys")

    found = _found_nodes(dev, sysfs, device_globs, sysfs_class, report)
    if not found:
        raise NoDevicesError(_nothing_found(kind, device_globs, sysfs_class, dev, sysfs))
    addressed = [(node, pci_address(sysfs, node)) for node in found]
    addressed.sort(key=lambda pair: (pair[1] or "", pair[0].major, pair[0].minor, pair[0].path))

    namer = _Namer(
        template,
        sysfs,
        {ALL_DEVICE: "the device with every node (include_all)"} if include_all else {},
    )
    devices = []
    for index, (node, pci) in enumerate(addressed):
        name = namer.name(index, node, pci)
        where = f", PCI {pci}" if pci else ""
        report(f"found {node.path} ({node.number}{where}): {kind}={name}")
        edits = node_edits(node.path, node.host_path, stat=_known_stat(node))
        devices.append(Device(name=name, container_edits=edits))
    if include_all:
        every = dedupe(merge(device.container_edits for device in devices))
        devices.append(Device(name=ALL_DEVICE, container_edits=every))

    spec = Spec(cdi_version="", kind=kind, devices=tuple(devices), container_edits=common)
    spec = record.replace(spec, cdi_version=minimum_version(spec))
    try:
        validate_spec(spec)
    except SpecError as error:  # the checks above should leave nothing for this to find
        raise GenerateError(f"the generated spec is not valid: {error}") from None
    return spec
