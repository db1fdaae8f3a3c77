"""Character device nodes for the generic generator, and the sysfs data their names use.

Nodes come from globs over the dev tree (``/dev/fpga*``) or from the entries of a sysfs class
(``/sys/class/tenstorrent/*``, each naming its node by ``uevent``'s ``DEVNAME`` or by its
``dev`` number). Both trees are :class:`~cdi.generate.subtree.Subtree` objects: links are
followed inside them only, so a fake tree never leads to the host's own ``/dev`` or ``/sys``.

A node's sysfs directory is its class entry, or else ``/sys/dev/char/MAJOR:MINOR`` (the
kernel's index of character devices). Its ``device`` link leads to the parent device, whose
name is the PCI address when the parent is a PCI function.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cdi.generate.errors import DeviceNodeError, GenerateError
from cdi.generate.subtree import OutsideTreeError, Subtree, SubtreeError
from cdi.globs import PatternError, compile_pattern, has_magic
from cdi.gopath import clean
from cdi.gotext import quote

Report = Callable[[str], None]

#: A PCI address as sysfs names PCI functions (domain:bus:device.function, hexadecimal).
PCI_ADDRESS = re.compile(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]")
#: The attributes that hold a device's serial number, in the order they are tried.
SERIAL_ATTRIBUTES = ("serial", "serial_number")

_TYPE_NAMES = {
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFREG: "a regular file",
    stat.S_IFSOCK: "a socket",
}


class DeviceSearchError(GenerateError, ValueError):
    """A device glob or sysfs class that cannot be searched for."""


@dataclass(frozen=True)
class FoundNode:
    """A character device node: its container path, the host node behind it (links resolved
    inside the dev tree), its ``lstat`` and its sysfs directory (a ``/sys`` path)."""

    path: str
    host_path: str
    info: os.stat_result
    sysfs_device: str

    @property
    def number(self) -> str:
        return f"{os.major(self.info.st_rdev)}:{os.minor(self.info.st_rdev)}"

    @property
    def major(self) -> int:
        return os.major(self.info.st_rdev)

    @property
    def minor(self) -> int:
        return os.minor(self.info.st_rdev)


def _relative(tree: Subtree, host: str) -> str:
    """The path of host path *host* (inside *tree*) relative to the tree's top."""
    return host[len(tree.root.rstrip("/")) :].strip("/")


def _machine(tree: Subtree, relative: str) -> str:
    return posixpath.join(tree.mount_point, relative) if relative else tree.mount_point


def check_glob(pattern: str) -> str:
    """*pattern* relative to ``/dev``; raises :class:`DeviceSearchError` unless it is an
    absolute, well-formed glob below ``/dev``."""
    cleaned = clean(pattern) if pattern.startswith("/") else ""
    if not cleaned.startswith("/dev/"):
        raise DeviceSearchError(
            f"invalid device glob {quote(pattern)}: it must be an absolute path under /dev"
        )
    relative = cleaned[len("/dev/") :]
    for part in relative.split("/"):
        if has_magic(part):
            try:
                compile_pattern(part)
            except PatternError as error:
                raise DeviceSearchError(f"invalid device glob {quote(pattern)}: {error}") from None
    return relative


def check_class(name: str) -> str:
    """*name* when it can name a directory of ``/sys/class``."""
    if not name or "/" in name or name in (".", ".."):
        raise DeviceSearchError(f"invalid sysfs class {quote(name)}: expected a name like fpga")
    return name


def _describe(dev: Subtree, path: str, host: str, report: Report) -> os.stat_result | None:
    """The ``lstat`` of the host node *host* behind container *path* if it is a character
    device; ``None`` (and a progress line) when it is missing or something else."""
    try:
        info = os.lstat(host)
    except FileNotFoundError:
        if host == dev.spelt(path[len("/dev") :]):
            report(f"skipping {path}: it does not exist")
        else:
            target = _machine(dev, _relative(dev, host))
            report(f"skipping {path}: a link to {target}, which does not exist")
        return None
    except OSError as error:
        raise DeviceNodeError(f"cannot stat {path} ({host}): {error.strerror}") from error
    if not stat.S_ISCHR(info.st_mode):
        what = _TYPE_NAMES.get(stat.S_IFMT(info.st_mode), "not a device")
        report(f"skipping {path}: not a character device ({what})")
        return None
    return info


def _listing(tree: Subtree, relative: str) -> list[str]:
    """The names in a directory; one whose link leads out of the tree has none (a directory
    that cannot be read is an error)."""
    try:
        return tree.listdir(relative)
    except OutsideTreeError:
        return []


