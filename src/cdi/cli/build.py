"""``cdi build``: build a Dockerfile, running each RUN step in a container under runc.

The flags are those of ``docker buildx build`` that make sense without a daemon; errors are
printed the way Buildx prints them (``ERROR: failed to build: failed to solve: ...``, after
the failed step's last output lines and the Dockerfile lines the error is about).
"""

from __future__ import annotations

import click

from cdi.cli.buildpolicy import policy_options
from cdi.cli.common import cache_dir_option, runtime_root_option
from cdi.cli.main import settings

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import Any


# The build package is imported by the functions that use it (cdi.cli.buildrun): ``cdi build
# --help`` and a refused flag cost no more than click itself.


class BuildCommand(click.Command):
    """``cdi build``, which hands ``cdi build prune ...`` to :func:`cdi.cli.build_prune.prune`
    (a directory named ``prune`` is built as ``cdi build ./prune``)."""

    #: The first words that run another command (for the generated reference, docs/cli.md).
    word_commands = ("prune",)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        if args[:1] == ["prune"]:
            from cdi.cli.build_prune import prune

            name = f"{info_name} prune" if info_name else "prune"
            return prune.make_context(name, args[1:], parent=parent, **extra)
        return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        if ctx.command is not self:  # the context make_context made for prune
            return ctx.command.invoke(ctx)
        return super().invoke(ctx)


# --- cdi build -----------------------------------------------------------------------------------


@click.command(cls=BuildCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-f",
    "--file",
    "dockerfile",
    metavar="PATH",
    help="The Dockerfile (default: CONTEXT/Dockerfile; - for stdin).",
)
@click.option(
    "--allow",
    "allow",
    multiple=True,
    metavar="ENTITLEMENT",
    help="Grant an entitlement: device, device=NAME|KIND[,alias=NAME] (repeatable).",
)
@click.option(
    "--build-context",
    "build_contexts",
    multiple=True,
    metavar="NAME=SRC",
    help="A named context: DIR, oci-layout://PATH[:TAG], docker-archive://PATH or "
    "docker-image://REF (repeatable).",
)
@click.option(
    "--build-arg",
    "build_args",
    multiple=True,
    metavar="KEY=VALUE",
    help="A build argument (repeatable).",
)
@click.option(
    "--progress",
    type=click.Choice(["auto", "plain", "tty", "quiet"]),
    default="auto",
    show_default=True,
    help="How to show progress: live on a terminal (auto, tty) or plain lines.",
)
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    metavar="SPEC",
    help="type=local,dest=DIR | type=oci,dest=FILE.tar | type=tar,dest=FILE; DIR; - (repeatable).",
)
@click.option("--target", metavar="STAGE", help="The stage to build (default: the last).")
@cache_dir_option
@click.option(
    "--no-cache",
    is_flag=True,
    help="Run every step; take nothing from the cache (results are still stored in it).",
)
@click.option(
    "--spec-dir",
    "spec_dirs",
    multiple=True,
    metavar="DIR",
    help="CDI spec directory (repeatable; overrides the global --spec-dir).",
)
@policy_options
@click.option("--runtime", default="runc", show_default=True, help="The OCI runtime for RUN steps.")
@runtime_root_option
@click.argument("context", metavar="CONTEXT")
@click.pass_context
def build(  # noqa: PLR0917 -- click passes each option as an argument
    ctx: click.Context,
    dockerfile: str | None,
    allow: tuple[str, ...],
    build_contexts: tuple[str, ...],
    build_args: tuple[str, ...],
    progress: str,
    outputs: tuple[str, ...],
    target: str | None,
    cache_dir: str | None,
    no_cache: bool,
    spec_dirs: tuple[str, ...],
    config_path: str | None,
    auto_allowed: tuple[str, ...],
    host_root: str,
    runtime: str,
    runtime_root: str | None,
    context: str,
) -> None:
    """Build the Dockerfile in CONTEXT; each RUN step runs in a container under runc.

    RUN --device=NAME[,required] (with # syntax=docker/dockerfile:1-labs) gives a step CDI
    devices, allowed by their spec's auto-allow annotation or by --allow. On a host with an
    NVIDIA driver or GPU, the first step asking for nvidia.com/gpu generates its spec (into
    the last spec directory) under a "preparing device nvidia.com/gpu" step.

    Step results are kept in a build cache and reused (#N CACHED); cdi build prune
    removes them (see cdi build prune --help; build a directory named prune as ./prune).
    """
    from cdi.cli.buildrun import UsageProblem, build_options, start_build

    try:
        options = build_options(
            context=context,
            allow=allow,
            build_contexts=build_contexts,
            build_args=build_args,
            outputs=outputs,
            target=target,
            cache_dir=cache_dir,
            no_cache=no_cache,
            runtime=runtime,
            runtime_root=runtime_root,
        )
    except UsageProblem as exc:
        if exc.param_hint is None:
            raise click.UsageError(str(exc)) from None
        raise click.BadParameter(str(exc), param_hint=exc.param_hint) from None
    status = start_build(
        options,
        dockerfile=dockerfile,
        spec_dirs=list(spec_dirs) or settings(ctx).spec_dirs,
        config_path=config_path,
        auto_allowed=auto_allowed,
        host_root=host_root,
        progress=progress,
    )
    ctx.exit(status)
