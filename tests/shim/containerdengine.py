"""A private containerd 1.6 daemon for the end-to-end tests, and one namespace per test.

The daemon has its own root, state dir, socket and config (CRI plugin off); each test gets a
namespace, a runc state dir and a FIFO dir of its own, and the busybox image imported from
an OCI archive. What containerd cannot be told to keep private: its shims' sockets in
``/run/containerd/s`` (each removed when its shim exits; the directory is removed after
the daemon if it was new).
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from engines import HOST_PATH, SHIM, output_of, run_command, token
from hoststate import (
    delete_runc_containers,
    kill_processes_mentioning,
    remove_cgroup,
    removed_if_created,
    unmount_under,
)

#: Plugins that would keep state outside the daemon's root and state dirs, or that the
#: tests do not use (CRI: these tests are containerd without engine-side CDI).
_DISABLED_PLUGINS = (
    "io.containerd.grpc.v1.cri",
    "io.containerd.internal.v1.opt",
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.zfs",
    "io.containerd.tracing.processor.v1.otlp",
    "io.containerd.internal.v1.tracing",
)


class Containerd:
    """A containerd daemon of our own: root, state, socket and config under *base*.

    It is started with the shim's environment (``CDI_SPEC_DIRS``, ``CDI_INDEX_DIR``,
    ``CDI_RUNTIME_CONFIG``): the runc shim, and so ``cdi-runtime``, inherit it.
    """

    def __init__(self, base: Path, *, spec_dir: Path) -> None:
        self.base = base
        self.socket = base / "containerd.sock"
        self.config = base / "config.toml"
        self.log = base / "containerd.log"
        self.shim_config = base / "cdi-runtime.toml"
        self.shim_config.write_text("")
        self.spec_dir = spec_dir
        disabled = ", ".join(json.dumps(plugin) for plugin in _DISABLED_PLUGINS)
        self.config.write_text(
            "version = 2\n"
            f'root = "{base / "root"}"\n'
            f'state = "{base / "state"}"\n'
            f"disabled_plugins = [{disabled}]\n"
            f'[grpc]\naddress = "{self.socket}"\n'
            '[ttrpc]\naddress = ""\n'
            '[debug]\naddress = ""\n'
            '[metrics]\naddress = ""\n'
        )
        self.process: subprocess.Popen[bytes] | None = None

    def environment(self) -> dict[str, str]:
        return {
            "PATH": HOST_PATH,
            "CDI_SPEC_DIRS": str(self.spec_dir),
            "CDI_INDEX_DIR": str(self.base / "index"),
            "CDI_RUNTIME_CONFIG": str(self.shim_config),
        }

    def ctr_environment(self) -> dict[str, str]:
        # native: overlayfs cannot be used where the temp dir is itself on overlayfs (CI
        # in a container); the vfs-like snapshotter works on any filesystem.
        return {"PATH": HOST_PATH, "CONTAINERD_SNAPSHOTTER": "native"}

    def start(self, *, deadline: float = 60.0) -> None:
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                ["containerd", "--config", str(self.config)],
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        stop_at = time.monotonic() + deadline
        while True:
            version = run_command(
                ["ctr", "-a", str(self.socket), "version"], self.ctr_environment()
            )
            if version.returncode == 0:
                return
            if self.process.poll() is not None or time.monotonic() > stop_at:
                self.stop()
                raise RuntimeError(f"containerd did not start:\n{self.log.read_text()[-4000:]}")
            time.sleep(0.1)

    def stop(self) -> list[str]:
        """Stop the daemon and remove what it left; a report of processes and mounts that
        were still there (shims of containers that were not deleted)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        left = []
        if pids := kill_processes_mentioning(str(self.socket)):
            left.append(f"shim processes: {pids}")
        if points := unmount_under(self.base):
            left.append(f"mounts: {points}")
        return left


