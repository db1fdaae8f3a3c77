"""What the engine end-to-end tests of ``cdi-runtime`` share: the shim's path, the busybox
image in the two forms engines import, the spec the tables request, running commands.

The engines themselves are in podmanengine.py and containerdengine.py: each is set up to
own no shared state -- storage, run directories, locks, config, network config and cgroups
live under the test's temporary directory or under a name with a random token -- and the
image it runs is imported from a busybox root filesystem, never pulled. The test modules
wrap their context managers in fixtures; each removes what was left behind (containers,
mounts, processes, cgroups) and then fails the test's teardown if there was any.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cdi.build.fs import Root
from cdi.build.image import ImageConfig
from cdi.build.output import OutputSpec, write_oci, write_rootfs_tar
from needs import unavailable

#: The shim as engines store it: an absolute path.
SHIM = os.path.join(os.path.dirname(sys.executable), "cdi-runtime")
#: conmon's default PATH, and what the engines get: nothing of the test's environment.
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
IMAGE = "localhost/cdi-busybox:test"
#: A container that runs until SIGTERM and then exits 0 (a shell as PID 1 ignores signals
#: it has no trap for, which would turn every stop into a 10 s wait for SIGKILL).
UNTIL_TERM = ["sh", "-c", 'trap "exit 0" TERM; sleep 1000 & wait']

#: The devices the tables request: ``vendor1.com/device=foo`` and ``=baz``; ``=bar`` is
#: the unknown one.
VENDOR1_SPEC: dict[str, Any] = {
    "cdiVersion": "0.6.0",
    "kind": "vendor1.com/device",
    "devices": [
        {"name": "foo", "containerEdits": {"env": ["FOO=injected"]}},
        {"name": "baz", "containerEdits": {"env": ["BAZ=injected"]}},
    ],
}

_TIMEOUT = 120


def token() -> str:
    """A random name part, so that names never collide with another run's."""
    return secrets.token_hex(4)


def run_command(
    argv: Sequence[str], env: dict[str, str], *, timeout: float = _TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run *argv* with exactly *env*; stdout and stderr captured, never checked."""
    return subprocess.run(
        list(argv),
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def output_of(result: subprocess.CompletedProcess[str]) -> str:
    """stdout and stderr together, for assertions on messages and for failure reports."""
    return result.stdout + result.stderr


def write_spec_dir(directory: Path, spec: dict[str, Any] = VENDOR1_SPEC) -> Path:
    """A spec directory holding *spec* (mode 0755, as the trust policy wants)."""
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    (directory / "vendor1.json").write_text(json.dumps(spec))
    return directory


def busybox_rootfs_tar(rootfs: Path, dest: Path) -> Path:
    """The busybox root filesystem as a plain tar, for ``podman import``."""
    with open(dest, "wb") as handle:
        write_rootfs_tar(Root(rootfs), handle)
    return dest


def busybox_oci_archive(rootfs: Path, dest: Path) -> Path:
    """The busybox root filesystem as an OCI image archive named :data:`IMAGE`, for
    ``ctr images import`` (the build layer's exporter writes it)."""
    write_oci(
        Root(rootfs),
        ImageConfig.scratch(),
        OutputSpec("oci", str(dest), {"name": IMAGE}),
        created="1970-01-01T00:00:00Z",
        epoch=0,
        status=lambda _message: None,
        workdir=dest.parent,
    )
    return dest


def require_commands(*commands: str) -> None:
    """Skip (or, where end-to-end tests are required, fail) unless the engine tests can run."""
    problem = missing_commands(*commands)
    if problem is not None:
        unavailable(problem)


def missing_commands(*commands: str) -> str | None:
    """Why the engine tests cannot run here (not root, a command missing), or ``None``."""
    if os.geteuid() != 0:
        return "the engine end-to-end tests need root"
    missing = [command for command in commands if shutil.which(command, path=HOST_PATH) is None]
    if missing:
        return f"not installed: {', '.join(missing)}"
    if not os.access(SHIM, os.X_OK):
        return f"{SHIM} is not installed (pip install -e .)"
    return None
