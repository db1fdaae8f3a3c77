"""``update-ldcache``: add the spec's library folders to the container's ``ld.so.cache``.

The confinement is in two parts, each done by something that cannot be led out of the root:

* The configuration is written by us, only through
  :class:`~cdi.hooks.rootfs.ContainerRoot` (paths resolved inside the root, files created
  relative to directory descriptors, never through a link): ``/etc/ld.so.conf`` (``include
  /etc/ld.so.conf.d/*.conf``) when the container has none,
  ``/etc/ld.so.conf.d/00-cdi-<random>.conf`` with the folders not configured already (so that
  they come first), and ``zz-cdi-<random>.conf`` with the container's system directories
  (``/lib/<triplet>``, ``/usr/lib/<triplet>``, ``/lib``, ``/usr/lib`` in a Debian-like root,
  ``/lib``, ``/usr/lib``, ``/lib64``, ``/usr/lib64`` (and the ``libx32`` pair on x86-64) in
  others) not configured already: the host's ldconfig was built with the host's trusted
  directories, not the container's.
* The cache is built by the host's glibc ``ldconfig -r ROOT -f /etc/ld.so.conf -C
  /etc/ld.so.cache``: with ``-r`` ldconfig calls ``chroot(ROOT)`` before it opens any
  configuration, library or cache file, so the kernel resolves everything it touches inside
  the root, links included (``etc -> /etc`` is ``ROOT/etc`` to it). nvidia-cdi-hook instead
  re-executes itself into new namespaces and pivots into the root; ``chroot`` gives the same
  containment for a program that only reads and writes files, without the re-execution (which
  passed the caller's environment on).

ldconfig gets an environment of its own (``PATH`` and ``LC_ALL=C`` only: no ``LD_*``,
``PYTHON*``), ``/dev/null`` as stdin, no other inherited descriptor, and a time limit; its
failure is a :class:`UpdateLdcacheError` with what it printed.

In an Alpine root (``/etc/alpine-release``) there is no ``ld.so.cache``: the folders are
appended to musl's ``/etc/ld-musl-<arch>.path`` (seeded with musl's default path when absent,
so that creating the file does not drop ``/lib`` and ``/usr/lib``) and ldconfig is not run.

Folders are container paths; ``..`` in them stops at the root (``/usr/../../x`` is ``/x``).
The ldconfig path is a host path chosen by the spec's author and must be absolute; when
``<path>.real`` exists it is used instead (Ubuntu's ``/sbin/ldconfig`` is a shell wrapper
around ``ldconfig.real``).
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import stat
import subprocess
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from cdi.hooks.errors import HookError
from cdi.hooks.rootfs import proc_fd_path

if TYPE_CHECKING:
    from cdi.hooks.rootfs import ContainerRoot

FLAGS = {"ldconfig-path": "string", "folder": "list"}

DEFAULT_LDCONFIG = "/sbin/ldconfig"
LD_SO_CONF = "/etc/ld.so.conf"
LD_SO_CONF_D = "/etc/ld.so.conf.d"
LD_SO_CACHE = "/etc/ld.so.cache"
INCLUDE_LINE = "include /etc/ld.so.conf.d/*.conf\n"
#: What ldconfig gets as its environment: nothing inherited.
CHILD_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
LDCONFIG_TIMEOUT = 120.0

#: Caps on reading the container's configuration (it is hostile: no unbounded reads).
_MAX_CONF = 1 << 20
_MAX_CONF_FILES = 256
_MAX_INCLUDE_DEPTH = 8
_MAX_STDERR = 4096
#: musl's built-in search path, used when it has no path file.
_MUSL_DEFAULT = ("/lib", "/usr/local/lib", "/usr/lib")

#: uname machine -> (Debian multiarch triplet, musl arch name).
_ARCHES = {
    "x86_64": ("x86_64-linux-gnu", "x86_64"),
    "aarch64": ("aarch64-linux-gnu", "aarch64"),
    "ppc64le": ("powerpc64le-linux-gnu", "powerpc64le"),
    "s390x": ("s390x-linux-gnu", "s390x"),
    "riscv64": ("riscv64-linux-gnu", "riscv64"),
    "i686": ("i386-linux-gnu", "i386"),
    "i386": ("i386-linux-gnu", "i386"),
    "armv7l": ("arm-linux-gnueabihf", "armhf"),
}


class UpdateLdcacheError(HookError):
    """``update-ldcache`` could not configure or run ldconfig."""


def run(root: ContainerRoot, options: dict[str, Any]) -> None:
    folders = [in_root_path(folder) for folder in options.get("folder", [])]
    machine = os.uname().machine
    if root.exists("/etc/alpine-release"):
        update_musl_path(root, folders, machine)
        return
    ldconfig = ldconfig_path(_last(options, "ldconfig-path") or DEFAULT_LDCONFIG)
    write_configuration(root, folders, machine)
    # Absolute: ldconfig runs with "/" as its working directory.
    run_ldconfig(ldconfig, os.path.abspath(root.host_path))


def in_root_path(path: str) -> str:
    """*path* as an absolute, normalised container path; ``..`` stops at the root."""
    if "\0" in path or "\n" in path:
        raise UpdateLdcacheError(f"invalid folder {path!r}")
    return posixpath.normpath("/" + path.lstrip("/"))


def ldconfig_path(path: str) -> str:
    """The host ldconfig to run for *path*: ``<path>.real`` when it exists."""
    if not os.path.isabs(path):
        raise UpdateLdcacheError(f"--ldconfig-path must be an absolute path, not {path!r}")
    real = path + ".real"
    return real if os.path.exists(real) else path


def system_dirs(debian_like: bool, machine: str) -> list[str]:
    """The directories the container's own dynamic loader searches by default."""
    triplet = _ARCHES.get(machine, (f"{machine}-linux-gnu", machine))[0]
    if debian_like:
        return [f"/lib/{triplet}", f"/usr/lib/{triplet}", "/lib", "/usr/lib"]
    dirs = ["/lib", "/usr/lib", "/lib64", "/usr/lib64"]
    if machine == "x86_64":
        dirs += ["/libx32", "/usr/libx32"]
    return dirs


