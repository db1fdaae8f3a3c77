"""What an engine test can leave on the host, found and removed by path.

Engines run as root and spread their state over the host: mounts, cgroups, processes that
outlive the command that started them. The end-to-end tests put every path they control
under a temporary directory of their own (or a name with a random token), so what they
left behind can be found by that prefix, removed, and reported.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _unescape_mountinfo(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mounts_under(directory: Path) -> list[str]:
    """Mount points at or below *directory*, deepest first."""
    prefix = str(directory).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            point = _unescape_mountinfo(line.split()[4])
            if point == prefix.rstrip("/") or point.startswith(prefix):
                found.append(point)
    return sorted(set(found), key=lambda point: point.count("/"), reverse=True)


def unmount_under(directory: Path) -> list[str]:
    """Detach every mount below *directory*; the mount points that were there."""
    points = mounts_under(directory)
    for point in points:
        subprocess.run(["umount", "-l", point], capture_output=True, check=False, timeout=30)
    return points


def processes_mentioning(text: str) -> list[int]:
    """Process ids whose command line contains *text* (a private path: only our own
    processes can name it)."""
    found = []
    needle = text.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if needle in handle.read():
                    found.append(int(entry))
        except OSError:
            continue  # gone already, or a kernel thread
    return found


def _command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def kill_processes_mentioning(text: str, *, grace: float = 10.0) -> list[str]:
    """Wait up to *grace* seconds for the processes :func:`processes_mentioning` finds to
    end on their own (an engine's clean-up runs on after its command returned), then
    SIGKILL the rest; their ids and command lines."""
    stop_at = time.monotonic() + grace
    while (pids := processes_mentioning(text)) and time.monotonic() < stop_at:
        time.sleep(0.1)
    found = [f"{pid}: {_command_line(pid)[:200]}" for pid in pids]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return found


def cgroup_dirs(relative: str) -> list[Path]:
    """The directories of cgroup *relative* (``/name/sub``) in every mounted hierarchy
    (cgroup v1 controllers, the hybrid ``unified`` tree, or the v2 root)."""
    name = relative.strip("/")
    candidates = [CGROUP_ROOT / name]
    if CGROUP_ROOT.is_dir():
        candidates += [hierarchy / name for hierarchy in CGROUP_ROOT.iterdir()]
    return [path for path in candidates if path.is_dir()]


def remove_cgroup(relative: str, *, attempts: int = 50) -> list[Path]:
    """Remove cgroup *relative* and its children wherever it exists; what could not be
    removed. Retries for a while: the last processes of a container (conmon, a runtime's
    exit) may still be leaving it when the engine's command returns."""
    left: list[Path] = []
    for _ in range(attempts):
        left = []
        for top in cgroup_dirs(relative):
            # Children first: a cgroup with children cannot be removed.
            for directory, _subdirs, _files in sorted(
                os.walk(top), key=lambda entry: entry[0].count("/"), reverse=True
            ):
                try:
                    os.rmdir(directory)
                except FileNotFoundError:
                    pass
                except OSError:
                    left.append(Path(directory))
        if not left:
            return []
        time.sleep(0.1)
    return left


def delete_runc_containers(root: Path | None, bundle_prefix: str) -> list[str]:
    """Delete runc's containers (in state dir *root*; ``None``: runc's default) whose bundle
    lies under *bundle_prefix*; a report of those there were."""
    argv = ["runc"] if root is None else ["runc", "--root", str(root)]

    def runc(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*argv, *args], capture_output=True, text=True, check=False, timeout=60
        )

    listed = runc("list", "--format", "json")
    entries = (json.loads(listed.stdout or "null") or []) if listed.returncode == 0 else []
    ours = [entry["id"] for entry in entries if entry["bundle"].startswith(bundle_prefix)]
    for container_id in ours:
        runc("delete", "--force", container_id)
    return [f"runc containers: {ours}"] if ours else []


@contextlib.contextmanager
def removed_if_created(*paths: Path) -> Iterator[None]:
    """Remove those of *paths* (files, or directories once empty) that did not exist
    before: the places an engine insists on using outside the directories it is given.
    List children before their parents."""
    created = [path for path in paths if not os.path.lexists(path)]
    try:
        yield
    finally:
        for path in created:
            with contextlib.suppress(OSError):  # not empty: someone else uses it now
                if path.is_dir() and not path.is_symlink():
                    path.rmdir()
                else:
                    path.unlink()
