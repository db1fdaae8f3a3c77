"""``cdi build``: build a Dockerfile, running each RUN step in a container under runc.

The flags are those of ``docker buildx build`` that make sense without a daemon; errors are
printed the way Buildx prints them (``ERROR: failed to build: failed to solve: ...``, after
the failed step's last output lines and the Dockerfile lines the error is about).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from cdi.cli.buildpolicy import policy_from_options, policy_options
from cdi.cli.common import runtime_root_option
from cdi.cli.main import settings
from cdi.errors import CDIError

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import IO, TextIO

    from cdi.build import BuildError, BuildOptions, OutputSpec, Progress

# The build package is imported by the functions that use it: ``cdi build --help`` and a
# refused flag cost no more than click itself.

ERROR_PREFIX = "ERROR: failed to build: failed to solve: "


def error_line(message: str) -> str:
    """Buildx's last line for a failed build, *message* being BuildKit's (the one place)."""
    return f"{ERROR_PREFIX}{message}\n"


def make_progress(mode: str, stream: TextIO) -> Progress:
    """The display for ``--progress`` *mode* on *stream* (``auto``: live on a terminal)."""
    from cdi.build.progress import PlainProgress, Progress, TtyProgress

    if mode == "quiet":
        return Progress()
    if mode == "tty" or (mode == "auto" and stream.isatty()):
        return TtyProgress(stream)
    return PlainProgress(stream)


def format_error(error: BuildError, progress: Progress | None) -> str:
    """What Buildx prints for a failed build: failed step, Dockerfile excerpt, ERROR line."""
    from cdi.build.progress import format_failure, format_source_excerpt

    parts = []
    if progress is not None and progress.failed is not None:
        parts.append(format_failure(progress.failed))
    if error.line is not None and error.source is not None:
        parts.append(
            format_source_excerpt(
                error.filename or "Dockerfile",
                error.source.splitlines(),
                error.line,
                error.end_line,
            )
        )
    parts.append(error_line(str(error)))
    return "".join(parts)


def run_build(options: BuildOptions, *, stderr: TextIO | None = None) -> int:
    """Run a build and report a failure on *stderr* as Buildx does; the exit status (0 or 1).

    The progress display is ``options.progress`` (the caller closes it).
    """
    from cdi.build.errors import BuildError
    from cdi.build.executor import build as run_executor

    err = stderr if stderr is not None else sys.stderr
    try:
        run_executor(options)
    except BuildError as exc:
        if options.progress is not None:
            options.progress.close()
        err.write(format_error(exc, options.progress))
        err.flush()
        return 1
    except CDIError as exc:
        if options.progress is not None:
            options.progress.close()
        err.write(error_line(str(exc)))
        err.flush()
        return 1
    if options.progress is not None:
        options.progress.close()
    return 0


def _key_values(values: Sequence[str], option: str, *, from_env: bool) -> dict[str, str]:
    result: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not key:
            raise click.BadParameter(
                f"invalid value {value!r}: expected KEY=VALUE", param_hint=option
            )
        if not sep:
            if not from_env:
                raise click.BadParameter(
                    f"invalid value {value!r}: expected NAME=VALUE", param_hint=option
                )
            # As docker: a bare name takes its value from the environment, if set there.
            if key in os.environ:
                result[key] = os.environ[key]
            continue
        result[key] = val
    return result


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
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
    """
    from cdi.build.options import BuildOptions
    from cdi.policy.entitlements import EntitlementError, parse_entitlements

    if context == "-":
        raise click.BadParameter(
            "a build context from stdin is not supported", param_hint="CONTEXT"
        )
    try:
        entitlements = parse_entitlements(allow)
    except EntitlementError as exc:
        raise click.BadParameter(str(exc), param_hint="--allow") from None
    output_specs: list[OutputSpec] = []
    if outputs:  # the output writers (tar, gzip, hashing, JSON) load only when asked for
        from cdi.build.output import OutputError, parse_output

        try:
            output_specs = [parse_output(value) for value in outputs]
        except OutputError as exc:
            raise click.BadParameter(str(exc), param_hint="--output") from None
    stdout: IO[bytes] | None = None
    if any(spec.to_stdout for spec in output_specs):
        if sys.stdout.isatty():
            raise click.UsageError(
                "refusing to write the build output to a terminal: redirect stdout"
            )
        stdout = sys.stdout.buffer
    options = BuildOptions(
        context=Path(context),
        build_args=_key_values(build_args, "--build-arg", from_env=True),
        build_contexts=_key_values(build_contexts, "--build-context", from_env=False),
        target=target,
        outputs=output_specs,
        entitlements=entitlements,
        runtime=runtime,
        runtime_root=runtime_root,
        stdout=stdout,
    )
    if dockerfile == "-":
        options.dockerfile_text = sys.stdin.read()
    elif dockerfile is not None:
        options.dockerfile = Path(dockerfile)
    dirs = list(spec_dirs) or settings(ctx).spec_dirs
    try:
        options.policy = policy_from_options(dirs, config_path, auto_allowed, host_root)
    except CDIError as exc:
        click.echo(error_line(str(exc)), err=True, nl=False)
        ctx.exit(1)
    options.progress = make_progress(progress, sys.stderr)
    if not output_specs:
        options.progress.warn(
            "No output specified: the build result is discarded. "
            "Use --output type=local,dest=DIR or --output type=oci,dest=FILE.tar to keep it."
        )
    ctx.exit(run_build(options))
