"""The build executor: stages, steps, COPY/ADD, and RUN steps in containers under runc.

A build goes the way BuildKit's goes, in three phases:

1. **load** -- read and parse the Dockerfile, pick the target stage and the stages it needs,
   resolve every base image and build context (metadata only), check the syntax channel for
   ``RUN --device``, and authorize every device request of every RUN step with the
   :class:`~cdi.policy.DevicePolicy` (BuildKit does this when it loads the build definition,
   so a refused device fails the build before anything has run);
2. **execute** -- each needed stage in order, on its own root filesystem directory: the base is
   unpacked (or copied from the earlier stage), and each RUN runs in a fresh container on that
   directory, so the next step sees what it left;
3. **export** -- the target stage's root filesystem and image configuration go to the outputs.

Steps run without a network (the container keeps its own, empty, network namespace) and
without a build cache: every build runs every step.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import posixpath
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cdi.build.context import (
    DirectorySource,
    ImageReference,
    MainContext,
    RegistrySource,
    Source,
    context_key,
    named_source,
)
from cdi.build.dockerfile import (
    ArgInstruction,
    CommandInstruction,
    CopyInstruction,
    Dockerfile,
    Heredoc,
    Instruction,
    KeyValueInstruction,
    ListInstruction,
    Stage,
    Syntax,
    WordInstruction,
    check_device_channel,
    parse,
)
from cdi.build.errors import BuildError, DeviceLoadError, DockerfileError, SourceError, StepError
from cdi.build.expand import ExpansionError, expand
from cdi.build.fs import (
    CopyError,
    CopyOptions,
    Owner,
    PathEscapeError,
    Root,
    clean_relative,
    copy_entry,
    copy_tree,
    has_glob,
)
from cdi.build.image import ImageConfig, format_platform, host_platform
from cdi.build.layers import apply_layer
from cdi.build.output import OCIResult, OutputSpec, write_local, write_oci, write_tar
from cdi.build.progress import Progress, Vertex
from cdi.build.users import ExecUser, UserError, resolve_chown, resolve_exec_user
from cdi.errors import CDIError
from cdi.gotext import quote
from cdi.policy import DevicePolicy, DeviceRequest, Entitlements
from cdi.runtime import ContainerError, RuntimeSetupError, default_oci_spec, run_container

logger = logging.getLogger(__name__)

#: Build arguments every build accepts without an ``ARG`` (BuildKit's predefined ones).
PROXY_ARGS = frozenset(
    {
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "FTP_PROXY",
        "ftp_proxy",
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
    }
)
#: The hostname BuildKit gives build containers.
HOSTNAME = "buildkitsandbox"
#: Whether a source path (relative, ``/``-separated; is it a directory) is left out.
Exclude = Callable[[str, bool], bool]
_URL = re.compile(r"^(?:https?://|git@|git://)")


@dataclass
class BuildOptions:
    """Everything a build needs; the CLI fills it from its flags."""

    #: The main build context directory.
    context: Path
    #: The Dockerfile (default: ``Dockerfile`` in the context); ignored with ``dockerfile_text``.
    dockerfile: Path | None = None
    #: The Dockerfile's text, when it does not come from a file (``-f -``).
    dockerfile_text: str | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    #: ``--build-context`` NAME -> SRC as given.
    build_contexts: Mapping[str, str] = field(default_factory=dict)
    #: The stage to build (default: the last).
    target: str | None = None
    outputs: Sequence[OutputSpec] = ()
    entitlements: Entitlements = field(default_factory=Entitlements)
    #: The device policy; None when CDI is disabled (then any ``--device`` fails the build).
    policy: DevicePolicy | None = None
    runtime: str = "runc"
    progress: Progress | None = None
    #: Where stage root filesystems are kept while building (default: the system temp dir).
    workdir: Path | None = None
    #: Where ``dest=-`` outputs are written.
    stdout: IO[bytes] | None = None
    #: Seconds a RUN step may take (None: no limit).
    step_timeout: float | None = None


@dataclass
class BuildResult:
    """What a successful build produced."""

    config: ImageConfig
    target: str
    oci: list[OCIResult] = field(default_factory=list)


def build(options: BuildOptions) -> BuildResult:
    """Run a build. Raises :class:`BuildError` (BuildKit's message in ``str()``)."""
    return _Build(options).run()


# --- helpers ------------------------------------------------------------------------------------


def _created(build_args: Mapping[str, str]) -> tuple[str, int]:
    """The image creation time: ``SOURCE_DATE_EPOCH`` when given (reproducible), else now."""
    epoch_text = build_args.get("SOURCE_DATE_EPOCH") or os.environ.get("SOURCE_DATE_EPOCH")
    if epoch_text and epoch_text.isdigit():
        epoch = int(epoch_text)
    else:
        epoch = int(_dt.datetime.now(_dt.UTC).timestamp())
    moment = _dt.datetime.fromtimestamp(epoch, _dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ"), epoch


def _platform_args() -> dict[str, str]:
    os_name, arch, variant = host_platform()
    plat = format_platform(os_name, arch, variant)
    values = {}
    for prefix in ("TARGET", "BUILD"):
        values[f"{prefix}PLATFORM"] = plat
        values[f"{prefix}OS"] = os_name
        values[f"{prefix}ARCH"] = arch
        values[f"{prefix}VARIANT"] = variant
    return values


def _display_command(instruction: Instruction) -> str:
    """How a step is named in progress: its first line, keyword upper-cased."""
    first = instruction.original.split("\n", 1)[0].strip()
    keyword, _, rest = first.partition(" ")
    return f"{keyword.upper()} {rest.strip()}".rstrip()


def _parse_chmod(value: str) -> int:
    if re.fullmatch(r"[0-7]{3,4}", value):
        return int(value, 8)
    raise StepError(f"invalid chmod parameter: {value!r}: only octal modes are supported")


def _heredoc_script(command: str, heredocs: Sequence[Heredoc]) -> Heredoc | None:
    """The heredoc that *is* the command (``RUN <<EOF``), if so."""
    if len(heredocs) != 1:
        return None
    match = re.fullmatch(r"<<-?([\"']?)([A-Za-z0-9_.-]+)\1", command.strip())
    if match and match.group(2) == heredocs[0].name:
        return heredocs[0]
    return None


# --- stages -------------------------------------------------------------------------------------


@dataclass
class _StagePlan:
    """A stage as resolved at load time."""

    stage: Stage
    label: str
    base_kind: str  # "scratch" | "stage" | "source"
    base_stage: int | None = None
    source: Source | None = None
    base_name: str = ""
    config: ImageConfig | None = None
    total_steps: int = 1


@dataclass
class _State:
    """A stage while it executes."""

    plan: _StagePlan
    root: Root
    config: ImageConfig
    args: dict[str, str] = field(default_factory=dict)
    #: Predefined proxy build arguments: in RUN environments without an ARG.
    proxy: dict[str, str] = field(default_factory=dict)
    cmd_set: bool = False
    step: int = 1

    def expansion_env(self) -> dict[str, str]:
        # ENV wins over ARG of the same name, as in BuildKit.
        return {**self.args, **self.config.env_map()}

    def run_env(self) -> list[str]:
        env = list(self.config.env)
        names = {entry.partition("=")[0] for entry in env}
        for key, value in {**self.proxy, **self.args}.items():
            if key not in names:
                env.append(f"{key}={value}")
                names.add(key)
        return env


class _Build:
    def __init__(self, options: BuildOptions) -> None:
        self.options = options
        self.progress = options.progress or Progress()
        self.build_args = dict(options.build_args)
        self.created, self.epoch = _created(self.build_args)
        self.dockerfile: Dockerfile
        self.dockerfile_name = "Dockerfile"
        self.source_text: str | None = None
        self.workdir: Path
        self.plans: list[_StagePlan] = []
        self.needed: list[int] = []
        self.meta_args: dict[str, str] = {}
        self.named: dict[str, Source] = {}
        self.images: dict[str, Source] = {}
        self.devices: dict[int, list[DeviceRequest]] = {}
        self.states: dict[int, _State] = {}
        self.source_roots: dict[int, Root] = {}

    # --- load ---------------------------------------------------------------------------------

    def run(self) -> BuildResult:
        base = self.options.workdir
        if base is not None:
            base.mkdir(parents=True, exist_ok=True)
        self.workdir = Path(tempfile.mkdtemp(prefix="cdi-build-", dir=base))
        try:
            self._load()
            target_state = None
            for index in self.needed:
                target_state = self._execute_stage(self.plans[index])
            assert target_state is not None
            result = BuildResult(config=target_state.config, target=target_state.plan.label)
            self._export(target_state, result)
            return result
        except BuildError as exc:
            if exc.line is not None and exc.source is None:
                exc.filename, exc.source = self.dockerfile_name, self.source_text
            raise
        except OSError as exc:
            # Disk full, a vanished file: still a build failure with a message, not a trace.
            message = exc.strerror or str(exc)
            if exc.filename:
                message = f"{message}: {exc.filename}"
            raise BuildError(message) from exc
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _load(self) -> None:
        self.dockerfile = self._read_dockerfile()
        syntax = Syntax(self.build_args.get("BUILDKIT_SYNTAX") or self.dockerfile.syntax.reference)
        if not syntax.is_dockerfile_frontend:
            raise DockerfileError(
                f"unsupported frontend {syntax.reference}: cdi build implements the "
                "docker/dockerfile syntax only"
            )
        self.main = self._load_context()
        self.meta_args = self._global_args()
        for name, value in self.options.build_contexts.items():
            self.named[context_key(name)] = named_source(
                name, value, self.workdir / "pulled", Path.cwd()
            )
        self._plan_stages()
        self._resolve_metadata()
        check_device_channel(syntax, [self.plans[i].stage for i in self.needed])
        self._authorize_devices()

    def _read_dockerfile(self) -> Dockerfile:
        with self.progress.vertex("[internal] load build definition from Dockerfile") as vertex:
            if self.options.dockerfile_text is not None:
                text = self.options.dockerfile_text
            else:
                path = self.options.dockerfile or (self.options.context / "Dockerfile")
                self.dockerfile_name = path.name
                try:
                    text = path.read_text(encoding="utf-8")
                except FileNotFoundError:
                    raise BuildError(
                        f"failed to read dockerfile: open {path}: no such file or directory"
                    ) from None
                except (OSError, UnicodeDecodeError) as exc:
                    raise BuildError(f"failed to read dockerfile: {exc}") from None
            vertex.status(f"transferring dockerfile: {len(text.encode())}B done")
            self.source_text = text
            return parse(text)

    def _load_context(self) -> MainContext:
        with self.progress.vertex("[internal] load .dockerignore") as vertex:
            dockerfile = (
                None if self.options.dockerfile_text is not None else self.options.dockerfile
            )
            main = MainContext(self.options.context, dockerfile=dockerfile)
            size = main.ignore_file.stat().st_size if main.ignore_file.is_file() else 0
            vertex.status(f"transferring context: {size}B done")
            return main

    def _global_args(self) -> dict[str, str]:
        values = _platform_args()
        for instruction in self.dockerfile.global_args:
            for name, default in instruction.args:
                if name in self.build_args:
                    values[name] = self.build_args[name]
                elif default is not None:
                    values[name] = self._expand(default, values, instruction)
                # A bare `ARG NAME` with no build argument declares NAME unset (platform
                # arguments keep their automatic value).
        return values

    def _expand(self, word: str, env: Mapping[str, str], instruction: Instruction) -> str:
        try:
            return expand(word, env, escape=self.dockerfile.escape)
        except ExpansionError as exc:
            raise DockerfileError(
                str(exc), line=instruction.line, end_line=instruction.end_line
            ) from None

    def _plan_stages(self) -> None:
        stages = self.dockerfile.stages
        multi = len(stages) > 1
        for stage in stages:
            label = stage.name or f"stage-{stage.index}"
            base_name = self._expand(stage.from_.base, self.meta_args, stage.from_)
            if not base_name:
                raise DockerfileError(
                    f"base name ({stage.from_.base}) should not be blank",
                    line=stage.from_.line,
                )
            if stage.from_.platform is not None:
                wanted = self._expand(stage.from_.platform, self.meta_args, stage.from_)
                if wanted and wanted != format_platform(*host_platform()):
                    raise DockerfileError(
                        f"FROM --platform={wanted} is not supported: cdi build runs steps on "
                        f"this machine's platform ({format_platform(*host_platform())}) only",
                        line=stage.from_.line,
                    )
            plan = _StagePlan(stage=stage, label=label if multi else "", base_kind="source")
            plan.base_name = base_name
            plan.total_steps = 1 + sum(
                1 for i in stage.instructions if i.keyword in ("RUN", "COPY", "ADD", "WORKDIR")
            )
            earlier = self._stage_ref(base_name, before=stage.index)
            if base_name.lower() == "scratch":
                plan.base_kind = "scratch"
            elif earlier is not None:
                plan.base_kind, plan.base_stage = "stage", earlier
            else:
                plan.source = self._source(base_name, stage.from_)
            self.plans.append(plan)
        self.needed = self._needed_stages()

    def _stage_ref(self, name: str, *, before: int) -> int | None:
        """The index of the earlier stage *name* refers to (by name or number)."""
        stage = self.dockerfile.stage_by_name(name)
        if stage is not None and stage.index < before:
            return stage.index
        if name.isdigit() and int(name) < before:
            return int(name)
        return None

    def _source(self, name: str, instruction: Instruction) -> Source:
        key = context_key(name)
        if key in self.named:
            return self.named[key]
        try:
            reference = ImageReference.parse(name)
        except SourceError as exc:
            raise DockerfileError(str(exc), line=instruction.line) from None
        found = self.images.get(str(reference))
        if found is None:
            found = RegistrySource(reference, self.workdir / "pulled")
            self.images[str(reference)] = found
        return found

    def _copy_from(self, instruction: CopyInstruction) -> str | None:
        if instruction.from_ is None:
            return None
        # As BuildKit, --from is expanded with the global build arguments only.
        return self._expand(instruction.from_, self.meta_args, instruction)

    def _needed_stages(self) -> list[int]:
        if self.options.target:
            stage = self.dockerfile.stage_by_name(self.options.target)
            if stage is None:
                raise BuildError(f'target stage "{self.options.target}" could not be found')
            target = stage.index
        else:
            target = len(self.plans) - 1
        needed: set[int] = set()
        pending = [target]
        while pending:
            index = pending.pop()
            if index in needed:
                continue
            needed.add(index)
            plan = self.plans[index]
            if plan.base_stage is not None:
                pending.append(plan.base_stage)
            for instruction in plan.stage.instructions:
                if isinstance(instruction, CopyInstruction):
                    name = self._copy_from(instruction)
                    if name is None:
                        continue
                    ref = self._stage_ref(name, before=index)
                    if ref is not None:
                        pending.append(ref)
                    elif name.isdigit():
                        raise DockerfileError(
                            f"invalid stage index {name} in COPY --from", line=instruction.line
                        )
        return sorted(needed)

    def _resolve_metadata(self) -> None:
        seen: set[int] = set()
        for index in self.needed:
            plan = self.plans[index]
            sources: list[tuple[Source, Instruction]] = []
            if plan.source is not None:
                sources.append((plan.source, plan.stage.from_))
            for instruction in plan.stage.instructions:
                if isinstance(instruction, CopyInstruction):
                    name = self._copy_from(instruction)
                    if name is not None and self._stage_ref(name, before=index) is None:
                        sources.append((self._source(name, instruction), instruction))
            for source, instruction in sources:
                if id(source) in seen or isinstance(source, DirectorySource):
                    continue
                seen.add(id(source))
                name = f"[internal] load metadata for {source.description}"
                with _at_line(instruction), self.progress.vertex(name):
                    config = source.image_config()
                    if config is not None and config.onbuild:
                        raise SourceError(
                            f"{source.description} has ONBUILD triggers, "
                            "which cdi build does not run"
                        )
            if plan.source is not None:
                plan.config = plan.source.image_config()

    def _authorize_devices(self) -> None:
        for index in self.needed:
            for instruction in self.plans[index].stage.instructions:
                if not (isinstance(instruction, CommandInstruction) and instruction.devices):
                    continue
                requests = [
                    DeviceRequest(d.name, optional=not d.required) for d in instruction.devices
                ]
                if self.options.policy is None:
                    names = ", ".join(r.name for r in requests)
                    raise DeviceLoadError(
                        f"failed to load LLB: CDI is disabled, but the build requests {names}",
                        line=instruction.line,
                        end_line=instruction.end_line,
                    )
                try:
                    allowed = self.options.policy.authorize(requests, self.options.entitlements)
                except CDIError as exc:
                    raise DeviceLoadError(f"failed to load LLB: {exc}") from exc
                self.devices[id(instruction)] = list(allowed)

    # --- execute ------------------------------------------------------------------------------

    def _prefix(self, plan: _StagePlan, state_step: int) -> str:
        width = len(str(plan.total_steps))
        label = f"{plan.label} " if plan.label else ""
        return f"[{label}{state_step:>{width}}/{plan.total_steps}]"

    def _execute_stage(self, plan: _StagePlan) -> _State:
        root = Root(self.workdir / f"stage-{plan.stage.index}")
        os.mkdir(root.path)
        os.chmod(root.path, 0o755)
        name = plan.base_name
        if plan.source is not None and not isinstance(plan.source, DirectorySource):
            name = plan.source.description
        with (
            _at_line(plan.stage.from_),
            self.progress.vertex(f"{self._prefix(plan, 1)} FROM {name}") as vertex,
        ):
            if plan.base_kind == "scratch":
                config = ImageConfig.scratch()
            elif plan.base_kind == "stage":
                assert plan.base_stage is not None
                parent = self.states[plan.base_stage]
                copy_tree(parent.root.path, root)
                config = parent.config.clone()
            else:
                assert plan.source is not None
                plan.source.unpack(root, vertex.status)
                config = plan.config.clone() if plan.config is not None else ImageConfig.scratch()
        proxy = {k: v for k, v in self.build_args.items() if k in PROXY_ARGS}
        state = _State(plan=plan, root=root, config=config, proxy=proxy)
        for instruction in plan.stage.instructions:
            self._dispatch(state, instruction)
        self.states[plan.stage.index] = state
        return state

    def _dispatch(self, state: _State, instruction: Instruction) -> None:
        env = state.expansion_env()
        config = state.config
        created_by = _display_command(instruction)
        if isinstance(instruction, ArgInstruction):
            for name, default in instruction.args:
                if name in self.build_args:
                    state.args[name] = self.build_args[name]
                elif default is not None:
                    state.args[name] = self._expand(default, state.expansion_env(), instruction)
                elif name in self.meta_args:
                    state.args[name] = self.meta_args[name]
            return
        if isinstance(instruction, KeyValueInstruction):
            pairs = [
                (self._expand(k, env, instruction), self._expand(v, env, instruction))
                for k, v in instruction.pairs
            ]
            for key, value in pairs:
                if instruction.keyword == "ENV":
                    config.set_env(key, value)
                else:
                    config.labels[key] = value
            config.add_history(created_by, empty_layer=True, created=self.created)
            return
        if isinstance(instruction, WordInstruction):
            self._word(state, instruction, self._expand(instruction.word, env, instruction))
            return
        if isinstance(instruction, ListInstruction):
            words = [self._expand(w, env, instruction) for w in instruction.words]
            if instruction.keyword == "EXPOSE":
                for port in words:
                    config.exposed_ports.update({p: {} for p in _expand_ports(port, instruction)})
            else:
                for path in words:
                    if not path.strip():
                        raise DockerfileError(
                            "VOLUME specified can not be an empty string", line=instruction.line
                        )
                    config.volumes[path] = {}
            config.add_history(created_by, empty_layer=True, created=self.created)
            return
        if isinstance(instruction, CopyInstruction):
            self._step(state, instruction, lambda v: self._copy(v, state, instruction))
            config.add_history(created_by + " # buildkit", empty_layer=False, created=self.created)
            return
        assert isinstance(instruction, CommandInstruction)
        if instruction.keyword == "RUN":
            self._step(state, instruction, lambda v: self._run(v, state, instruction))
            config.add_history(created_by + " # buildkit", empty_layer=False, created=self.created)
            return
        if instruction.keyword == "SHELL":
            config.shell = list(instruction.args)
        else:
            args = list(instruction.args)
            if not instruction.exec_form:
                args = config.shell_or_default + args if args else []
            if instruction.keyword == "CMD":
                config.cmd = args
                state.cmd_set = True
            else:
                config.entrypoint = args
                if not state.cmd_set:
                    # A new ENTRYPOINT drops the CMD inherited from the base image.
                    config.cmd = None
        config.add_history(created_by, empty_layer=True, created=self.created)

    def _word(self, state: _State, instruction: WordInstruction, value: str) -> None:
        config = state.config
        if instruction.keyword == "WORKDIR":
            current = config.working_dir or "/"
            path = posixpath.normpath(posixpath.join(current, value))
            config.working_dir = path

            def mkdir(vertex: Vertex) -> None:
                owner = None
                if config.user:
                    user = self._exec_user(state, instruction)
                    owner = Owner(user.uid, user.gid)
                try:
                    state.root.mkdirs(path, owner=owner)
                except (CopyError, PathEscapeError) as exc:
                    raise StepError(str(exc)) from exc

            self._step(state, instruction, mkdir)
            config.add_history(
                _display_command(instruction), empty_layer=True, created=self.created
            )
            return
        if instruction.keyword == "USER":
            config.user = value
        elif instruction.keyword == "STOPSIGNAL":
            config.stop_signal = value
        else:
            config.author = value
        config.add_history(_display_command(instruction), empty_layer=True, created=self.created)

    def _step(
        self, state: _State, instruction: Instruction, action: Callable[[Vertex], None]
    ) -> None:
        """Run *action* as the next numbered step of the stage, with its own vertex."""
        name = f"{self._prefix(state.plan, state.step + 1)} {_display_command(instruction)}"
        state.step += 1
        vertex = self.progress.vertex(name)
        try:
            action(vertex)
        except BuildError as exc:
            if exc.line is None:
                exc.line, exc.end_line = instruction.line, instruction.end_line
            vertex.fail(str(exc))
            raise
        except CDIError as exc:
            vertex.fail(str(exc))
            raise StepError(str(exc), line=instruction.line, end_line=instruction.end_line) from exc
        except OSError as exc:
            message = f"{_display_command(instruction)}: {exc.strerror or exc}"
            if exc.filename:
                message += f": {exc.filename}"
            vertex.fail(message)
            raise StepError(message, line=instruction.line, end_line=instruction.end_line) from exc
        except BaseException as exc:
            vertex.fail(str(exc) or type(exc).__name__)
            raise
        vertex.done()

    # --- RUN ----------------------------------------------------------------------------------

    def _exec_user(self, state: _State, instruction: Instruction) -> ExecUser:
        user = self._expand(state.config.user, state.expansion_env(), instruction)
        try:
            return resolve_exec_user(state.root, user)
        except UserError as exc:
            raise StepError(str(exc)) from exc

    def _run(self, vertex: Vertex, state: _State, instruction: CommandInstruction) -> None:
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
                scripts_dir = Path(tempfile.mkdtemp(prefix="run-", dir=self.workdir))
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
        user = self._exec_user(state, instruction)
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
        requests = self.devices.get(id(instruction), [])
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

    # --- COPY / ADD ---------------------------------------------------------------------------

    def _copy(self, vertex: Vertex, state: _State, instruction: CopyInstruction) -> None:
        env = state.expansion_env()
        dest = self._expand(instruction.dest, env, instruction)
        if not dest:
            raise StepError(f"{instruction.keyword} destination can not be empty")
        workdir = state.config.working_dir or "/"
        dest_is_dir = dest.endswith("/") or dest in (".", "..") or dest.endswith("/.")
        if len(instruction.sources) > 1 and not dest_is_dir:
            raise StepError(
                f"When using {instruction.keyword} with more than one source file, "
                "the destination must be a directory and end with a /"
            )
        dest_path = posixpath.normpath(posixpath.join(workdir, dest))
        owner: Owner | None = None
        if instruction.chown:
            try:
                owner = resolve_chown(state.root, self._expand(instruction.chown, env, instruction))
            except UserError as exc:
                raise StepError(str(exc)) from exc
        mode = (
            _parse_chmod(self._expand(instruction.chmod, env, instruction))
            if instruction.chmod
            else None
        )
        from_name = self._copy_from(instruction)
        heredocs = {doc.name: doc for doc in instruction.heredocs}
        sources: list[tuple[Root, str, bool]] = []  # (root, path in root, from the main context)
        written = 0
        source_root, from_context, exclude = self._copy_source_root(state, from_name, instruction)
        for raw in instruction.sources:
            heredoc_name = raw[2:].lstrip("-").strip("\"'") if raw.startswith("<<") else None
            if heredoc_name is not None and heredoc_name in heredocs:
                target = posixpath.join(dest_path, heredoc_name) if dest_is_dir else dest_path
                written += self._copy_heredoc(
                    state, heredocs[heredoc_name], target, CopyOptions(owner=owner, mode=mode), env
                )
                continue
            value = self._expand(raw, env, instruction)
            if _URL.match(value):
                raise StepError(
                    f"{instruction.keyword} from a URL ({value}) is not supported: "
                    "build steps have no network"
                )
            for path in self._match_sources(source_root, value, from_context, exclude):
                sources.append((source_root, path, from_context))
        if len(sources) + written > 1:
            # Several files matched one pattern: the destination can only be a directory.
            dest_is_dir = True
        for root, path, from_context in sources:
            host = root.resolve(path)
            options = CopyOptions(
                owner=owner if owner is not None else (Owner(0, 0) if from_context else None),
                mode=mode,
                exclude=exclude if from_context else None,
            )
            relative = root.relative(host).lstrip("/")
            if (
                instruction.is_add
                and from_context
                and host.is_file()
                and not host.is_symlink()
                and _is_archive(host)
            ):
                self._extract(host, state.root, dest_path)
                continue
            if host.is_dir():
                copy_entry(
                    host,
                    state.root,
                    dest_path,
                    options,
                    contents_only=True,
                    relative="" if relative == "." else relative,
                )
                continue
            target = dest_path
            resolved_dest = state.root.resolve(dest_path)
            if dest_is_dir or (resolved_dest.is_dir()):
                # The name is the source's as written: a link keeps its own name.
                target = posixpath.join(
                    state.root.relative(resolved_dest), posixpath.basename(path)
                )
            copy_entry(host, state.root, target, options, relative=relative)
        vertex.status(f"{len(sources) + written} sources copied")

    def _copy_source_root(
        self, state: _State, from_name: str | None, instruction: CopyInstruction
    ) -> tuple[Root, bool, Exclude | None]:
        """Where the sources are read from, whether that is the main context, its filter."""
        if from_name is None:
            return self.main.root, True, (self.main.excludes if self.main.ignore else None)
        index = self._stage_ref(from_name, before=state.plan.stage.index)
        if index is not None:
            return self.states[index].root, False, None
        source = self._source(from_name, instruction)
        directory = source.directory()
        if directory is not None:
            ignore = source.ignore if isinstance(source, DirectorySource) else None
            return Root(directory), True, (ignore.excludes if ignore else None)
        key = id(source)
        if key not in self.source_roots:
            root = Root(self.workdir / f"source-{len(self.source_roots)}")
            os.mkdir(root.path)
            source.unpack(root, lambda _line: None)
            self.source_roots[key] = root
        return self.source_roots[key], False, None

    def _match_sources(
        self, root: Root, value: str, from_context: bool, exclude: Exclude | None
    ) -> list[str]:
        """The paths in *root* that source *value* names (glob patterns expanded)."""
        cleaned_raw = posixpath.normpath(value)
        if from_context and (cleaned_raw == ".." or cleaned_raw.startswith("../")):
            raise StepError(f"forbidden path outside the build context: {value}")
        relative = clean_relative(value)
        if not has_glob(relative):
            host = root.resolve(relative)
            if not os.path.lexists(host) or (
                exclude is not None and relative != "." and exclude(relative, host.is_dir())
            ):
                shown = "/" if relative == "." else "/" + relative
                raise StepError(f'failed to compute cache key: "{shown}": not found')
            return [relative]
        matches = [""]
        for part in relative.split("/"):
            next_matches = []
            for prefix in matches:
                directory = root.resolve(prefix or ".")
                if not has_glob(part):
                    candidate = f"{prefix}/{part}" if prefix else part
                    if os.path.lexists(root.resolve(candidate)):
                        next_matches.append(candidate)
                    continue
                if not directory.is_dir():
                    continue
                for entry in sorted(os.listdir(directory)):
                    if _glob_match(part, entry):
                        next_matches.append(f"{prefix}/{entry}" if prefix else entry)
            matches = next_matches
        if exclude is not None:
            matches = [m for m in matches if not exclude(m, root.resolve(m).is_dir())]
        if not matches:
            raise StepError("no source files were specified")
        return matches

    def _copy_heredoc(
        self,
        state: _State,
        doc: Heredoc,
        target: str,
        options: CopyOptions,
        env: Mapping[str, str],
    ) -> int:
        """Write a ``COPY <<EOF`` file (expanded unless its name was quoted) at *target*."""
        owner, mode = options.owner, options.mode
        content = doc.content
        if not doc.quoted:
            try:
                content = expand(content, env, escape=self.dockerfile.escape, quotes=False)
            except ExpansionError as exc:
                raise StepError(str(exc)) from exc
        parent = state.root.mkdirs(posixpath.dirname(target) or "/", owner=owner)
        host = parent / posixpath.basename(target)
        if host.is_symlink() or host.exists():
            if host.is_dir() and not host.is_symlink():
                host = host / doc.name
            else:
                host.unlink()
        fd = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        owner = owner or Owner(0, 0)
        os.lchown(host, owner.uid, owner.gid)
        os.chmod(host, mode if mode is not None else 0o644)
        return 1

    def _extract(self, archive_path: Path, root: Root, dest: str) -> None:
        root.mkdirs(dest)
        scratch = Root(root.resolve(dest))
        with open(archive_path, "rb") as handle:
            apply_layer(handle, scratch, whiteouts=False)

    # --- export -------------------------------------------------------------------------------

    def _export(self, state: _State, result: BuildResult) -> None:
        outputs = list(self.options.outputs)
        for spec in outputs:
            if spec.type == "local":
                with self.progress.vertex("exporting to client directory") as vertex:
                    write_local(state.root, Path(spec.dest), vertex.status)
            elif spec.type == "tar":
                with self.progress.vertex("exporting to client tarball") as vertex:
                    write_tar(state.root, spec, self.options.stdout)
                    vertex.status("sending tarball done")
            else:
                with self.progress.vertex("exporting to oci image format") as vertex:
                    result.oci.append(
                        write_oci(
                            state.root,
                            state.config,
                            spec,
                            created=self.created,
                            epoch=self.epoch,
                            status=vertex.status,
                            stdout=self.options.stdout,
                            workdir=self.workdir,
                        )
                    )


@contextlib.contextmanager
def _at_line(instruction: Instruction) -> Iterator[None]:
    """Errors raised inside point at *instruction* (unless they already point somewhere)."""
    try:
        yield
    except BuildError as exc:
        if exc.line is None:
            exc.line, exc.end_line = instruction.line, instruction.end_line
        raise


def _pump(fd: int, vertex: Vertex) -> None:
    """Copy a step's output from the pipe into its vertex until every writer is gone."""
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        while True:
            chunk = pipe.read(65536)
            if not chunk:
                break
            vertex.log_bytes(chunk)


def _glob_match(pattern: str, name: str) -> bool:
    import fnmatch

    # Go's filepath.Match: no special meaning for a leading dot, '*' stays in one component.
    return fnmatch.fnmatchcase(name, pattern)


def _expand_ports(value: str, instruction: Instruction) -> list[str]:
    port, _, proto = value.partition("/")
    proto = (proto or "tcp").lower()
    start, dash, end = port.partition("-")
    if not start.isdigit() or (dash and not end.isdigit()):
        raise DockerfileError(f"invalid containerPort: {port}", line=instruction.line)
    if not dash:
        return [f"{int(start)}/{proto}"]
    return [f"{p}/{proto}" for p in range(int(start), int(end) + 1)]


def _is_archive(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


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