def plan(
    folders: Sequence[str], configured: Iterable[str], system: Sequence[str]
) -> tuple[list[str], list[str]]:
    """(lines of ``00-cdi-*.conf``, lines of ``zz-cdi-*.conf``): the folders that are
    neither configured nor system directories, and the system directories not configured."""
    known = set(configured)
    first = _unique(folder for folder in folders if folder not in known and folder not in system)
    last = _unique(directory for directory in system if directory not in known)
    return first, last


def write_configuration(root: ContainerRoot, folders: Sequence[str], machine: str) -> None:
    """Write ``/etc/ld.so.conf`` (if missing) and the two conf files inside the root."""
    if not root.exists(LD_SO_CONF):
        # Missing, or a dangling link (replaced, not written through).
        root.write_file(LD_SO_CONF, INCLUDE_LINE.encode(), 0o644)
    debian_like = root.is_regular_file("/etc/debian_version")
    first, last = plan(folders, configured_dirs(root), system_dirs(debian_like, machine))
    suffix = os.urandom(8).hex()
    for prefix, lines in (("00", first), ("zz", last)):
        if lines:
            data = "".join(f"{line}\n" for line in lines).encode()
            name = f"{LD_SO_CONF_D}/{prefix}-cdi-{suffix}.conf"
            root.write_file(name, data, 0o644, parent_mode=0o755, exclusive=True)


