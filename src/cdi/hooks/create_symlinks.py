"""``create-symlinks --link TARGET::LINK``: the symbolic links a spec asks for, in the root.

Each distinct ``--link`` value is done once, in order. LINK is a container path resolved
inside the root like every other (a ``..`` that climbs, or a link among its parents that
points out of the root, is clamped at the root rather than refused); TARGET is written
verbatim, so a relative target stays relative and is only ever interpreted by the container.
An existing link with exactly that target is left alone; anything else at LINK but a
directory is replaced atomically.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdi.hooks.errors import HookError
from cdi.hooks.rootfs import ContainerRoot

FLAGS = {"link": "list"}
_SEPARATOR = "::"


def parse_link(spec: str) -> tuple[str, str]:
    """(target, link) of a ``TARGET::LINK`` argument; both parts must be non-empty."""
    parts = spec.split(_SEPARATOR)
    if len(parts) != 2 or not all(parts):
        raise HookError(f'invalid symlink specification: "{spec}" (expected TARGET::LINK)')
    return parts[0], parts[1]


def create_symlinks(root: ContainerRoot, links: Sequence[str]) -> list[str]:
    """Create the *links* (``TARGET::LINK`` each) in *root*; the LINK paths changed."""
    # Parse everything first, so that a bad argument changes nothing.
    wanted = [parse_link(spec) for spec in dict.fromkeys(links)]
    made = []
    for target, link in wanted:
        try:
            changed = root.replace_symlink(link, target)
        except OSError as exc:
            raise HookError(
                f"cannot create symbolic link {link} -> {target}: {exc.strerror}"
            ) from None
        if changed:
            made.append(link)
    return made


def run(root: ContainerRoot, options: dict[str, list[str] | bool]) -> None:
    """The ``create-symlinks`` subcommand."""
    links = options.get("link")
    create_symlinks(root, links if isinstance(links, list) else [])
