"""RUN steps: each runs in a fresh container under runc, on the stage's root filesystem.

A step's OCI spec is built here (command, environment, the ``RUN <<EOF`` script), its
devices are prepared and injected with the :class:`~cdi.policy.DevicePolicy` that authorized
them at load time -- that spec is the step's cache material -- and, when the step is not
cached, its user is looked up in the root, its output is streamed into its progress vertex,
and the empty mount points runc created in the root are removed afterwards, so that they do
not end up in the image. A step that fails from its devices' injection on is reported as
BuildKit's executor reports it, with one :class:`~cdi.build.errors.ProcessError`.

Steps run without a network (the container keeps its own, empty, network namespace).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from cdi.build.dockerfile import CommandInstruction, Heredoc, Instruction
from cdi.build.errors import ProcessError, StepError
from cdi.build.fs import Root, private_dir
from cdi.build.plan import BuildPlan
from cdi.build.progress import Vertex
from cdi.build.stage_state import StageState
from cdi.build.users import ExecUser, UserError, resolve_exec_user
from cdi.errors import CDIError
from cdi.policy.devices import DeviceRequest
from cdi.runtime.oci import default_oci_spec

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import Any

#: The hostname BuildKit gives build containers.
HOSTNAME = "buildkitsandbox"
#: How BuildKit's executor reports a device that does not inject.
INJECTION_FAILED = "CDI device injection failed"


class RunSteps:
    """Runs the RUN steps of a build planned by *plan*."""

    def __init__(self, plan: BuildPlan) -> None:
        self.plan = plan
        self.options = plan.options
        self.progress = plan.progress

    def exec_user(self, state: StageState, instruction: Instruction) -> ExecUser:
        """The user the stage's steps run as (its ``USER``, looked up in the stage's root)."""
        user = self.plan.expand(state.config.user, state.expansion_env(), instruction)
        try:
            return resolve_exec_user(state.root, user)
        except UserError as exc:
            raise StepError(str(exc)) from exc

    def prepare(
        self, state: StageState, instruction: CommandInstruction
    ) -> tuple[Any, Callable[[Vertex], None]]:
        """The RUN *instruction*'s cache material, and the action that runs it.

        The material is the OCI spec the step runs with, its devices injected, and its
        ``USER`` (looked up in the stage's root only when the step runs). On-demand devices
        are set up first, as BuildKit sets them up before its cache lookup. Everything from
        injecting devices on -- looking up the user, starting the container, its exit
        status -- fails with one :class:`ProcessError`.
        """
        user = self.plan.expand(state.config.user, state.expansion_env(), instruction)
        requests = self.plan.devices.get(id(instruction), [])
        if requests and self.options.policy is not None:
            self._prepare(requests)
        args, script = _command(state, instruction)
        env = state.run_env()
        spec = default_oci_spec(
            args, env=env, cwd=state.config.working_dir or "/", hostname=HOSTNAME
        )
        scripts_dir = None
        if script is not None:
            scripts_dir = private_dir(self.plan.workdir, "run-")
            spec["mounts"].append(_script_mount(script, scripts_dir))
        try:
            # The edits of the devices the requests resolve to now: a step whose devices
            # changed (another spec, another device node) is not the cached one.
            spec = self._inject(spec, requests)
        except (CDIError, OSError) as exc:
            raise ProcessError(args, _cause(exc)) from exc
        proxies = set(env) - set(state.run_env(proxy=False))
        material = {
            "run": _keyed_spec(spec, proxies, scripts_dir),
            "script": script.content if script is not None else None,
            "user": user,
            # What the device policy allowed (BuildKit keys the resolved list too).
            "requests": [[request.name, request.optional] for request in requests],
        }

        def action(vertex: Vertex) -> None:
            try:
                self._execute(vertex, state, args, spec, user)
            finally:
                if scripts_dir is not None:
                    shutil.rmtree(scripts_dir, ignore_errors=True)

        return material, action

    def _execute(
        self,
        vertex: Vertex,
        state: StageState,
        args: list[str],
        spec: dict[str, Any],
        user_spec: str,
    ) -> None:
        """Run the step's process with *spec* as *user_spec* (looked up in the root)."""
        try:
            user = resolve_exec_user(state.root, user_spec)
            spec["process"]["user"] = _process_user(spec["process"].get("user") or {}, user)
            stubs = _missing_mount_points(state.root, spec)
            try:
                status = self._run_container(vertex, spec, state.root)
            finally:
                _remove_mount_stubs(stubs)
        except (CDIError, OSError) as exc:
            raise ProcessError(args, _cause(exc)) from exc
        if status != 0:
            raise ProcessError(args, f"exit code: {status}")

    def _prepare(self, requests: Sequence[DeviceRequest]) -> None:
        """Set up the on-demand devices *requests* need (BuildKit: before the exec runs)."""
        policy = self.options.policy
        assert policy is not None
        prepare_vertex: list[Vertex] = []

        def report(line: str) -> None:
            if not prepare_vertex:
                kinds = sorted({r.name.partition("=")[0] for r in requests})
                name = f"preparing device {', '.join(kinds)}"
                prepare_vertex.append(self.progress.vertex(name))
                if line == name:
                    return  # the policy's announcement is the vertex's own name
            prepare_vertex[0].log(line + "\n")

        try:
            policy.prepare(requests, progress=report)
        except CDIError:
            if prepare_vertex:
                prepare_vertex[0].fail("device setup failed")
            raise
        if prepare_vertex:
            prepare_vertex[0].done()

    def _inject(self, spec: dict[str, Any], requests: Sequence[DeviceRequest]) -> dict[str, Any]:
        """*spec* with the devices of *requests*; failures read as BuildKit's executor's."""
        policy = self.options.policy
        if not requests or policy is None:
            return spec
        try:
            return policy.inject(spec, requests)
        except CDIError as exc:
            message = str(exc)
            if not message.startswith(INJECTION_FAILED):
                raise CDIError(f"{INJECTION_FAILED}: {message}") from exc
            raise

    def _run_container(self, vertex: Vertex, spec: dict[str, Any], root: Root) -> int:
        import subprocess  # with json (for runc), only for steps that run

        from cdi.runtime.runc import run_container

        read_fd, write_fd = os.pipe()
        reader = threading.Thread(target=_pump, args=(read_fd, vertex), daemon=True)
        reader.start()
        try:
            return run_container(
                spec,
                root.path,
                runtime=self.options.runtime,
                runtime_root=self.options.runtime_root,
                container_id="cdi-build-" + os.urandom(6).hex(),
                stdin=subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                timeout=self.options.step_timeout,
            )
        finally:
            os.close(write_fd)
            reader.join()


def _command(
    state: StageState, instruction: CommandInstruction
) -> tuple[list[str], Heredoc | None]:
    """The step's process arguments (as BuildKit's frontend builds them), and the ``RUN
    <<EOF`` script with its own interpreter (``#!``) that they run, if any: that script is
    mounted at ``/dev/pipes/<name>``, as BuildKit does (:func:`_script_mount`)."""
    if instruction.exec_form:
        return list(instruction.args), None
    shell = state.config.shell_or_default
    command = instruction.args[0] if instruction.args else ""
    script = _heredoc_script(command, instruction.heredocs)
    if script is not None and script.content.startswith("#!"):
        return [f"/dev/pipes/{script.name}"], script
    if script is not None:
        return [*shell, script.content], None
    if instruction.heredocs:
        # The command line with each document after it, as written (the process string
        # BuildKit reports ends with the last terminator, no newline after it).
        body = "".join("\n" + doc.content + doc.name for doc in instruction.heredocs)
        return [*shell, command + body], None
    return [*shell, command], None


def _script_mount(script: Heredoc, scripts_dir: Path) -> dict[str, Any]:
    """The script written into *scripts_dir*, and its mount at ``/dev/pipes/<name>``."""
    host_script = scripts_dir / script.name
    host_script.write_text(script.content, encoding="utf-8")
    os.chmod(host_script, 0o755)
    return {
        "destination": f"/dev/pipes/{script.name}",
        "type": "bind",
        "source": str(host_script),
        "options": ["rbind", "ro"],
    }


def _keyed_spec(
    spec: dict[str, Any], proxies: set[str], scripts_dir: Path | None
) -> dict[str, Any]:
    """*spec* as its cache key sees it: without the proxy arguments (which BuildKit keeps out
    of cache keys), and with the script's temporary path (its content is keyed) made fixed."""
    keyed = dict(spec)
    process = dict(spec["process"])
    process["env"] = [entry for entry in process.get("env") or [] if entry not in proxies]
    keyed["process"] = process
    if scripts_dir is not None:
        prefix = str(scripts_dir) + "/"
        keyed["mounts"] = [
            dict(mount, source="script")
            if str(mount.get("source", "")).startswith(prefix)
            else mount
            for mount in spec.get("mounts") or []
        ]
    return keyed


def _process_user(injected: dict[str, Any], user: ExecUser) -> dict[str, Any]:
    """The process user for *user*: its groups, then the groups the devices added (the order
    injecting into a spec with *user* already in it would give)."""
    gids = list(user.additional_gids)
    gids += [gid for gid in injected.get("additionalGids") or [] if gid not in gids]
    result: dict[str, Any] = {"uid": user.uid, "gid": user.gid}
    if gids:
        result["additionalGids"] = gids
    return result


def _cause(exc: BaseException) -> str:
    """What follows ``did not complete successfully:`` for *exc*."""
    if isinstance(exc, OSError) and not isinstance(exc, CDIError):
        message = exc.strerror or str(exc)
        return f"{message}: {exc.filename}" if exc.filename else message
    return str(exc)


def _heredoc_script(command: str, heredocs: Sequence[Heredoc]) -> Heredoc | None:
    """The heredoc that *is* the command (``RUN <<EOF``), if so."""
    if len(heredocs) != 1:
        return None
    match = re.fullmatch(r"<<-?([\"']?)([A-Za-z0-9_.-]+)\1", command.strip())
    if match and match.group(2) == heredocs[0].name:
        return heredocs[0]
    return None


def _pump(fd: int, vertex: Vertex) -> None:
    """Copy a step's output from the pipe into its vertex until every writer is gone."""
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        while True:
            chunk = pipe.read(65536)
            if not chunk:
                break
            vertex.log_bytes(chunk)


def _missing_mount_points(root: Root, spec: Mapping[str, Any]) -> list[Path]:
    """Mount destinations in *root* that do not exist yet (runc would create them)."""
    missing: list[Path] = []
    for mount in spec.get("mounts") or []:
        destination = str(mount.get("destination", ""))
        if not destination.startswith("/"):
            continue
        parts = [p for p in destination.split("/") if p]
        for depth in range(1, len(parts) + 1):
            host = root.resolve("/" + "/".join(parts[:depth]), follow_final=False)
            if not os.path.lexists(host):
                missing.append(host)
                # Everything below a missing directory is missing too; its top is enough
                # to record, but the deeper ones are needed to remove from the bottom up.
    return sorted(set(missing), key=lambda p: len(p.parts), reverse=True)


def _remove_mount_stubs(stubs: Sequence[Path]) -> None:
    """Remove the empty mount points runc created, deepest first (as BuildKit does)."""
    for path in stubs:
        with contextlib.suppress(OSError):
            info = os.lstat(path)
            if stat.S_ISDIR(info.st_mode):
                os.rmdir(path)  # only when empty
            elif stat.S_ISREG(info.st_mode) and info.st_size == 0:
                os.unlink(path)