class CtrNamespace:
    """One test's containerd namespace, with its own runc state dir and FIFO dir."""

    def __init__(self, daemon: Containerd, base: Path) -> None:
        self.daemon = daemon
        self.name = f"cdi-e2e-{token()}"
        self.runc_root = base / "runc"
        self.fifo_dir = base / "fifo"

    def ctr(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``ctr -a SOCKET -n NAMESPACE ARGS``."""
        argv = ["ctr", "-a", str(self.daemon.socket), "-n", self.name, *args]
        return run_command(argv, self.daemon.ctr_environment())

    def run(self, *args: str, runc_binary: str = SHIM) -> subprocess.CompletedProcess[str]:
        """``ctr run --runc-binary SHIM ARGS``, with this namespace's runc root and FIFOs."""
        private = ["--fifo-dir", str(self.fifo_dir), "--runc-root", str(self.runc_root)]
        return self.ctr("run", *private, "--runc-binary", runc_binary, *args)

    def exec(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.ctr("tasks", "exec", "--fifo-dir", str(self.fifo_dir), *args)

    def import_image(self, archive: Path) -> None:
        result = self.ctr("images", "import", str(archive))
        assert result.returncode == 0, output_of(result)

    def task_status(self, container: str) -> str | None:
        """``RUNNING``, ``STOPPED``... from ``ctr tasks ls``; ``None``: no task."""
        for line in self.ctr("tasks", "ls").stdout.splitlines()[1:]:
            fields = line.split()
            if fields and fields[0] == container:
                return fields[-1]
        return None

    def wait_for_status(self, container: str, status: str, *, deadline: float = 60.0) -> None:
        stop_at = time.monotonic() + deadline
        while self.task_status(container) != status:
            assert time.monotonic() < stop_at, f"task {container} never became {status}"
            time.sleep(0.05)

    def runtime_options(self, container: str) -> bytes:
        """The container's runc options as containerd stores them (protobuf bytes)."""
        info = json.loads(self.ctr("containers", "info", container).stdout)
        return base64.b64decode(info["Runtime"]["Options"]["value"])

    def close(self) -> list[str]:
        """Delete this namespace's tasks and containers; what was still there."""
        left = []
        tasks = [line.split()[0] for line in self.ctr("tasks", "ls").stdout.splitlines()[1:]]
        for task in tasks:
            self.ctr("tasks", "kill", "--signal", "SIGKILL", task)
            self.ctr("tasks", "delete", "--force", task)
        containers = self.ctr("containers", "ls", "--quiet").stdout.split()
        for container in containers:
            self.ctr("containers", "delete", container)
        if tasks or containers:
            left.append(f"tasks {tasks}, containers {containers}")
        left += delete_runc_containers(self.runc_root / self.name, "/")
        # ctr run puts containers in cgroup /<namespace>/<id>; the parent stays behind.
        if cgroups := remove_cgroup(self.name):
            left.append(f"cgroups that could not be removed: {cgroups}")
        return left


@contextlib.contextmanager
def containerd_daemon(base: Path, *, spec_dir: Path) -> Iterator[Containerd]:
    """A running :class:`Containerd`; stopped and removed afterwards."""
    daemon = Containerd(base, spec_dir=spec_dir)
    with removed_if_created(Path("/run/containerd/s"), Path("/run/containerd")):
        daemon.start()
        try:
            yield daemon
        finally:
            left = daemon.stop()
            shutil.rmtree(base / "root", ignore_errors=True)
            shutil.rmtree(base / "state", ignore_errors=True)
    assert not left, f"containerd left behind: {left}"


@contextlib.contextmanager
def containerd_namespace(
    daemon: Containerd, base: Path, *, archive: Path
) -> Iterator[CtrNamespace]:
    """A fresh namespace in *daemon* with :data:`IMAGE` imported and the shim's config
    reset to the defaults; its tasks and containers are deleted afterwards, failing if the
    test left any."""
    daemon.shim_config.write_text("")
    namespace = CtrNamespace(daemon, base)
    try:
        namespace.import_image(archive)
        yield namespace
    finally:
        left = namespace.close()
    assert not left, f"containerd namespace {namespace.name} left behind: {left}"