def configured_dirs(root: ContainerRoot) -> list[str]:
    """The directories ``/etc/ld.so.conf`` of the container lists, includes followed (as
    ldconfig reads them, within limits: a hostile root cannot make us read without end)."""
    found: list[str] = []
    seen: set[str] = set()
    pending = [(LD_SO_CONF, 0)]
    while pending and len(seen) < _MAX_CONF_FILES:
        path, depth = pending.pop(0)
        if path in seen:
            continue
        seen.add(path)
        text = _read_conf(root, path)
        if text is None:
            continue
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            fields = line.split()
            if not fields or fields[0] == "hwcap":
                continue
            if fields[0] != "include":
                found.append(posixpath.normpath("/" + line.lstrip("/")))
            elif depth < _MAX_INCLUDE_DEPTH:
                # Relative include patterns are relative to the including file, as in glibc.
                base = posixpath.dirname(path)
                for pattern in fields[1:]:
                    pending.extend((match, depth + 1) for match in _glob(root, base, pattern))
    return found


def _read_conf(root: ContainerRoot, path: str) -> str | None:
    """The text of the regular file *path*, links followed inside the root (Debian's
    alternatives make conf files links); ``None`` when it is missing or anything else."""
    try:
        with root.opened(path) as fd:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            # Reopen exactly the inode checked; never a FIFO or device that could block.
            handle = os.open(proc_fd_path(fd), os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY)
        with os.fdopen(handle, "rb") as file:
            return file.read(_MAX_CONF).decode("utf-8", "replace")
    except OSError:
        return None


def _glob(root: ContainerRoot, base: str, pattern: str) -> list[str]:
    """The sorted paths matching *pattern* (wildcards in the last component only, the form
    ``ld.so.conf`` files use); a pattern without wildcards names itself."""
    pattern = posixpath.normpath(posixpath.join(base, pattern))
    directory, name = posixpath.split(pattern)
    if not any(char in name for char in "*?["):
        return [pattern]
    try:
        names = root.listdir(directory)
    except (HookError, OSError):
        return []
    return [posixpath.join(directory, entry) for entry in names if fnmatch.fnmatch(entry, name)]


def update_musl_path(root: ContainerRoot, folders: Sequence[str], machine: str) -> None:
    """Add the *folders* musl does not search yet to ``/etc/ld-musl-<arch>.path``."""
    path = f"/etc/ld-musl-{_ARCHES.get(machine, ('', machine))[1]}.path"
    if root.exists(path):
        text = root.read_file(path, _MAX_CONF).decode("utf-8", "replace")
        current = [part for part in text.replace(":", "\n").split() if part]
        seed: list[str] = []
    else:
        current, seed = list(_MUSL_DEFAULT), list(_MUSL_DEFAULT)
    added = _unique(folder for folder in folders if folder not in current)
    if not added:
        return
    data = "".join(f"{line}\n" for line in [*seed, *added]).encode()
    if seed:
        root.write_file(path, data, 0o644, parent_mode=0o755)
    else:
        root.append_file(path, data)


def run_ldconfig(ldconfig: str, root_host_path: str) -> None:
    """Run the host's *ldconfig* chrooted into the root (``-r``), cleanly; raise on failure."""
    command = [ldconfig, "-r", root_host_path, "-f", LD_SO_CONF, "-C", LD_SO_CACHE]
    try:
        result = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=CHILD_ENV,
            close_fds=True,
            cwd="/",
            timeout=LDCONFIG_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise UpdateLdcacheError(
            f"{ldconfig} did not finish within {LDCONFIG_TIMEOUT:g} seconds"
        ) from None
    except OSError as exc:
        raise UpdateLdcacheError(f"cannot run {ldconfig}: {exc.strerror}") from None
    if result.returncode != 0:
        detail = result.stderr[-_MAX_STDERR:].decode("utf-8", "replace").strip()
        raise UpdateLdcacheError(
            f"{ldconfig} failed (exit status {result.returncode})"
            + (f": {detail}" if detail else "")
        )


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _last(options: dict[str, Any], name: str) -> str | None:
    values = options.get(name)
    return values[-1] if isinstance(values, list) and values else None
