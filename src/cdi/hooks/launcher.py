"""Building the ``cdi-hook`` launcher: a static executable that starts the hook isolated.

The ``cdi-hook`` console script that ``pip`` installs is a Python script: by the time its
first line runs, the interpreter has already honoured ``LD_PRELOAD`` (the dynamic loader)
and ``PYTHONPATH`` (``site``). It restarts itself isolated at once, which protects the
hook's own work and every child, but not that first moment. The launcher closes the gap: C,
statically linked, it hands ``python -I -m cdi.hooks`` only the variables the hook reads
(see ``launcher.c``). Specs in production should name it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from importlib import resources

from cdi.hooks.environment import SAFE_PATH
from cdi.hooks.errors import HookError

DEFAULT_DESTINATION = "/usr/local/bin/cdi-hook"


def build_launcher(
    destination: str = DEFAULT_DESTINATION, *, python: str = "", compiler: str = "cc"
) -> str:
    """Compile the launcher for *python* (default: this interpreter) and install it at
    *destination* (atomically, mode 0755); returns *destination*. Raises
    :class:`HookError` without a C compiler with static libc (Debian: gcc, libc6-dev)."""
    python = python or sys.executable
    if not os.path.isabs(python) or any(char in python for char in '"\\\n'):
        raise HookError(f"cannot build the launcher for interpreter {python!r}")
    found = shutil.which(compiler, path=SAFE_PATH) if "/" not in compiler else compiler
    if found is None:
        raise HookError(f"cannot build the launcher: no C compiler {compiler!r} on {SAFE_PATH}")
    source = resources.files("cdi.hooks").joinpath("launcher.c")
    directory = os.path.dirname(os.path.abspath(destination))
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, f".cdi-hook.{os.getpid()}.tmp")
    with resources.as_file(source) as source_path:
        command = [found, "-static", "-Os", "-s", f'-DCDI_PYTHON="{python}"', "-o", temporary]
        result = subprocess.run(
            [*command, str(source_path)],
            env={"PATH": SAFE_PATH},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    try:
        if result.returncode != 0:
            raise HookError(f"cannot build the launcher: {result.stderr.strip()}")
        os.chmod(temporary, 0o755)
        os.replace(temporary, destination)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return destination
