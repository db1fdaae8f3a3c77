"""A default OCI runtime spec (``config.json``) for running one command under runc.

It has the shape ``runc spec`` writes (OCI runtime spec 1.0.2, which runc 1.1 implements), with
these differences, all chosen for running commands and build steps rather than a shell on a
terminal:

* ``process.terminal`` is false unless asked for, so the command's stdin/stdout/stderr are the
  caller's file descriptors, passed straight through;
* ``PATH`` is always set (prepended to a caller's environment that lacks it);
* the capability set is the one Docker, containerd and BuildKit give a container by default
  (runc's three-capability example set leaves root in the container unable to ``chown`` or to
  write files it does not own, which ordinary build steps do), and no ambient capabilities;
* the root filesystem is writable unless asked for, and the hostname is ``cdi``.

The spec is a plain dict, freshly built on every call, so callers may edit it freely.
"""

from __future__ import annotations

from collections.abc import Sequence

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import Any

OCI_VERSION = "1.0.2-dev"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: Docker's / containerd's default capability set.
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

MASKED_PATHS = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
)

READONLY_PATHS = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)

NAMESPACES = ("pid", "network", "ipc", "uts", "mount")


def _mounts() -> list[dict[str, Any]]:
    return [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"],
        },
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
        },
    ]


def _environment(env: Sequence[str] | None, terminal: bool) -> list[str]:
    if env is None:
        result = [f"PATH={DEFAULT_PATH}"]
        if terminal:
            result.append("TERM=xterm")
        return result
    result = list(env)
    if not any(entry.startswith("PATH=") for entry in result):
        result.insert(0, f"PATH={DEFAULT_PATH}")
    return result


def default_oci_spec(
    args: Sequence[str],
    *,
    env: Sequence[str] | None = None,
    cwd: str = "/",
    terminal: bool = False,
    readonly_rootfs: bool = False,
    hostname: str = "cdi",
    uid: int = 0,
    gid: int = 0,
    additional_gids: Sequence[int] | None = None,
    capabilities: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A new OCI runtime spec that runs *args* as *uid*:*gid* in *cwd*.

    *env* is a list of ``NAME=value`` entries (default: just ``PATH``, plus ``TERM`` on a
    terminal); ``PATH`` is added when missing. *capabilities* replaces the default set
    (:data:`DEFAULT_CAPABILITIES`) in the bounding, effective and permitted sets.
    ``root.path`` is ``"rootfs"`` as in ``runc spec``; :func:`cdi.runtime.run_container`
    replaces it with the root filesystem it is given.
    """
    if isinstance(args, str):
        raise TypeError("args must be a sequence of strings, not a string")
    if not args:
        raise ValueError("args must name a command")
    if not cwd.startswith("/"):
        raise ValueError(f"cwd must be an absolute path, not {cwd!r}")
    caps = list(DEFAULT_CAPABILITIES if capabilities is None else capabilities)
    user: dict[str, Any] = {"uid": uid, "gid": gid}
    if additional_gids:
        user["additionalGids"] = list(additional_gids)
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": terminal,
            "user": user,
            "args": list(args),
            "env": _environment(env, terminal),
            "cwd": cwd,
            "capabilities": {
                "bounding": list(caps),
                "effective": list(caps),
                "permitted": list(caps),
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": readonly_rootfs},
        "hostname": hostname,
        "mounts": _mounts(),
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": kind} for kind in NAMESPACES],
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }
