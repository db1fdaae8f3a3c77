"""A private podman for the end-to-end tests: storage, config, run directory and cgroups
of its own, the busybox image imported with ``podman import``.

What podman cannot be told to keep private: its blob-info cache
``/var/lib/containers/cache/blob-info-cache-v1.boltdb`` (written on import),
``/run/containers/networks`` (created empty), and runc's default state dir ``/run/runc``
(conmon passes no ``--root``; containers are removed from it by ``delete``). Those that a
module of tests created are removed after it (:func:`podman_fixed_paths`).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from engines import HOST_PATH, IMAGE, SHIM, output_of, run_command, token
from hoststate import (
    delete_runc_containers,
    kill_processes_mentioning,
    remove_cgroup,
    removed_if_created,
    unmount_under,
)

#: Where podman 4.3's own ``--device`` looks for specs (besides /etc/cdi; no setting for it).
ENGINE_SPEC_DIR = Path("/var/run/cdi")

#: What podman uses whatever its configuration says, children first.
_FIXED_PATHS = (
    Path("/var/lib/containers/cache/blob-info-cache-v1.boltdb"),
    Path("/var/lib/containers/cache"),
    Path("/var/lib/containers"),
    Path("/run/containers/networks"),
    Path("/run/containers"),
    Path("/run/runc"),
)


def podman_fixed_paths() -> contextlib.AbstractContextManager[None]:
    """Around a module of podman tests: removes podman's fixed paths if they were new."""
    return removed_if_created(*_FIXED_PATHS)


class Podman:
    """One private podman: storage, config and containers under *base*.

    :meth:`podman` runs ``podman <private storage flags> [--runtime SHIM] ARGS``;
    :meth:`run` adds ``run --cgroup-parent <this podman's cgroup>``, which is how the tests
    keep conmon's and the containers' cgroups out of podman's shared ``/libpod_parent``.
    """

    def __init__(self, base: Path, *, spec_dirs: Sequence[str], index_dir: Path) -> None:
        self.base = base
        self.storage = base / "storage"
        # podman refuses a runroot longer than 50 characters, which pytest's tmp_path of a
        # parametrized test easily is: a short directory of our own in /tmp instead.
        self.runroot = Path(tempfile.mkdtemp(prefix="cdi-podman-", dir="/tmp"))
        self.tmp = base / "tmp"
        for directory in (self.storage, self.tmp, base / "home"):
            directory.mkdir(parents=True, exist_ok=True)
        self.cgroup_parent = f"/cdi-e2e-{token()}"
        self.containers_conf = base / "containers.conf"
        self.storage_conf = base / "storage.conf"
        self.registries_conf = base / "registries.conf"
        self.shim_config = base / "cdi-runtime.toml"
        self.shim_config.write_text("")
        self.storage_conf.write_text(
            f'[storage]\ndriver = "vfs"\ngraphroot = "{self.storage}"\nrunroot = "{self.runroot}"\n'
        )
        self.registries_conf.write_text("")  # no registries: nothing is ever pulled
        self.index_dir = index_dir
        self.configure(spec_dirs=spec_dirs)

    def configure(self, *, spec_dirs: Sequence[str], supports_json: bool = False) -> None:
        """(Re)write containers.conf: the shim's spec dirs, and whether podman gives the
        shim ``--log-format=json --log <oci-log>`` (``runtime_supports_json``)."""
        conmon_env = [
            f"PATH={HOST_PATH}",
            f"CDI_SPEC_DIRS={':'.join(spec_dirs)}",
            f"CDI_INDEX_DIR={self.index_dir}",
            f"CDI_RUNTIME_CONFIG={self.shim_config}",
        ]
        json_line = 'runtime_supports_json = ["cdi-runtime"]\n' if supports_json else ""
        self.containers_conf.write_text(
            "[containers]\n"
            'netns = "none"\n'
            'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
            'log_driver = "k8s-file"\n'
            "\n[network]\n"
            f'network_config_dir = "{self.base / "networks"}"\n'
            "\n[engine]\n"
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "none"\n'
            'lock_type = "file"\n'
            f'tmp_dir = "{self.tmp}"\n'
            f'volume_path = "{self.base / "volumes"}"\n'
            f'image_copy_tmp_dir = "{self.tmp}"\n'
            f"conmon_env_vars = {json.dumps(conmon_env)}\n"
            f"{json_line}"
        )

    def environment(self) -> dict[str, str]:
        return {
            "PATH": HOST_PATH,
            "HOME": str(self.base / "home"),
            "TMPDIR": str(self.tmp),
            "CONTAINERS_CONF": str(self.containers_conf),
            "CONTAINERS_STORAGE_CONF": str(self.storage_conf),
            "CONTAINERS_REGISTRIES_CONF": str(self.registries_conf),
        }

    def command(self, *args: str, runtime: str | None = SHIM) -> list[str]:
        flags = ["--root", str(self.storage), "--runroot", str(self.runroot)]
        flags += ["--storage-driver", "vfs"]
        if runtime is not None:
            flags += ["--runtime", runtime]
        return ["podman", *flags, *args]

    def podman(self, *args: str, runtime: str | None = SHIM) -> subprocess.CompletedProcess[str]:
        """``podman [--runtime RUNTIME] ARGS`` (``runtime=None``: the stored or default one)."""
        return run_command(self.command(*args, runtime=runtime), self.environment())

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``podman --runtime SHIM run --cgroup-parent P ARGS``."""
        return self.podman("run", "--cgroup-parent", self.cgroup_parent, *args)

    def import_image(self, tar: Path) -> None:
        result = self.podman("import", str(tar), IMAGE, runtime=None)
        assert result.returncode == 0, output_of(result)

    def inspect(self, container: str) -> dict[str, Any]:
        result = self.podman("inspect", container, runtime=None)
        assert result.returncode == 0, output_of(result)
        inspected: dict[str, Any] = json.loads(result.stdout)[0]
        return inspected

    def oci_log(self, container_id: str) -> Path | None:
        """The container's ``oci-log`` (written by the shim when podman asks for JSON logs)."""
        found = [path for path in self.runroot.rglob("oci-log") if container_id in path.parts]
        return found[0] if found else None

    def close(self) -> list[str]:
        """Remove everything this podman made; a report of what was still there."""
        left = []
        listed = self.podman("ps", "--all", "--quiet", "--no-trunc", runtime=None)
        if listed.stdout.split():
            left.append(f"podman containers: {listed.stdout.split()}")
            self.podman("rm", "--force", "--all", "--time", "0", runtime=None)
        for directory in (self.base, self.runroot):
            left += delete_runc_containers(None, str(directory))
            if pids := kill_processes_mentioning(str(directory)):
                left.append(f"processes: {pids}")
            if points := unmount_under(directory):
                left.append(f"mounts: {points}")
        if cgroups := remove_cgroup(self.cgroup_parent):
            left.append(f"cgroups that could not be removed: {cgroups}")
        shutil.rmtree(self.runroot, ignore_errors=True)
        shutil.rmtree(self.storage, ignore_errors=True)  # vfs: a copy of the image per container
        return left


@contextlib.contextmanager
def private_podman(
    base: Path, *, image_tar: Path, spec_dirs: Sequence[str], index_dir: Path
) -> Iterator[Podman]:
    """A :class:`Podman` under *base* with :data:`IMAGE` imported; cleaned up afterwards,
    failing if podman left containers, mounts, processes or cgroups behind."""
    engine = Podman(base, spec_dirs=spec_dirs, index_dir=index_dir)
    try:
        engine.import_image(image_tar)
        yield engine
    finally:
        left = engine.close()
    assert not left, f"podman left behind: {left}"


@contextlib.contextmanager
def engine_spec_file(spec: dict[str, Any]) -> Iterator[Path]:
    """*spec* as a file of its own in :data:`ENGINE_SPEC_DIR`; removed afterwards, and the
    directory too if this created it. Its vendor must be unique: other suites may use the
    directory at the same time."""
    created = not ENGINE_SPEC_DIR.exists()
    ENGINE_SPEC_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
    path = ENGINE_SPEC_DIR / f"{spec['kind'].split('/')[0]}.json"
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(spec))
    temporary.rename(path)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
        if created:
            with contextlib.suppress(OSError):
                ENGINE_SPEC_DIR.rmdir()
