"""Edits a user adds to a generated spec by hand: ``KEY=VALUE`` environment entries and
``HOST:CONTAINER[:OPTIONS]`` bind mounts (``cdi generate devices --env/--mount``).

The rules are stricter than the spec's own, so that a typo fails at generation time and not
when a container starts:

* env: ``KEY=VALUE`` with a portable name (a letter or ``_``, then letters, digits, ``_``);
  the value may be empty and may hold anything, ``=`` included. A name given twice is an
  error (which one should win?).
* mounts: two absolute paths separated by ``:``, then optionally a comma-separated option
  list. Without options the mount is read-only (``ro,nosuid,nodev,rbind,rprivate``, as the
  generators mount driver files); with options they are taken as given, and ``rbind`` is
  added when neither ``bind`` nor ``rbind`` is among them, since these are always bind
  mounts (a mount without a type that is not a bind would fail in the runtime). Paths cannot
  contain ``:``. Host paths are the host's own: they are not looked up under any root, and
  not checked for existence (that would read the host outside the roots given).
  Two mounts at one container path are an error.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdi.generate.edits import READ_ONLY_BIND
from cdi.generate.errors import GenerateError
from cdi.gotext import quote
from cdi.spec.model import Mount

_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_CHARACTERS = _NAME_START | frozenset("0123456789")
_BINDS = ("bind", "rbind")


class UserEditError(GenerateError, ValueError):
    """An ``--env`` or ``--mount`` argument that does not follow its syntax."""


def parse_env(entries: Sequence[str]) -> tuple[str, ...]:
    """The *entries* (``KEY=VALUE``) checked, in the given order."""
    seen: set[str] = set()
    for entry in entries:
        name, equals, _value = entry.partition("=")
        if not equals:
            raise UserEditError(f"invalid env {quote(entry)}: expected KEY=VALUE")
        if not name or name[0] not in _NAME_START or not _NAME_CHARACTERS.issuperset(name):
            raise UserEditError(
                f"invalid env {quote(entry)}: the name must be a letter or _ followed by "
                "letters, digits or _"
            )
        if name in seen:
            raise UserEditError(f"invalid env {quote(entry)}: {name} is given twice")
        seen.add(name)
    return tuple(entries)


def parse_mount(text: str) -> Mount:
    """The bind mount *text* (``HOST:CONTAINER[:OPTIONS]``) names."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise UserEditError(f"invalid mount {quote(text)}: expected HOST:CONTAINER[:OPTIONS]")
    host, container = parts[0], parts[1]
    for role, path in (("host", host), ("container", container)):
        if not path.startswith("/"):
            raise UserEditError(f"invalid mount {quote(text)}: the {role} path must be absolute")
    if container.strip("/") == "":
        raise UserEditError(f"invalid mount {quote(text)}: cannot mount over the container's /")
    if len(parts) == 2:
        return Mount(host_path=host, container_path=container, options=READ_ONLY_BIND)
    options = parts[2].split(",")
    for option in options:
        if not option or option != option.strip():
            raise UserEditError(f"invalid mount {quote(text)}: empty or padded option")
    if not any(option in _BINDS for option in options):
        options.append("rbind")
    return Mount(host_path=host, container_path=container, options=tuple(options))


def parse_mounts(texts: Sequence[str]) -> tuple[Mount, ...]:
    """The mounts *texts* name, in the given order, each at its own container path."""
    mounts = tuple(parse_mount(text) for text in texts)
    seen: dict[str, str] = {}
    for text, mount in zip(texts, mounts, strict=True):
        earlier = seen.get(mount.container_path)
        if earlier is not None:
            raise UserEditError(
                f"invalid mount {quote(text)}: {mount.container_path} is already mounted by "
                f"{quote(earlier)}"
            )
        seen[mount.container_path] = text
    return mounts
