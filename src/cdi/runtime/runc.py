"""Running one container to completion under an OCI runtime (runc).

:func:`run_container` writes a bundle, runs ``<runtime> run`` in the foreground with the
caller's file descriptors, and returns the container's exit status. It tells the two kinds of
failure apart through the runtime's own log, which goes to a JSON file (``--log FILE
--log-format json``) rather than to the container's stderr:

* the command ran and exited non-zero, or was killed by a signal -> its status is returned
  (``128 + signal`` for a signal, as a shell reports it);
* the runtime failed -- bad spec, a mount or device it cannot set up, a failing hook, a
  command that does not exist or cannot be executed -- runc logs ``runc run failed: <why>``
  at level error and exits 1 -> :class:`ContainerError` with the runtime's messages (and
  ``exit_status`` 127/126/125 as ``docker run`` uses them). runc 1.1 also prints that line on
  its stderr, which is the container's stderr, so the caller's stderr sees it too.

Errors runc logs without failing (a failing ``poststop`` hook) leave the command's status
standing; they are logged here as warnings. For runtimes not named runc, any error in the log
with a non-zero status counts as the runtime's failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from cdi.jsonout import dumps_compact
from cdi.lazylog import LazyLogger
from cdi.runtime.errors import (
    STATUS_CANNOT_INVOKE,
    STATUS_NOT_FOUND,
    STATUS_RUNTIME_FAILED,
    ContainerError,
    ContainerTimeoutError,
    RuntimeSetupError,
)

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import IO, Any

    StdStream = int | IO[Any] | None

logger = LazyLogger(__name__)  # logging is imported only to say something

# Where root's PATH may lack sbin (sudo, cron), runc (in /usr/sbin on Debian) is still found.
_SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin"
# runc's last words when it fails: "runc run failed: <why>".
_FATAL = re.compile(r"^\S+ [\w-]+ failed: ")
_ERROR_LEVELS = frozenset({"error", "fatal", "panic"})
_LOG_NAME = "runtime-log.json"
# How long to wait for the runtime to exit after each ``kill`` while aborting.
_KILL_WAIT_S = 0.5
_KILL_ATTEMPTS = 4
_HELPER_TIMEOUT_S = 30.0

#: The environment variable naming the runtime's state directory when the caller names none.
RUNTIME_ROOT_ENV = "CDI_RUNTIME_ROOT"


def find_runtime(runtime: str = "runc") -> str:
    """The absolute path of the OCI runtime *runtime* (a name looked up in ``PATH``, or a path).

    Raises :class:`RuntimeSetupError` when it cannot be found.
    """
    if os.sep in runtime:
        if os.path.isfile(runtime) and os.access(runtime, os.X_OK):
            return os.path.abspath(runtime)
        raise RuntimeSetupError(
            f'OCI runtime "{runtime}" not found: install Debian\'s runc package or pass --runtime'
        )
    found = shutil.which(runtime) or shutil.which(runtime, path=_SBIN_PATH)
    if found is None:
        raise RuntimeSetupError(
            f'OCI runtime "{runtime}" not found in PATH: install Debian\'s runc package '
            "or pass --runtime"
        )
    return os.path.abspath(found)


def check_privileges() -> None:
    """Raise :class:`RuntimeSetupError` unless this process can run containers (is root)."""
    if os.geteuid() != 0:
        raise RuntimeSetupError(
            "running containers needs root privileges (runc without --rootless): "
            "run this as root, e.g. with sudo"
        )


def new_container_id() -> str:
    """A fresh container id, ``cdi-`` and 16 random hex digits."""
    return "cdi-" + os.urandom(8).hex()


def resolve_runtime_root(root: str | os.PathLike[str] | None = None) -> str | None:
    """The state directory to pass to the runtime as ``--root``: *root*, else
    ``$CDI_RUNTIME_ROOT``, else ``None`` (the runtime's own default; runc: ``/run/runc``).

    A private directory keeps containers apart from every other user of the runtime: ``runc
    list`` there shows only them, and ids cannot collide. The path is made absolute, so that
    the container can be found again from another working directory.
    """
    if root is None:
        root = os.environ.get(RUNTIME_ROOT_ENV) or None
    return None if root is None else os.path.abspath(root)


def bundle_config(oci_spec: Mapping[str, Any], rootfs: str) -> dict[str, Any]:
    """A copy of *oci_spec* with ``root.path`` set to *rootfs*; *oci_spec* is not modified."""
    config = dict(oci_spec)
    root = config.get("root")
    config["root"] = {**(root if isinstance(root, Mapping) else {}), "path": rootfs}
    return config


def _check_stream(name: str, stream: StdStream) -> None:
    # run_container returns a status, not output: a pipe nobody reads would block the container.
    if isinstance(stream, int) and stream == subprocess.PIPE:
        raise ValueError(f"{name}=subprocess.PIPE is not supported: pass a file or descriptor")


def _runtime_errors(log_path: Path) -> list[str]:
    """The error messages in the runtime's JSON log (non-JSON lines count as errors)."""
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    messages: list[str] = []
    if not text.strip():
        return messages  # the usual case: nothing logged, and no json to import
    import json

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            messages.append(line)
            continue
        if not isinstance(entry, dict):
            messages.append(line)
        elif str(entry.get("level", "")).lower() in _ERROR_LEVELS:
            messages.append(str(entry.get("msg", line)))
        else:
            logger.debug("runtime: %s", entry.get("msg", line))
    return messages


def _failure_status(messages: Sequence[str]) -> int:
    """The ``docker run`` status for a runtime failure with these messages."""
    for message in messages:
        # runc 1.1: 'unable to start container process: exec: "x": <why>' (hooks say
        # 'fork/exec', and are the runtime's failure, not the command's).
        if "container process: exec:" in message or "executable file not found" in message:
            if "no such file or directory" in message or "not found" in message:
                return STATUS_NOT_FOUND
            if "permission denied" in message:
                return STATUS_CANNOT_INVOKE
    return STATUS_RUNTIME_FAILED


class _Runtime:
    """Runs ``<runtime> [global options] <command> ...`` for one container."""

    def __init__(self, path: str, log_path: Path, root: str | None) -> None:
        self.path = path
        self.name = os.path.basename(path)
        self.base = [path, "--log", str(log_path), "--log-format", "json"]
        if root is not None:
            self.base += ["--root", root]

    def failed(self, errors: Sequence[str]) -> bool:
        """Whether these logged errors (with a non-zero status) mean the runtime failed.

        runc's fatal error reads ``runc run failed: ...``; other errors it logs (a failing
        ``poststop`` hook) leave the command's status standing. A runtime not named runc gets
        no such benefit of the doubt: any logged error counts.
        """
        if any(_FATAL.match(message) for message in errors):
            return True
        return bool(errors) and not self.name.startswith("runc")

    def helper(self, *args: str) -> bool:
        """Run a short runtime command (kill, delete); report failure only in the log."""
        try:
            result = subprocess.run(
                [*self.base, *args],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                check=False,
                timeout=_HELPER_TIMEOUT_S,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            logger.warning("%s %s failed: %s", self.name, " ".join(args), exc)
            return False
        if result.returncode != 0:
            logger.debug(
                "%s %s exited %d: %s", self.name, " ".join(args), result.returncode, result.stderr
            )
        return result.returncode == 0

    def delete(self, container_id: str) -> None:
        # --force: kills what is left of the container; succeeds when there is no container.
        if not self.helper("delete", "--force", container_id):
            logger.warning("could not delete container %s", container_id)

    def abort(self, process: subprocess.Popen[bytes], container_id: str) -> None:
        """Kill the container (and, failing that, the runtime), then delete the container."""
        for _ in range(_KILL_ATTEMPTS):
            # Fails harmlessly while the runtime has not created the container yet.
            self.helper("kill", container_id, "KILL")
            try:
                process.wait(_KILL_WAIT_S)
                break
            except subprocess.TimeoutExpired:
                continue
        else:
            process.kill()
            process.wait()
        self.delete(container_id)


def _rootfs_path(rootfs: str | os.PathLike[str]) -> str:
    path = os.path.abspath(rootfs)
    if not os.path.isdir(path):
        raise RuntimeSetupError(
            f"container root filesystem {path} does not exist or is not a directory"
        )
    return path


def run_container(
    oci_spec: Mapping[str, Any],
    rootfs: str | os.PathLike[str],
    *,
    runtime: str = "runc",
    container_id: str | None = None,
    stdin: StdStream = None,
    stdout: StdStream = None,
    stderr: StdStream = None,
    timeout: float | None = None,
    bundle_dir: str | os.PathLike[str] | None = None,
    runtime_root: str | os.PathLike[str] | None = None,
) -> int:
    """Run the container described by *oci_spec* on *rootfs* and return its exit status.

    The bundle is a temporary directory holding ``config.json`` (a copy of *oci_spec* with
    ``root.path`` set to the absolute *rootfs*; *oci_spec* itself is not modified) and the
    runtime's log; it is removed afterwards. With *bundle_dir* the bundle is written there
    instead and left in place (for inspection). *stdin*, *stdout*, *stderr* are file
    descriptors, file objects with a ``fileno()``, or ``subprocess.DEVNULL``; ``None``
    inherits ours. They are handed to the container directly (with ``process.terminal``
    false), so output arrives as the command writes it. *runtime_root* is the runtime's state
    directory, passed as its global ``--root`` (see :func:`resolve_runtime_root`: default
    ``$CDI_RUNTIME_ROOT``, else the runtime's own, for runc ``/run/runc``); the runtime creates
    it when missing.

    Returns the command's exit status, ``128 + N`` when it was killed by signal N. Errors
    the runtime logs without failing (runc: a failing ``poststop`` hook) are logged as
    warnings and the status stands; runc 1.1 reports a failing ``startContainer`` hook only on
    the container's stderr, with status 1, so that looks like the command exiting 1.

    Raises :class:`RuntimeSetupError` (before anything runs) when the runtime is missing, we
    are not root, *rootfs* is not a directory or the bundle cannot be written;
    :class:`ContainerError` when the runtime fails -- including when the command does not
    exist or cannot be executed (``exit_status`` 127 or 126), which runc reports as its own
    failure before the command ever runs; :class:`ContainerTimeoutError` when *timeout*
    seconds pass first (the container is killed).

    The container never outlives the call: runc removes it when ``run`` returns; when the run
    is cut short (timeout, ``KeyboardInterrupt``, any exception) or the runtime reports an
    error or dies, the container is killed and ``<runtime> delete --force``-d. A container id
    given by the caller that already exists is reported and never deleted.
    """
    for name, stream in (("stdin", stdin), ("stdout", stdout), ("stderr", stderr)):
        _check_stream(name, stream)
    runtime_path = find_runtime(runtime)
    check_privileges()
    root = _rootfs_path(rootfs)
    runtime_root_path = resolve_runtime_root(runtime_root)
    cid = container_id if container_id is not None else new_container_id()
    config = bundle_config(oci_spec, root)

    own_bundle = bundle_dir is None
    try:
        if bundle_dir is None:
            bundle = Path(tempfile.mkdtemp(prefix="cdi-bundle-"))
        else:
            bundle = Path(bundle_dir).absolute()
            bundle.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        where = bundle_dir if bundle_dir is not None else tempfile.gettempdir()
        raise RuntimeSetupError(
            f"cannot create the container bundle in {where}: {exc.strerror or exc}"
        ) from exc
    try:
        log_path = bundle / _LOG_NAME
        try:
            with open(bundle / "config.json", "w", encoding="utf-8") as f:
                f.write(dumps_compact(config))
            log_path.write_bytes(b"")
        except OSError as exc:
            # A full disk, say: a setup problem, reported before anything runs.
            raise RuntimeSetupError(
                f"cannot write the container bundle {bundle}: {exc.strerror or exc}"
            ) from exc
        rt = _Runtime(runtime_path, log_path, runtime_root_path)
        logger.debug("running container %s with bundle %s", cid, bundle)
        return _run(
            rt,
            bundle=bundle,
            cid=cid,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            timeout=timeout,
            log_path=log_path,
        )
    finally:
        if own_bundle:
            shutil.rmtree(bundle, ignore_errors=True)


def _run(
    rt: _Runtime,
    *,
    bundle: Path,
    cid: str,
    stdin: StdStream,
    stdout: StdStream,
    stderr: StdStream,
    timeout: float | None,
    log_path: Path,
) -> int:
    try:
        process = subprocess.Popen(
            [*rt.base, "run", "--bundle", str(bundle), cid],
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
        )
    except OSError as exc:
        raise RuntimeSetupError(f"cannot start OCI runtime {rt.path}: {exc}") from exc
    try:
        status = process.wait(timeout)
    except subprocess.TimeoutExpired:
        rt.abort(process, cid)
        limit = float(timeout or 0)
        raise ContainerTimeoutError(
            f"container {cid} timed out after {limit:g} s", container_id=cid, timeout=limit
        ) from None
    except BaseException:
        rt.abort(process, cid)
        raise

    errors = _runtime_errors(log_path)
    if status < 0:
        # The runtime itself was killed: the container's status is lost, and it may still run.
        rt.delete(cid)
        raise ContainerError(
            f"OCI runtime {rt.name} was killed by signal {-status} while running container {cid}",
            container_id=cid,
            runtime_messages=errors,
        )
    if status != 0 and rt.failed(errors):
        if not any("already exists" in message for message in errors):
            rt.delete(cid)
        message = "; ".join(errors)
        if not message.startswith(rt.name):
            message = f"{rt.name}: {message}"
        raise ContainerError(
            message, container_id=cid, runtime_messages=errors, exit_status=_failure_status(errors)
        )
    if errors:
        # The command's status stands, but the runtime may not have cleaned up after itself.
        logger.warning("container %s: %s reported: %s", cid, rt.name, "; ".join(errors))
        rt.delete(cid)
    return status
