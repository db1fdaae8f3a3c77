"""RUN steps: each runs in a fresh container under runc, on the stage's root filesystem.

A step's OCI spec is built here (command, environment, user, the ``RUN <<EOF`` script), its
devices are prepared and injected with the :class:`~cdi.policy.DevicePolicy` that authorized
them at load time, its output is streamed into its progress vertex, and the empty mount points
runc created in the root are removed afterwards, so that they do not end up in the image.
A step that fails from its process's setup on is reported as BuildKit's executor reports it,
with one :class:`~cdi.build.errors.ProcessError` raised in :meth:`RunSteps.run`.

Steps run without a network (the container keeps its own, empty, network namespace).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cdi.build.dockerfile import CommandInstruction, Heredoc, Instruction
from cdi.build.errors import ProcessError, StepError
from cdi.build.fs import Root
from cdi.build.plan import BuildPlan
from cdi.build.progress import Vertex
from cdi.build.stage_state import StageState
from cdi.build.users import ExecUser, UserError, resolve_exec_user
from cdi.errors import CDIError
from cdi.policy.devices import DeviceRequest
from cdi.runtime import default_oci_spec, run_container

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

    def run(self, vertex: Vertex, state: StageState, instruction: CommandInstruction) -> None:
        """Run the RUN *instruction* in a container on the stage's root; output to *vertex*.

        What BuildKit does before the step's process (expanding ``USER``, setting up
        on-demand devices) fails with its own message; everything from there on -- looking
        up the user, injecting devices, starting the container, its exit status -- fails with
        one :class:`ProcessError`, raised here and nowhere else.
        """
        user = self.plan.expand(state.config.user, state.expansion_env(), instruction)
        requests = self.plan.devices.get(id(instruction), [])
        if requests and self.options.policy is not None:
            self._prepare(requests)
        scripts_dir = Path(tempfile.mkdtemp(prefix="run-", dir=self.plan.workdir))
        try:
            args, extra_mounts = _command(state, instruction, scripts_dir)
            try:
                status = self._process(
                    vertex,
                    state,
                    args,
                    user_spec=user,
                    extra_mounts=extra_mounts,
                    requests=requests,
                )
            except (CDIError, OSError) as exc:
                raise ProcessError(args, _cause(exc)) from exc
            if status != 0:
                raise ProcessError(args, f"exit code: {status}")
        finally:
            shutil.rmtree(scripts_dir, ignore_errors=True)

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

    def _process(
        self,
        vertex: Vertex,
        state: StageState,
        args: list[str],
        *,
        user_spec: str,
        extra_mounts: list[dict[str, Any]],
        requests: Sequence[DeviceRequest],
    ) -> int:
        """Run the step's process; its exit status. Raises what went wrong (CDIError, OSError)."""
        config = state.config
        user = resolve_exec_user(state.root, user_spec)
        spec = default_oci_spec(
            args,
            env=state.run_env(),
            cwd=config.working_dir or "/",
            hostname=HOSTNAME,
            uid=user.uid,
            gid=user.gid,
            additional_gids=list(user.additional_gids) or None,
        )
        spec["mounts"].extend(extra_mounts)
        policy = self.options.policy
        if requests and policy is not None:
            try:
                spec = policy.inject(spec, requests)
            except CDIError as exc:
                message = str(exc)
                if not message.startswith(INJECTION_FAILED):
                    raise CDIError(f"{INJECTION_FAILED}: {message}") from exc
                raise
        stubs = _missing_mount_points(state.root, spec)
        try:
            return self._run_container(vertex, spec, state.root)
        finally:
            _remove_mount_stubs(stubs)

    def _run_container(self, vertex: Vertex, spec: dict[str, Any], root: Root) -> int:
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
    state: StageState, instruction: CommandInstruction, scripts_dir: Path
) -> tuple[list[str], list[dict[str, Any]]]:
    """The step's process arguments (as BuildKit's frontend builds them) and its extra mounts.

    A ``RUN <<EOF`` script with its own interpreter (``#!``) is written into *scripts_dir* and
    mounted at ``/dev/pipes/<name>``, as BuildKit does.
    """
    if instruction.exec_form:
        return list(instruction.args), []
    shell = state.config.shell_or_default
    command = instruction.args[0] if instruction.args else ""
    script = _heredoc_script(command, instruction.heredocs)
    if script is not None and script.content.startswith("#!"):
        host_script = scripts_dir / script.name
        host_script.write_text(script.content, encoding="utf-8")
        os.chmod(host_script, 0o755)
        target = f"/dev/pipes/{script.name}"
        mount = {
            "destination": target,
            "type": "bind",
            "source": str(host_script),
            "options": ["rbind", "ro"],
        }
        return [target], [mount]
    if script is not None:
        return [*shell, script.content], []
    if instruction.heredocs:
        # The command line with each document after it, as written (the process string
        # BuildKit reports ends with the last terminator, no newline after it).
        body = "".join("\n" + doc.content + doc.name for doc in instruction.heredocs)
        return [*shell, command + body], []
    return [*shell, command], []


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
