"""User and group names inside a root filesystem (``USER``, ``COPY --chown``).

Names are looked up in the root's own ``/etc/passwd`` and ``/etc/group`` (read through
:class:`cdi.build.fs.Root`, so a link cannot make us read the host's), as BuildKit does when it
starts a step; numeric ids need no entry.
"""

from __future__ import annotations

from cdi.build.fs import Owner, Root
from cdi.errors import CDIError
from cdi.spec.record import record


class UserError(CDIError):
    """A user or group name is not known in the root filesystem."""


@record
class ExecUser:
    """Who a RUN step runs as."""

    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()


def _entries(root: Root, path: str) -> list[list[str]]:
    text = root.read_text(path) or ""
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def _passwd(root: Root) -> list[tuple[str, int, int]]:
    result = []
    for fields in _entries(root, "/etc/passwd"):
        if len(fields) >= 4 and fields[2].isdigit() and fields[3].isdigit():
            result.append((fields[0], int(fields[2]), int(fields[3])))
    return result


def _groups(root: Root) -> list[tuple[str, int, list[str]]]:
    result = []
    for fields in _entries(root, "/etc/group"):
        if len(fields) >= 3 and fields[2].isdigit():
            members = [m for m in (fields[3].split(",") if len(fields) > 3 else []) if m]
            result.append((fields[0], int(fields[2]), members))
    return result


def _lookup_group(root: Root, group: str) -> int:
    if group.isdigit():
        return int(group)
    for name, gid, _ in _groups(root):
        if name == group:
            return gid
    raise UserError(f"unable to find group {group}: no matching entries in group file")


def resolve_exec_user(root: Root, spec: str) -> ExecUser:
    """The ids of ``USER`` *spec* (``name``, ``uid``, ``name:group``, ``uid:gid``, ...)."""
    if not spec:
        return ExecUser(0, 0)
    user, has_group, group = spec.partition(":")
    name = None
    if user.isdigit():
        uid = int(user)
        gid = 0
        for entry_name, entry_uid, entry_gid in _passwd(root):
            if entry_uid == uid:
                name, gid = entry_name, entry_gid
                break
    else:
        for entry_name, entry_uid, entry_gid in _passwd(root):
            if entry_name == user:
                name, uid, gid = entry_name, entry_uid, entry_gid
                break
        else:
            raise UserError(f"unable to find user {user}: no matching entries in passwd file")
    if has_group:
        return ExecUser(uid, _lookup_group(root, group))
    extra = tuple(
        sorted(
            {g for _, g, members in _groups(root) if name is not None and name in members} - {gid}
        )
    )
    return ExecUser(uid, gid, extra)


def resolve_chown(root: Root, spec: str) -> Owner:
    """The owner ``COPY --chown=`` *spec* names, looked up in the destination root.

    As documented for Dockerfiles: a user without a group gets the user's id as group id.
    """
    user, has_group, group = spec.partition(":")
    if not user:
        raise UserError(f"invalid chown specification {spec!r}")
    if user.isdigit():
        uid = int(user)
    else:
        for entry_name, entry_uid, _ in _passwd(root):
            if entry_name == user:
                uid = entry_uid
                break
        else:
            raise UserError(f"unable to find user {user}: no matching entries in passwd file")
    gid = _lookup_group(root, group) if has_group and group else uid
    return Owner(uid, gid)