def nodes_from_globs(dev: Subtree, patterns: Sequence[str], report: Report) -> list[FoundNode]:
    """The character devices matching *patterns* (``/dev/...`` globs, checked by
    :func:`check_glob`), in pattern order and byte order within a directory; anything else
    that matches is skipped with a progress line."""
    found = []
    for pattern in patterns:
        for relative in dev.glob(check_glob(pattern)):
            path = _machine(dev, relative)
            try:
                host = dev.resolve(relative)
            except SubtreeError as error:
                report(f"skipping {path}: {error}")
                continue
            info = _describe(dev, path, host, report)
            if info is not None:
                number = f"{os.major(info.st_rdev)}:{os.minor(info.st_rdev)}"
                found.append(FoundNode(path, host, info, f"/sys/dev/char/{number}"))
    return found


def _dev_number(text: str | None) -> str | None:
    """``MAJOR:MINOR`` of a sysfs ``dev`` attribute, normalised; ``None`` when malformed."""
    if text is None:
        return None
    major, colon, minor = text.strip().partition(":")
    if not (colon and major.isdigit() and minor.isdigit()):
        return None
    return f"{int(major)}:{int(minor)}"


def _devname(text: str | None) -> str | None:
    """The ``DEVNAME`` of a sysfs ``uevent`` attribute."""
    for line in (text or "").splitlines():
        key, equals, value = line.partition("=")
        if equals and key == "DEVNAME" and value:
            return value
    return None


def _read(tree: Subtree, path: str) -> str | None:
    try:
        return tree.read_text(path)
    except OSError:  # SubtreeError included: a link out of the tree reads as nothing
        return None


def _class_node_path(
    dev: Subtree, entry: str, name: str, number: str | None, devname: str | None
) -> str:
    """The container path of the node of sysfs class entry *name* (at ``/sys`` path
    *entry*): ``DEVNAME``, else udev's ``/dev/char/MAJOR:MINOR`` link, else the entry's name
    with ``!`` for ``/`` (the kernel's spelling of a node in a subdirectory)."""
    if devname is not None:
        path = clean(f"/dev/{devname}")
        if not path.startswith("/dev/") or devname.startswith("/"):
            raise DeviceNodeError(f"{entry}/uevent: DEVNAME={devname} is not a path under /dev")
        return path
    if number is not None:
        try:
            host = dev.resolve(f"char/{number}")
            if stat.S_ISCHR(os.lstat(host).st_mode):
                return _machine(dev, _relative(dev, host))
        except OSError:  # SubtreeError included: no usable udev link
            pass
    return f"/dev/{name.replace('!', '/')}"


def nodes_from_class(dev: Subtree, sysfs: Subtree, name: str, report: Report) -> list[FoundNode]:
    """The character devices of every entry of ``/sys/class/<name>``, in entry order. An
    entry without a node is skipped with a progress line; a node the entry names but the
    dev tree lacks, or whose number differs from the entry's, is an error."""
    directory = f"class/{check_class(name)}"
    found = []
    for entry_name in _listing(sysfs, directory):
        relative = f"{directory}/{entry_name}"
        entry = _machine(sysfs, relative)
        try:
            sysfs.resolve(relative)
        except SubtreeError as error:
            report(f"skipping {entry}: {error}")
            continue
        number = _dev_number(_read(sysfs, f"{relative}/dev"))
        devname = _devname(_read(sysfs, f"{relative}/uevent"))
        if number is None and devname is None:
            report(f"skipping {entry}: no device node (no dev attribute, no DEVNAME in uevent)")
            continue
        path = _class_node_path(dev, entry, entry_name, number, devname)
        try:
            host = dev.resolve(path[len("/dev/") :])
        except SubtreeError as error:
            raise DeviceNodeError(f"{entry} names {path}: {error}") from None
        if not os.path.lexists(host):
            raise DeviceNodeError(
                f"{entry} names {path} ({number or 'no dev number'}), which is not in {dev.root}"
            )
        info = _describe(dev, path, host, report)
        if info is None:
            continue
        node = FoundNode(path, host, info, entry)
        if number is not None and node.number != number:
            raise DeviceNodeError(f"{path} is {node.number}, but {entry}/dev says {number}")
        found.append(node)
    return found


def pci_address(sysfs: Subtree, node: FoundNode) -> str | None:
    """The PCI address of the node's parent device (the target of its sysfs ``device``
    link), or ``None`` when the parent is not a PCI function or there is no such link."""
    try:
        parent = sysfs.resolve(f"{node.sysfs_device[len('/sys/') :]}/device")
    except SubtreeError:
        return None
    name = posixpath.basename(parent)
    return name if PCI_ADDRESS.fullmatch(name) and os.path.isdir(parent) else None


def serial_number(sysfs: Subtree, node: FoundNode) -> str | None:
    """The first non-empty ``serial``/``serial_number`` attribute of the node's parent
    device, then of its own sysfs directory."""
    own = node.sysfs_device[len("/sys/") :]
    for directory in (f"{own}/device", own):
        for attribute in SERIAL_ATTRIBUTES:
            text = (_read(sysfs, f"{directory}/{attribute}") or "").strip()
            if text:
                return text
    return None
