"""Loading a build: the Dockerfile, the stages it needs, their sources, the devices RUN may use.

This is the first phase of a build (the driver is :mod:`~cdi.build.executor`): read and parse
the Dockerfile, pick the target stage and the stages it needs, resolve every base image and
build context (metadata only), check the syntax channel for ``RUN --device``, and authorize
every device request of every RUN step with the :class:`~cdi.policy.DevicePolicy`. BuildKit does
the device check when it loads the build definition, so a refused device fails the build before
anything has run.

The steps keep using the :class:`BuildPlan` while they execute: it expands words with the
Dockerfile's escape character and finds the stage or source a ``COPY --from`` names.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path

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
    CommandInstruction,
    CopyInstruction,
    Dockerfile,
    Instruction,
    Stage,
    Syntax,
    check_device_channel,
    parse,
)
from cdi.build.errors import BuildError, DeviceLoadError, DockerfileError, SourceError
from cdi.build.expand import ExpansionError, expand
from cdi.build.image import ImageConfig, format_platform, host_platform
from cdi.build.mutable import mutable_record
from cdi.build.options import BuildOptions
from cdi.build.progress import Progress
from cdi.errors import CDIError
from cdi.policy.devices import DevicePolicy, DeviceRequest


@mutable_record
class StagePlan:
    """A stage as resolved at load time."""

    stage: Stage
    label: str
    base_kind: str  # "scratch" | "stage" | "source"
    base_stage: int | None = None
    source: Source | None = None
    base_name: str = ""
    config: ImageConfig | None = None
    total_steps: int = 1


class BuildPlan:
    """What a build will run, as :meth:`load` finds it before anything runs."""

    def __init__(
        self,
        options: BuildOptions,
        progress: Progress,
        build_args: Mapping[str, str],
        workdir: Path,
    ) -> None:
        self.options = options
        self.progress = progress
        self.build_args = build_args
        #: The build's scratch directory (pulled images, stage roots).
        self.workdir = workdir
        self.dockerfile: Dockerfile
        #: The Dockerfile's name and text, set as soon as known: errors show its lines.
        self.dockerfile_name = "Dockerfile"
        self.source_text: str | None = None
        self.main: MainContext
        self.stages: list[StagePlan] = []
        #: The indexes of the stages the target needs (itself included), in build order.
        self.needed: list[int] = []
        self.meta_args: dict[str, str] = {}
        self.named: dict[str, Source] = {}
        self.images: dict[str, Source] = {}
        #: ``id()`` of a RUN instruction -> the devices the policy allowed it.
        self.devices: dict[int, list[DeviceRequest]] = {}
        #: ``id()`` of a source -> its cache key (a digest of its content).
        self._source_keys: dict[int, str] = {}

    def load(self) -> None:
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
        check_device_channel(syntax, [self.stages[i].stage for i in self.needed])
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
                    values[name] = self.expand(default, values, instruction)
                # A bare `ARG NAME` with no build argument declares NAME unset (platform
                # arguments keep their automatic value).
        return values

    def expand(self, word: str, env: Mapping[str, str], instruction: Instruction) -> str:
        """*word* with variables from *env* expanded; an error points at *instruction*."""
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
            base_name = self.expand(stage.from_.base, self.meta_args, stage.from_)
            if not base_name:
                raise DockerfileError(
                    f"base name ({stage.from_.base}) should not be blank",
                    line=stage.from_.line,
                )
            if stage.from_.platform is not None:
                wanted = self.expand(stage.from_.platform, self.meta_args, stage.from_)
                if wanted and wanted != format_platform(*host_platform()):
                    raise DockerfileError(
                        f"FROM --platform={wanted} is not supported: cdi build runs steps on "
                        f"this machine's platform ({format_platform(*host_platform())}) only",
                        line=stage.from_.line,
                    )
            plan = StagePlan(stage=stage, label=label if multi else "", base_kind="source")
            plan.base_name = base_name
            plan.total_steps = 1 + sum(
                1 for i in stage.instructions if i.keyword in ("RUN", "COPY", "ADD", "WORKDIR")
            )
            earlier = self.stage_ref(base_name, before=stage.index)
            if base_name.lower() == "scratch":
                plan.base_kind = "scratch"
            elif earlier is not None:
                plan.base_kind, plan.base_stage = "stage", earlier
            else:
                plan.source = self.source(base_name, stage.from_)
            self.stages.append(plan)
        self.needed = self._needed_stages()

    def stage_ref(self, name: str, *, before: int) -> int | None:
        """The index of the earlier stage *name* refers to (by name or number)."""
        stage = self.dockerfile.stage_by_name(name)
        if stage is not None and stage.index < before:
            return stage.index
        if name.isdigit() and int(name) < before:
            return int(name)
        return None

    def source(self, name: str, instruction: Instruction) -> Source:
        """The named build context or image *name* means (one object per image)."""
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

    def source_key(self, source: Source) -> str:
        """The cache key of the root filesystem *source* is (worked out once per build)."""
        key = self._source_keys.get(id(source))
        if key is None:
            from cdi.build.cache.keys import cache_key

            key = cache_key("", {"base": source.cache_material()})
            self._source_keys[id(source)] = key
        return key

    def copy_from(self, instruction: CopyInstruction) -> str | None:
        """The expanded ``--from`` of a COPY/ADD, or None without one."""
        if instruction.from_ is None:
            return None
        # As BuildKit, --from is expanded with the global build arguments only.
        return self.expand(instruction.from_, self.meta_args, instruction)

    def _needed_stages(self) -> list[int]:
        if self.options.target:
            stage = self.dockerfile.stage_by_name(self.options.target)
            if stage is None:
                raise BuildError(f'target stage "{self.options.target}" could not be found')
            target = stage.index
        else:
            target = len(self.stages) - 1
        needed: set[int] = set()
        pending = [target]
        while pending:
            index = pending.pop()
            if index in needed:
                continue
            needed.add(index)
            plan = self.stages[index]
            if plan.base_stage is not None:
                pending.append(plan.base_stage)
            for instruction in plan.stage.instructions:
                if isinstance(instruction, CopyInstruction):
                    name = self.copy_from(instruction)
                    if name is None:
                        continue
                    ref = self.stage_ref(name, before=index)
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
            plan = self.stages[index]
            sources: list[tuple[Source, Instruction]] = []
            if plan.source is not None:
                sources.append((plan.source, plan.stage.from_))
            for instruction in plan.stage.instructions:
                if isinstance(instruction, CopyInstruction):
                    name = self.copy_from(instruction)
                    if name is not None and self.stage_ref(name, before=index) is None:
                        sources.append((self.source(name, instruction), instruction))
            for source, instruction in sources:
                if id(source) in seen or isinstance(source, DirectorySource):
                    continue
                seen.add(id(source))
                name = f"[internal] load metadata for {source.description}"
                with at_line(instruction), self.progress.vertex(name):
                    config = source.image_config()
                    if config is not None and config.onbuild:
                        raise SourceError(
                            f"{source.description} has ONBUILD triggers, "
                            "which cdi build does not run"
                        )
            if plan.source is not None:
                plan.config = plan.source.image_config()

    def _authorize_devices(self) -> None:
        steps = [
            instruction
            for index in self.needed
            for instruction in self.stages[index].stage.instructions
            if isinstance(instruction, CommandInstruction) and instruction.devices
        ]
        if steps and self.options.policy is not None:
            self._warn_spec_errors(self.options.policy)
        for instruction in steps:
            requests = [DeviceRequest(d.name, optional=not d.required) for d in instruction.devices]
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

    def _warn_spec_errors(self, policy: DevicePolicy) -> None:
        """Name the spec files the devices come without (BuildKit's ``CDI setup error``).

        buildkitd refuses to start over a spec that does not load; a build here goes on with
        the specs that do, and says which did not.
        """
        for path, errors in sorted(policy.registry.errors().items()):
            for error in errors:
                self.progress.warn(f"CDI setup error {path}: {error}")


@contextlib.contextmanager
def at_line(instruction: Instruction) -> Iterator[None]:
    """Errors raised inside point at *instruction* (unless they already point somewhere)."""
    try:
        yield
    except BuildError as exc:
        if exc.line is None:
            exc.line, exc.end_line = instruction.line, instruction.end_line
        raise


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
