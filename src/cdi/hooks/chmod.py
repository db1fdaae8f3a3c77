"""``chmod --mode OCTAL --path P...``: set the mode of paths in the root (e.g. ``/dev/dri``).

Each path is resolved inside the root; links among its components (``dev -> /outside``)
are followed *inside* the root, never onto the host (nvidia-cdi-hook follows them out: a
deliberate fix). A path that already has the mode is not touched, a missing one is skipped,
and EPERM (a read-only or foreign file system) is logged and ignored, as nvidia-cdi-hook
does. The mode is set natively (no ``chmod`` program is run, so no PATH is needed).
"""

from __future__ import annotations

import errno
import re
import sys
from collections.abc import Sequence

from cdi.hooks.errors import HookError
from cdi.hooks.rootfs import ContainerRoot

FLAGS = {"mode": "string", "path": "list"}
_OCTAL = re.compile(r"0?[0-7]{1,4}")


def parse_mode(text: str) -> int:
    """The permission bits of an octal mode such as ``755``."""
    if not _OCTAL.fullmatch(text):
        raise HookError(f'invalid mode "{text}": expected an octal number such as 755')
    return int(text, 8)


def chmod_paths(root: ContainerRoot, mode: int, paths: Sequence[str]) -> list[str]:
    """Give each of *paths* in *root* the *mode*; the paths changed."""
    changed = []
    for path in dict.fromkeys(paths):
        try:
            if root.chmod(path, mode):
                changed.append(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            if exc.errno != errno.EPERM:
                raise HookError(f"cannot change the mode of {path}: {exc.strerror}") from None
            sys.stderr.write(f"cdi-hook: chmod: ignoring {path}: {exc.strerror}\n")
    return changed


def run(root: ContainerRoot, options: dict[str, list[str] | bool]) -> None:
    """The ``chmod`` subcommand."""
    mode, paths = options.get("mode"), options.get("path")
    if not isinstance(mode, list) or not mode:
        raise HookError("a mode is required (--mode)")
    chmod_paths(root, parse_mode(mode[-1]), paths if isinstance(paths, list) else [])
