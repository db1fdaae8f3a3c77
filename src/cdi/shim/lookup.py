"""Finding the real OCI runtime: without ``PATH``, and never the shim itself.

podman runs ``delete`` with nothing in the environment but ``XDG_RUNTIME_DIR``, so a bare
candidate name is looked up in ``PATH`` when there is one (its absolute entries) and then in
the usual system directories. A candidate that turns out to be this shim (installed as
``runc`` earlier in ``PATH``, or a symlink to it) is skipped: executing it would loop
forever.
"""

from __future__ import annotations

import os
import stat
import sys

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["FALLBACK_DIRS", "RuntimeNotFoundError", "find_runtime"]

#: Searched after ``PATH`` (and instead of it when it is unset).
FALLBACK_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")

#: A script that runs this module: what the console-script wrapper of ``cdi-runtime`` holds.
_SHIM_MARKER = b"cdi.shim"


class RuntimeNotFoundError(Exception):
    """No candidate is an executable OCI runtime (the message lists the candidates)."""

    def __init__(self, message: str, tried: list[str]) -> None:
        super().__init__(message)
        #: Every path looked at, for the debug log.
        self.tried = tried


def _own_paths() -> set[str]:
    """The real paths this process was started as (the console script)."""
    started = sys.argv[0] if sys.argv else ""
    return {os.path.realpath(started)} if os.sep in started else set()


def _is_shim_script(path: str) -> bool:
    """Whether *path* is a script that runs this shim (another copy of its wrapper)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError:
        return False
    return head.startswith(b"#!") and _SHIM_MARKER in head


def _executable(path: str) -> bool:
    try:
        info = os.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and bool(info.st_mode & 0o111)


def _places(candidate: str, environ: Mapping[str, str]) -> list[str]:
    if os.sep in candidate:
        return [os.path.abspath(candidate)]
    # Absolute entries only: a relative one (or an empty one, the current directory) would
    # pick whatever the working directory -- a bundle -- holds, as root.
    dirs = [d for d in environ.get("PATH", "").split(os.pathsep) if d.startswith("/")]
    dirs += FALLBACK_DIRS
    # Each directory once (PATH often repeats one), in first-seen order.
    return [os.path.join(directory, candidate) for directory in dict.fromkeys(dirs)]


def find_runtime(
    candidates: Sequence[str], environ: Mapping[str, str] | None = None
) -> tuple[str, list[str]]:
    """The absolute path of the first candidate that is an executable runtime, and every
    path tried (for the debug log). Raises :class:`RuntimeNotFoundError`."""
    environ = os.environ if environ is None else environ
    own = _own_paths()
    tried: list[str] = []
    for candidate in candidates:
        if not candidate:
            continue
        for path in _places(candidate, environ):
            tried.append(path)
            if not _executable(path):
                continue
            if os.path.realpath(path) in own or _is_shim_script(path):
                continue  # ourselves: executing it would never reach a runtime
            return path, tried
    listed = " ".join(candidates)
    raise RuntimeNotFoundError(
        f"error locating runtime: no OCI runtime found from candidate list: [{listed}]", tried
    )
