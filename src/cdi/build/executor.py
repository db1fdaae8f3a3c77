"""The build executor: runs a build's phases and executes its stages, instruction by instruction.

A build goes the way BuildKit's goes, in three phases:

1. **load** -- :class:`~cdi.build.plan.BuildPlan` reads the Dockerfile, picks the stages the
   target needs, resolves their sources, and authorizes every device request of every RUN step
   (a refused device fails the build before anything has run);
2. **execute** -- each needed stage in order, on its own root filesystem directory: the base is
   unpacked (or copied from the earlier stage), and each step changes that directory, so the
   next step sees what it left: RUN in a fresh container (:mod:`~cdi.build.run_step`), COPY
   and ADD (:mod:`~cdi.build.copy_step`); the other instructions change the image config;
3. **export** -- the target stage's root filesystem and image configuration go to the outputs.

Steps that change files (RUN, COPY, ADD, WORKDIR) are cached: each has a key made from its
parent's key and what it depends on (:mod:`cdi.build.cache.keys`), and a step whose key is in
the build cache is not run: its stored result becomes the stage's filesystem (``#N CACHED``).
The other instructions only change the image configuration, which is worked out again on
every build. Steps run without a network (the container keeps its own, empty, network
namespace).
"""

from __future__ import annotations

import os
import posixpath
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from cdi.build.cache.keys import cache_key
from cdi.build.cache.snapshots import Snapshot, Snapshots
from cdi.build.cache.store import BuildCache
from cdi.build.context import DirectorySource, Source
from cdi.build.copy_step import CopySteps
from cdi.build.dockerfile import (
    ArgInstruction,
    CommandInstruction,
    CopyInstruction,
    Instruction,
    KeyValueInstruction,
    ListInstruction,
    WordInstruction,
)
from cdi.build.errors import BuildError, DockerfileError, StepError
from cdi.build.fs import CopyError, Owner, PathEscapeError, private_dir
from cdi.build.image import ImageConfig
from cdi.build.options import BuildOptions, BuildResult
from cdi.build.plan import BuildPlan, StagePlan, at_line
from cdi.build.progress import Progress, Vertex
from cdi.build.run_step import RunSteps
from cdi.build.stage_state import StageState
from cdi.errors import CDIError

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import Any

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


#: The cache key of the empty root filesystem (``FROM scratch``).
SCRATCH_KEY = cache_key("", {"base": "scratch"})


def build(options: BuildOptions) -> BuildResult:
    """Run a build. Raises :class:`BuildError` (BuildKit's message in ``str()``)."""
    return _Build(options).run()


# --- helpers ------------------------------------------------------------------------------------


def _created(build_args: Mapping[str, str]) -> tuple[str, int]:
    """The image creation time: ``SOURCE_DATE_EPOCH`` when given (reproducible), else now."""
    epoch_text = build_args.get("SOURCE_DATE_EPOCH") or os.environ.get("SOURCE_DATE_EPOCH")
    epoch = int(epoch_text) if epoch_text and epoch_text.isdigit() else int(time.time())
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)), epoch


def _display_command(instruction: Instruction) -> str:
    """How a step is named in progress: its first line, keyword upper-cased."""
    first = instruction.original.split("\n", 1)[0].strip()
    keyword, _, rest = first.partition(" ")
    return f"{keyword.upper()} {rest.strip()}".rstrip()


def _expand_ports(value: str, instruction: Instruction) -> list[str]:
    port, _, proto = value.partition("/")
    proto = (proto or "tcp").lower()
    start, dash, end = port.partition("-")
    if not start.isdigit() or (dash and not end.isdigit()):
        raise DockerfileError(f"invalid containerPort: {port}", line=instruction.line)
    if not dash:
        return [f"{int(start)}/{proto}"]
    return [f"{p}/{proto}" for p in range(int(start), int(end) + 1)]


