"""RUN steps: each runs in a fresh container under runc, on the stage's root filesystem.

A step's OCI spec is built here (command, environment, user, the ``RUN <<EOF`` script), its
devices are prepared and injected with the :class:`~cdi.policy.DevicePolicy` that authorized
them at load time, its output is streamed into its progress vertex, and the empty mount points
runc created in the root are removed afterwards, so that they do not end up in the image.

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
from cdi.build.errors import BuildError, StepError
from cdi.build.fs import Root
from cdi.build.plan import BuildPlan
from cdi.build.progress import Vertex
from cdi.build.stage_state import StageState
from cdi.build.users import ExecUser, UserError, resolve_exec_user
from cdi.errors import CDIError
from cdi.gotext import quote
from cdi.runtime import ContainerError, RuntimeSetupError, default_oci_spec, run_container

#: The hostname BuildKit gives build containers.
HOSTNAME = "buildkitsandbox"


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
        """Run the RUN *instruction* in a container on the stage's root; output to *vertex*."""
        config = state.config
        extra_mounts: list[dict[str, Any]] = []
        scripts_dir = None
        if instruction.exec_form:
            args = list(instruction.args)
        else:
            command = instruction.args[0] if instruction.args else ""
            script = _heredoc_script(command, instruction.heredocs)
            if script is not None and script.content.startswith("#!"):
                # A script with its own interpreter runs as a file, as in BuildKit.
                scripts_dir = Path(tempfile.mkdtemp(prefix="run-", dir=self.plan.workdir))
                host_script = scripts_dir / script.name
                host_script.write_text(script.content, encoding="utf-8")
                os.chmod(host_script, 0o755)
                target = f"/dev/pipes/{script.name}"
                extra_mounts.append(
                    {
                        "destination": target,
                        "type": "bind",
                        "source": str(host_script),
                        "options": ["rbind", "ro"],
                    }
                )
                args = [target]
            elif script is not None:
                args = [*config.shell_or_default, script.content]
            elif instruction.heredocs:
                body = "".join(doc.content + doc.name + "\n" for doc in instruction.heredocs)
                args = [*config.shell_or_default, command + "\n" + body]
            else:
                args = [*config.shell_or_default, command]
        user = self.exec_user(state, instruction)
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
        requests = self.plan.devices.get(id(instruction), [])
        policy = self.options.policy
        if requests and policy is not None:
            prepare_vertex: list[Vertex] = []

            def report(line: str) -> None:
                if not prepare_vertex:
                    kinds = sorted({r.name.partition("=")[0] for r in requests})
                    prepare_vertex.append(
                        self.progress.vertex(f"preparing device {', '.join(kinds)}")
                    )
                prepare_vertex[0].log(line + "\n")

            try:
                policy.prepare(requests, progress=report)
            except CDIError:
                if prepare_vertex:
                    prepare_vertex[0].fail("device setup failed")
                raise
            if prepare_vertex:
                prepare_vertex[0].done()
            try:
                spec = policy.inject(spec, requests)
            except CDIError as exc:
                message = str(exc)
                if not message.startswith("CDI device injection failed"):
                    message = f"CDI device injection failed: {message}"
                raise StepError(message) from exc
        stubs = _missing_mount_points(state.root, spec)
        try:
            status = self._run_container(vertex, spec, state.root)
        finally:
            _remove_mount_stubs(stubs)
            if scripts_dir is not None:
                shutil.rmtree(scripts_dir, ignore_errors=True)
        if status != 0:
            process = quote(" ".join(args))
            raise StepError(f"process {process} did not complete successfully: exit code: {status}")

    def _run_container(self, vertex: Vertex, spec: dict[str, Any], root: Root) -> int:
        read_fd, write_fd = os.pipe()
        reader = threading.Thread(target=_pump, args=(read_fd, vertex), daemon=True)
        reader.start()
        try:
            return run_container(
                spec,
                root.path,
                runtime=self.options.runtime,
                container_id="cdi-build-" + os.urandom(6).hex(),
                stdin=subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                timeout=self.options.step_timeout,
            )
        except RuntimeSetupError as exc:
            raise BuildError(str(exc)) from exc
        except ContainerError as exc:
            args = " ".join(spec["process"]["args"])
            raise StepError(f"process {quote(args)} did not complete successfully: {exc}") from exc
        finally:
            os.close(write_fd)
            reader.join()


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
