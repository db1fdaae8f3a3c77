"""Overlay mounts for the build cache, with ``mount(2)`` called directly.

Directories are passed as ``/proc/self/fd/N`` of descriptors opened for the call: the option
string has room for one page, so short names allow deep stacks (about 200 layers), and a
cache path holding ``,`` or ``:`` -- which overlayfs would split on -- needs no escaping.
"""

from __future__ import annotations

import os
from pathlib import Path

from cdi.errors import CDIError

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

#: The most lower layers one mount takes (the option string must fit in a page).
MAX_LOWERS = 200
_MNT_DETACH = 2
_libc: Any = None


class MountError(CDIError):
    """An overlay mount or unmount failed."""


def _c_library() -> Any:
    global _libc  # noqa: PLW0603 -- loaded once, by the first build that mounts
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _fail(what: str, target: Path) -> MountError:
    import ctypes

    number = ctypes.get_errno()
    return MountError(f"{what} {target}: {os.strerror(number)}")


def mount_overlay(
    target: Path, lowers: Sequence[Path], upper: Path | None = None, work: Path | None = None
) -> None:
    """Mount an overlay of *lowers* (topmost first) at *target*; read-only without *upper*.

    Raises :class:`MountError`.
    """
    if not lowers or len(lowers) > MAX_LOWERS:
        raise MountError(
            f"an overlay mount takes 1 to {MAX_LOWERS} lower layers, not {len(lowers)}"
        )
    opened: list[int] = []
    try:
        for path in (*lowers, *((upper, work) if upper is not None and work is not None else ())):
            opened.append(os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
        names = [f"/proc/self/fd/{fd}" for fd in opened]
        options = "lowerdir=" + ":".join(names[: len(lowers)])
        if upper is not None:
            options += f",upperdir={names[-2]},workdir={names[-1]}"
        libc = _c_library()
        if libc.mount(b"overlay", os.fsencode(target), b"overlay", 0, options.encode()) != 0:
            raise _fail("cannot mount an overlay at", target)
    finally:
        for fd in opened:
            os.close(fd)


def unmount(target: Path) -> None:
    """Detach the mount at *target* (lazily: a process still inside keeps it until it leaves)."""
    if _c_library().umount2(os.fsencode(target), _MNT_DETACH) != 0:
        raise _fail("cannot unmount", target)