class _Build:
    """One build: load its plan, execute the stages the target needs, export the target."""

    def __init__(self, options: BuildOptions) -> None:
        self.options = options
        self.progress = options.progress or Progress()
        self.build_args = dict(options.build_args)
        self.created, self.epoch = _created(self.build_args)
        self.workdir: Path
        self.plan: BuildPlan
        #: The stages executed so far, by index (``FROM`` and ``COPY --from`` read them).
        self.states: dict[int, StageState] = {}
        self.runs: RunSteps
        self.copies: CopySteps
        self.snapshots: Snapshots

    def run(self) -> BuildResult:
        base = self.options.workdir
        if base is not None:
            base.mkdir(parents=True, exist_ok=True)
        self.workdir = private_dir(base, "cdi-build-")
        self.plan = BuildPlan(self.options, self.progress, self.build_args, self.workdir)
        self.runs = RunSteps(self.plan)
        cache = BuildCache(self.options.cache_dir or self.workdir / "cache")
        self.snapshots = Snapshots(cache, self.workdir)
        self.copies = CopySteps(self.plan, self.states, self.snapshots, self._source_snapshot)
        try:
            self._open_cache(cache)
            self.plan.load()
            target_state = None
            for index in self.plan.needed:
                target_state = self._execute_stage(self.plan.stages[index])
            assert target_state is not None
            result = BuildResult(config=target_state.config, target=target_state.plan.label)
            self._export(target_state, result)
            return result
        except BuildError as exc:
            if exc.line is not None and exc.source is None:
                exc.filename, exc.source = self.plan.dockerfile_name, self.plan.source_text
            raise
        except OSError as exc:
            # Disk full, a vanished file: still a build failure with a message, not a trace.
            message = exc.strerror or str(exc)
            if exc.filename:
                message = f"{message}: {exc.filename}"
            raise BuildError(message) from exc
        finally:
            # Unmounted before anything is deleted: never delete through a mount.
            self.snapshots.close()
            cache.close()
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _open_cache(self, cache: BuildCache) -> None:
        """Open the build cache; a prune that holds it is waited for, and said so."""
        try:
            cache.open(wait=False)
        except BlockingIOError:
            self.progress.warn(f"waiting for cdi build prune to finish with {cache.path}")
            cache.open()

    # --- execute ------------------------------------------------------------------------------

    def _prefix(self, plan: StagePlan, state_step: int) -> str:
        width = len(str(plan.total_steps))
        label = f"{plan.label} " if plan.label else ""
        return f"[{label}{state_step:>{width}}/{plan.total_steps}]"

    def _execute_stage(self, plan: StagePlan) -> StageState:
        name = plan.base_name
        if plan.source is not None and not isinstance(plan.source, DirectorySource):
            name = plan.source.description
        with (
            at_line(plan.stage.from_),
            self.progress.vertex(f"{self._prefix(plan, 1)} FROM {name}") as vertex,
        ):
            if plan.base_kind == "scratch":
                snapshot, _ = self.snapshots.base(SCRATCH_KEY, "scratch", lambda root: None)
                config = ImageConfig.scratch()
            elif plan.base_kind == "stage":
                assert plan.base_stage is not None
                parent = self.states[plan.base_stage]
                snapshot = parent.snapshot
                config = parent.config.clone()
            else:
                assert plan.source is not None
                snapshot = self._source_snapshot(plan.source, vertex)
                config = plan.config.clone() if plan.config is not None else ImageConfig.scratch()
        proxy = {k: v for k, v in self.build_args.items() if k in PROXY_ARGS}
        state = StageState(plan=plan, snapshot=snapshot, config=config, proxy=proxy)
        for instruction in plan.stage.instructions:
            self._dispatch(state, instruction)
        self.states[plan.stage.index] = state
        return state

    def _source_snapshot(self, source: Source, vertex: Vertex | None = None) -> Snapshot:
        """The base snapshot of *source*, unpacked into the cache unless it is there already
        (shown ``CACHED`` on *vertex*, unless the build takes nothing from the cache)."""
        status = vertex.status if vertex is not None else (lambda _line: None)
        snapshot, cached = self.snapshots.base(
            self.plan.source_key(source),
            f"FROM {source.description}",
            lambda root: source.unpack(root, status),
        )
        if cached and vertex is not None and not self.options.no_cache:
            vertex.mark_cached()
        return snapshot

    def _dispatch(self, state: StageState, instruction: Instruction) -> None:
        env = state.expansion_env()
        config = state.config
        created_by = _display_command(instruction)
        if isinstance(instruction, ArgInstruction):
            for name, default in instruction.args:
                if name in self.build_args:
                    state.args[name] = self.build_args[name]
                elif default is not None:
                    state.args[name] = self.plan.expand(default, state.expansion_env(), instruction)
                elif name in self.plan.meta_args:
                    state.args[name] = self.plan.meta_args[name]
            return
        if isinstance(instruction, KeyValueInstruction):
            pairs = [
                (self.plan.expand(k, env, instruction), self.plan.expand(v, env, instruction))
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
            self._word(state, instruction, self.plan.expand(instruction.word, env, instruction))
            return
        if isinstance(instruction, ListInstruction):
            words = [self.plan.expand(w, env, instruction) for w in instruction.words]
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
            self._step(state, instruction, lambda: self.copies.prepare(state, instruction))
            config.add_history(created_by + " # buildkit", empty_layer=False, created=self.created)
            return
        assert isinstance(instruction, CommandInstruction)
        if instruction.keyword == "RUN":
            self._step(state, instruction, lambda: self.runs.prepare(state, instruction))
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

    def _word(self, state: StageState, instruction: WordInstruction, value: str) -> None:
        config = state.config
        if instruction.keyword == "WORKDIR":
            current = config.working_dir or "/"
            path = posixpath.normpath(posixpath.join(current, value))
            config.working_dir = path

            def mkdir(vertex: Vertex) -> None:
                owner = None
                if config.user:
                    user = self.runs.exec_user(state, instruction)
                    owner = Owner(user.uid, user.gid)
                try:
                    state.root.mkdirs(path, owner=owner)
                except (CopyError, PathEscapeError) as exc:
                    raise StepError(str(exc)) from exc

            # The user as expanded now (its uid is looked up in the root, which the parent's
            # key stands for).
            user = self.plan.expand(config.user, state.expansion_env(), instruction)
            material = {"workdir": path, "user": user}
            self._step(state, instruction, lambda: (material, mkdir))
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
        self,
        state: StageState,
        instruction: Instruction,
        prepare: Callable[[], tuple[Any, Callable[[Vertex], None]]],
    ) -> None:
        """The next numbered step of the stage, with its own vertex.

        *prepare* gives the step's cache material and its action. The step is taken from the
        cache when its key is there; else the action changes a working root, which then
        becomes the stage's snapshot and the cache's entry for the key.
        """
        name = f"{self._prefix(state.plan, state.step + 1)} {_display_command(instruction)}"
        state.step += 1
        vertex = self.progress.vertex(name)
        try:
            material, action = prepare()
            key = cache_key(state.snapshot.key, material)
            cached = (
                None if self.options.no_cache else self.snapshots.cached_step(state.snapshot, key)
            )
            if cached is not None:
                state.snapshot = cached
                vertex.mark_cached()
                return
            working = self.snapshots.working(state.snapshot)
            state.working = working.root
            try:
                action(vertex)
            except BaseException:
                self.snapshots.discard(working)
                raise
            finally:
                state.working = None
            state.snapshot = self.snapshots.commit(working, key, _display_command(instruction))
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

    # --- export -------------------------------------------------------------------------------

    def _export(self, state: StageState, result: BuildResult) -> None:
        outputs = list(self.options.outputs)
        if not outputs:
            return
        root = self.snapshots.view(state.snapshot)
        # The writers (tar, gzip, hashing, JSON) are loaded by the builds that export.
        from cdi.build.output import write_local, write_oci, write_tar

        for spec in outputs:
            if spec.type == "local":
                with self.progress.vertex("exporting to client directory") as vertex:
                    write_local(root, Path(spec.dest), vertex.status)
            elif spec.type == "tar":
                with self.progress.vertex("exporting to client tarball") as vertex:
                    write_tar(root, spec, self.options.stdout)
                    vertex.status("sending tarball done")
            else:
                with self.progress.vertex("exporting to oci image format") as vertex:
                    result.oci.append(
                        write_oci(
                            root,
                            state.config,
                            spec,
                            created=self.created,
                            epoch=self.epoch,
                            status=vertex.status,
                            stdout=self.options.stdout,
                            workdir=self.workdir,
                        )
                    )
