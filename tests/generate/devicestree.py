"""Fake ``/dev`` and ``/sys`` trees for the generic generator's tests, described as data.

A tree is a mapping with any of these keys (see ``tests/vectors/generate/devices_*.yaml``):

``dev``, ``sys``
    Raw entries, path relative to the tree -> what is there: ``{char: "MAJOR:MINOR", mode:
    "0660", gid: 44}`` (a real node, made with mknod), ``{block: "M:m"}``, ``{file: TEXT}``,
    ``{fifo: true}``, ``{dir: true}`` or ``{link: TARGET}``.
``devices``
    Character devices as the kernel shows them in sysfs: ``{number: "240:0", name:
    "tenstorrent!0", class: tenstorrent}`` plus optionally ``pci`` (the parent PCI function;
    without it the parent is a platform device), ``serial`` / ``serial_number`` (attributes
    of the parent), ``own_serial`` (a ``serial`` of the class device itself), ``devname``
    (``uevent``'s DEVNAME; default: the name with ``!`` as ``/``; ``null`` leaves it out),
    ``dev: false`` (no ``dev`` attribute) and ``node`` (also make the node under dev: its
    mode/gid mapping, or ``false``; default: a 0666 node at DEVNAME).

The sysfs layout is the kernel's: the class device under
``devices/<parent>/<class>/<name>`` with a ``device`` link to its parent, a link from
``class/<class>/<name>`` and from ``dev/char/<number>``, all relative as the kernel makes them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from generate.fixtures import make_char_device


def _numbers(text: str) -> tuple[int, int]:
    major, _, minor = str(text).partition(":")
    return int(major), int(minor)


def make_entry(path: Path, spec: dict[str, Any]) -> None:
    """One raw entry at *path* (parents made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if "char" in spec:
        major, minor = _numbers(spec["char"])
        make_char_device(path, major, minor, int(spec.get("mode", "0666"), 8), spec.get("gid", 0))
    elif "block" in spec:
        os.mknod(path, 0o660 | 0o060000, os.makedev(*_numbers(spec["block"])))
    elif "file" in spec:
        path.write_text(spec["file"])
    elif "fifo" in spec:
        os.mkfifo(path)
    elif "dir" in spec:
        path.mkdir(exist_ok=True)
    elif "link" in spec:
        path.symlink_to(spec["link"])
    else:
        raise ValueError(f"unknown tree entry {spec!r}")


def _relative_link(link: Path, target: Path) -> str:
    return os.path.relpath(target, link.parent)


def make_device(dev: Path, sys: Path, spec: dict[str, Any]) -> None:
    """One character device in sysfs (and, unless told otherwise, its node in dev)."""
    name, cls, number = spec["name"], spec["class"], str(spec["number"])
    pci = spec.get("pci")
    parent = sys / "devices" / (f"pci0000:00/{pci}" if pci else f"platform/parent-{name}")
    parent.mkdir(parents=True, exist_ok=True)
    for attribute in ("serial", "serial_number"):
        if attribute in spec:
            (parent / attribute).write_text(f"{spec[attribute]}\n")
    own = parent / cls / name
    own.mkdir(parents=True)
    (own / "device").symlink_to(_relative_link(own / "device", parent))
    devname = spec.get("devname", name.replace("!", "/"))
    if spec.get("dev", True):
        (own / "dev").write_text(f"{number}\n")
    major, minor = _numbers(number)
    uevent = f"MAJOR={major}\nMINOR={minor}\n" + (f"DEVNAME={devname}\n" if devname else "")
    (own / "uevent").write_text(uevent)
    if "own_serial" in spec:
        (own / "serial").write_text(f"{spec['own_serial']}\n")
    for link in (sys / "class" / cls / name, sys / "dev" / "char" / number):
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(_relative_link(link, own))
    node = spec.get("node", {})
    if node is not False:
        path = dev / (node.get("path") or devname or name.replace("!", "/"))
        make_char_device(path, major, minor, int(node.get("mode", "0666"), 8), node.get("gid", 0))


def build_tree(base: Path, tree: dict[str, Any]) -> tuple[Path, Path]:
    """The dev and sys directories of *tree*, made under *base*."""
    dev, sys = base / "dev", base / "sys"
    dev.mkdir(parents=True, exist_ok=True)
    sys.mkdir(parents=True, exist_ok=True)
    for spec in tree.get("devices", []):
        make_device(dev, sys, spec)
    for root, key in ((dev, "dev"), (sys, "sys")):
        for relative, spec in (tree.get(key) or {}).items():
            make_entry(root / relative, spec)
    return dev, sys
