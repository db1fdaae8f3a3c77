"""Device nodes found under a dev root, described from the node itself or refused.

The sysfs-driven generators (Intel, and any that learn a node's name from sysfs) look a node up
by its name below ``/dev`` (``dri/renderD128``) in a dev root that may be a fake tree. The node
is described by :func:`cdi.generate.devicenode.node_edits` from ``lstat`` of the node the name
resolves to inside the root. A node that is missing, is not a character device, or cannot be
read is never written with made-up numbers: a required one is an error naming the path, an
optional one is left out when it is absent (but still refused when it is something else).

``path`` in the spec is the name under ``/dev``; ``hostPath`` is the node on the host when that
differs (a dev root other than ``/dev``, or a name that is a link inside the root).
"""

from __future__ import annotations

import os
import stat

from cdi.generate.devicenode import node_edits
from cdi.generate.errors import DeviceNodeError
from cdi.generate.subtree import Subtree
from cdi.spec.model import ContainerEdits

__all__ = ["DeviceNodeError", "char_node", "optional_char_node"]


def char_node(dev: Subtree, name: str, *, owner: str) -> ContainerEdits:
    """The edits for character device ``/dev/<name>`` of *dev*, which the device *owner*
    (named in errors: ``Intel GPU 0000:03:00.0``) needs: :class:`DeviceNodeError` when it is
    missing or is not a character device."""
    edits = _lookup(dev, name, owner, required=True)
    assert edits is not None  # a required node is found or raises
    return edits


def optional_char_node(dev: Subtree, name: str, *, owner: str) -> ContainerEdits | None:
    """Like :func:`char_node`, but ``None`` when the node does not exist."""
    return _lookup(dev, name, owner, required=False)


def _lookup(dev: Subtree, name: str, owner: str, *, required: bool) -> ContainerEdits | None:
    spelt = dev.spelt(name)
    host = dev.resolve(name)
    try:
        info = os.lstat(host)
    except FileNotFoundError:
        if not required:
            return None
        raise DeviceNodeError(f"{owner}: device node {spelt} does not exist") from None
    except OSError as error:
        raise DeviceNodeError(
            f"{owner}: cannot stat device node {spelt}: {error.strerror}"
        ) from None
    if not stat.S_ISCHR(info.st_mode):
        raise DeviceNodeError(f"{owner}: {spelt} is not a character device")
    container = f"{dev.mount_point.rstrip('/')}/{name}"
    return node_edits(container, host if host != container else "", stat=lambda _path: info)
