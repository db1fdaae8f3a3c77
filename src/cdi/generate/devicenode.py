"""Device nodes as generated specs carry them: the container path, the host path, stat data.

Since nvidia-ctk v1.19 every node is described the way runc's ``DeviceFromPath`` sees it
(``lstat`` of the host path): ``major``, ``minor``, the permission bits as ``fileMode``,
``permissions: rwm`` and a non-root ``gid``. A node that cannot be stat-ed as a device keeps
only its paths. A node whose group is not root and which is not world read+write needs that
group in the container, so its gid goes to ``additionalGids``.

Host paths come from foreign trees (a driver root, a dev root), resolved by the callers with
:func:`cdi.generate.locate.resolve_in_root`, so no symlink leads out of the root.
"""

from __future__ import annotations

import os
import posixpath
import stat as statmod
from collections.abc import Callable, Iterable

from cdi.generate.edits import merge
from cdi.generate.locate import char_device_locator, container_path
from cdi.spec.model import ContainerEdits, DeviceNode

#: The access every generated node grants, as runc's device helper sets it.
PERMISSIONS = "rwm"

#: The node types runc describes (``DeviceFromPath``); anything else keeps only its paths.
_DEVICE_TYPES = (statmod.S_IFCHR, statmod.S_IFBLK, statmod.S_IFIFO)

StatFunction = Callable[[str], os.stat_result | None]


def lstat_or_none(path: str) -> os.stat_result | None:
    """``os.lstat(path)``, or ``None`` when *path* cannot be stat-ed."""
    try:
        return os.lstat(path)
    except (OSError, ValueError):
        return None


def device_node(
    path: str, host_path: str = "", *, stat: StatFunction = lstat_or_none
) -> DeviceNode:
    """The spec entry for the node at container *path*, found on the host at *host_path*
    (empty: the same path). ``hostPath`` is dropped when it equals *path*."""
    source = host_path or path
    kept_host_path = "" if host_path == path else host_path
    info = stat(source)
    # runc's DeviceFromPath tests the type with a bit mask that also takes a symlink for a
    # char device 0:0; we look at the exact type instead, so a link never gets fake numbers.
    if info is None or statmod.S_IFMT(info.st_mode) not in _DEVICE_TYPES:
        return DeviceNode(path=path, host_path=kept_host_path)
    mode = statmod.S_IMODE(info.st_mode)
    return DeviceNode(
        path=path,
        host_path=kept_host_path,
        major=os.major(info.st_rdev),
        minor=os.minor(info.st_rdev),
        file_mode=mode or None,
        permissions=PERMISSIONS,
        gid=info.st_gid or None,
    )


def needs_additional_gid(node: DeviceNode) -> bool:
    """Whether the container needs the node's group to use it: a non-root group on a node
    that is not world read+write."""
    if not node.gid:
        return False
    return (node.file_mode or 0) & 0o006 != 0o006


def node_edits(
    path: str,
    host_path: str = "",
    *,
    additional_gids: bool = True,
    stat: StatFunction = lstat_or_none,
) -> ContainerEdits:
    """The edits for one node: the node, plus its gid in ``additionalGids`` when the
    container needs it (and *additional_gids* is on; the feature flag
    ``no-additional-gids-for-device-nodes`` turns it off)."""
    node = device_node(path, host_path, stat=stat)
    gids: tuple[int, ...] = ()
    if additional_gids and node.gid is not None and needs_additional_gid(node):
        gids = (node.gid,)
    return ContainerEdits(device_nodes=(node,), additional_gids=gids)


def matching_node_edits(
    dev_root: str,
    patterns: Iterable[str],
    *,
    additional_gids: bool = True,
    skip: Callable[[str], bool] = lambda _name: False,
) -> ContainerEdits:
    """The edits of every character device under *dev_root* matching one of *patterns*
    (``/dev/nvidia*``), each once, in pattern order; *skip* leaves out nodes by file name."""
    finder = char_device_locator(dev_root)
    found: dict[str, str] = {}
    for pattern in patterns:
        for host in finder.locate(pattern):
            if not skip(posixpath.basename(host)):
                found.setdefault(container_path(dev_root, host), host)
    return merge(
        node_edits(path, host, additional_gids=additional_gids) for path, host in found.items()
    )
