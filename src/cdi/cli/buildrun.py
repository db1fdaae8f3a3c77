"""Running ``cdi build`` from its flags' values, without the command-line framework.

The click command (:mod:`cdi.cli.build`) and the console script's fast path
(:mod:`cdi.cli.fast`) both call :func:`build_options` and :func:`start_build`, so a build
runs the same whichever parsed its flags. A flag value that is wrong raises
:class:`UsageProblem` before anything has run: the click command reports it as a usage
error (exit 2), the fast path hands the whole command line to click, which does.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cdi.errors import CDIError

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import IO, TextIO

    from cdi.build import BuildError, BuildOptions, OutputSpec, Progress

ERROR_PREFIX = "ERROR: failed to build: failed to solve: "
#: What ``--progress`` accepts.
PROGRESS_MODES = ("auto", "plain", "tty", "quiet")


class UsageProblem(CDIError):
    """A flag's value is wrong; *param_hint* names the flag (None: the command line)."""

    def __init__(self, message: str, param_hint: str | None = None) -> None:
        super().__init__(message)
        self.param_hint = param_hint


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

    The progress display is ``options.progress`` (closed here).
    """
    from cdi.build.errors import BuildError
    from cdi.build.executor import build as run_executor
    from cdi.cli.signals import stop_on_signals

    err = stderr if stderr is not None else sys.stderr
    try:
        # Stopped, the build still unmounts, removes what it staged and kills its container.
        with stop_on_signals() as received:
            run_executor(options)
    except KeyboardInterrupt:
        if options.progress is not None:
            options.progress.close()
        err.write(error_line("Canceled: context canceled"))
        err.flush()
        return 128 + (received[-1] if received else 2)
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


def key_values(values: Sequence[str], option: str, *, from_env: bool) -> dict[str, str]:
    """``KEY=VALUE`` words as a mapping; with *from_env*, a bare ``KEY`` takes its value from
    the environment (as docker does), if set there."""
    result: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not key:
            raise UsageProblem(f"invalid value {value!r}: expected KEY=VALUE", option)
        if not sep:
            if not from_env:
                raise UsageProblem(f"invalid value {value!r}: expected NAME=VALUE", option)
            if key in os.environ:
                result[key] = os.environ[key]
            continue
        result[key] = val
    return result


def build_options(
    *,
    context: str,
    allow: Sequence[str],
    build_contexts: Sequence[str],
    build_args: Sequence[str],
    outputs: Sequence[str],
    target: str | None,
    cache_dir: str | None,
    no_cache: bool,
    runtime: str,
    runtime_root: str | None,
) -> BuildOptions:
    """The build the flags ask for (without its policy and progress display).

    Raises :class:`UsageProblem` for a wrong value.
    """
    from cdi.build.cache.store import default_cache_dir
    from cdi.build.options import BuildOptions
    from cdi.policy.entitlements import EntitlementError, parse_entitlements

    if context == "-":
        raise UsageProblem("a build context from stdin is not supported", "CONTEXT")
    try:
        entitlements = parse_entitlements(allow)
    except EntitlementError as exc:
        raise UsageProblem(str(exc), "--allow") from None
    output_specs: list[OutputSpec] = []
    if outputs:  # the output writers (tar, gzip, hashing, JSON) load only when asked for
        from cdi.build.output import OutputError, parse_output

        try:
            output_specs = [parse_output(value) for value in outputs]
        except OutputError as exc:
            raise UsageProblem(str(exc), "--output") from None
    stdout: IO[bytes] | None = None
    if any(spec.to_stdout for spec in output_specs):
        if sys.stdout.isatty():
            raise UsageProblem("refusing to write the build output to a terminal: redirect stdout")
        stdout = sys.stdout.buffer
    return BuildOptions(
        context=Path(context),
        build_args=key_values(build_args, "--build-arg", from_env=True),
        build_contexts=key_values(build_contexts, "--build-context", from_env=False),
        target=target,
        outputs=output_specs,
        entitlements=entitlements,
        runtime=runtime,
        runtime_root=runtime_root,
        stdout=stdout,
        cache_dir=Path(cache_dir) if cache_dir else default_cache_dir(),
        no_cache=no_cache,
    )


def start_build(
    options: BuildOptions,
    *,
    dockerfile: str | None,
    spec_dirs: Sequence[str] | None,
    config_path: str | None,
    auto_allowed: Sequence[str],
    host_root: str,
    progress: str,
) -> int:
    """Run the build of *options* with its Dockerfile, device policy and progress display
    from the other flags; the exit status (a failure is reported on stderr)."""
    from cdi.cli.buildpolicy import policy_from_options

    if dockerfile == "-":
        options.dockerfile_text = sys.stdin.read()
    elif dockerfile is not None:
        options.dockerfile = Path(dockerfile)
    try:
        options.policy = policy_from_options(spec_dirs, config_path, auto_allowed, host_root)
    except CDIError as exc:
        sys.stderr.write(error_line(str(exc)))
        sys.stderr.flush()
        return 1
    options.progress = make_progress(progress, sys.stderr)
    if not options.outputs:
        options.progress.warn(
            "No output specified: the build result is discarded. "
            "Use --output type=local,dest=DIR or --output type=oci,dest=FILE.tar to keep it."
        )
    return run_build(options)
