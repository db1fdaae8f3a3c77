"""What ``cdi generate amd | intel | devices`` share: the output flags and the runner.

A command reads its own flags into a :class:`Generation` (a function of the progress
callback that returns the specs, and the paths its generator reads) and hands it to
:func:`run` with the shared flags, which then does one of three things:

* write the specs once: to ``--output FILE`` (one spec), into ``--output-dir DIR`` as
  ``<vendor>-<class>.<ext>`` (several), or to stdout (YAML documents, each starting with
  ``---``; JSON documents one per line when there are several). A file is written
  atomically, mode 0644, and only when its content changes;
* ``--compare FILE``: regenerate and say whether FILE is current (exit 0) or stale (exit 1,
  a unified diff on stdout); nothing is written;
* ``--watch``: keep the files current (:func:`cdi.generate.refresh.watch`) until SIGTERM
  or SIGINT, then exit 0.

Progress and report lines go to stderr. Any failure of the generator is one ``Error:``
line and exit status 1, a bad flag exit status 2.
"""

from __future__ import annotations

import posixpath
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cdi.cli.common import fail
from cdi.cli.signals import stop_signals

if TYPE_CHECKING:
    from cdi.generate.fingerprint import Watched
    from cdi.generate.refresh import SpecFile
    from cdi.spec.model import Spec

__all__ = ["DEFAULT_INTERVAL", "Generation", "output_options", "run"]

#: Seconds between two polls of ``--watch``.
DEFAULT_INTERVAL = 5.0

Progress = Callable[[str], None]
_Function = TypeVar("_Function", bound=Callable[..., Any])


@dataclass(frozen=True)
class Generation:
    """One command's generator: *generate* makes the specs (calling its argument once per
    thing found), *inputs* are the paths it reads (for ``--watch``), *what* names what it
    looks for in messages (``AMD GPUs``)."""

    generate: Callable[[Progress | None], Sequence[Spec]]
    inputs: Sequence[Watched]
    what: str


def output_options(*, several: bool) -> Callable[[_Function], _Function]:
    """The shared flags; *several*: the command can make more than one spec
    (``--output-dir``)."""
    output_help = "Write the spec to FILE (atomically, mode 0644, only when it changes)"
    output_help += "; only when one spec is generated, else use --output-dir." if several else "."
    output_help += " Default: standard output."
    options = [
        click.option("--output", metavar="FILE", default=None, help=output_help),
    ]
    if several:
        options.append(
            click.option(
                "--output-dir",
                metavar="DIR",
                default=None,
                help="Write each spec to DIR/<vendor>-<class>.<ext> (intel.com-gpu.yaml).",
            )
        )
    options += [
        click.option(
            "--format",
            "fmt",
            type=click.Choice(["yaml", "json"], case_sensitive=False),
            default=None,
            help="yaml (default) or json. Without it, --output's extension (.json, .yaml, "
            ".yml) decides.",
        ),
        click.option(
            "--sysfs-root",
            metavar="DIR",
            default="/sys",
            show_default=True,
            help="The directory standing for /sys; nothing outside it is read.",
        ),
        click.option(
            "--dev-root",
            metavar="DIR",
            default="/dev",
            show_default=True,
            help="The directory standing for /dev; nothing outside it is read. Nodes keep "
            "their /dev paths in the container, with hostPath under DIR.",
        ),
        click.option(
            "--compare",
            metavar="FILE",
            default=None,
            help="Regenerate and compare with the spec in FILE: exit 0 when it matches, 1 "
            "when it differs (a unified diff on stdout). Writes nothing.",
        ),
        click.option(
            "--watch",
            is_flag=True,
            help="Keep the output current: regenerate when the driver, the sysfs entries or "
            "the /dev nodes change, and write only when the spec changes. SIGTERM or SIGINT "
            "stops (exit 0).",
        ),
        click.option(
            "--interval",
            metavar="SECONDS",
            type=float,
            default=None,
            callback=_positive,
            help=f"With --watch: seconds between two checks (default {DEFAULT_INTERVAL:g}).",
        ),
    ]

    def decorate(function: _Function) -> _Function:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def _positive(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not value > 0:  # also NaN
        raise click.BadParameter(f"{value:g} is not a number of seconds above 0", ctx, param)
    return value


def run(ctx: click.Context, generation: Generation, flags: dict[str, Any]) -> None:
    """Carry out the shared flags in *flags* (the command's keyword arguments) for
    *generation*; exits 1 with one ``Error:`` line when the generator fails."""
    from cdi.errors import CDIError
    from cdi.generate.output import choose_format

    output: str | None = flags["output"]
    output_dir: str | None = flags.get("output_dir")
    _check_usage(flags, several="output_dir" in flags)
    fmt, warning = choose_format(
        output or "", flags["fmt"] or "yaml", fmt_explicit=flags["fmt"] is not None
    )
    if warning:
        click.echo(f"Warning: {warning}", err=True)
    try:
        if flags["compare"] is not None:
            _compare(ctx, generation, flags["compare"])
        elif flags["watch"]:
            _watch(generation, output, output_dir, fmt, flags["interval"] or DEFAULT_INTERVAL)
        else:
            _once(ctx, generation, output, output_dir, fmt)
    except CDIError as err:
        fail(ctx, str(err))


def _check_usage(flags: dict[str, Any], *, several: bool) -> None:
    destination = "--output FILE or --output-dir DIR" if several else "--output FILE"
    if flags["output"] is not None and flags.get("output_dir") is not None:
        raise click.UsageError("--output and --output-dir exclude each other")
    writes = flags["output"] is not None or flags.get("output_dir") is not None
    if flags["compare"] is not None and (writes or flags["watch"]):
        raise click.UsageError("--compare writes nothing: it goes without --output and --watch")
    if flags["watch"] and not writes:
        raise click.UsageError(f"--watch needs {destination} to keep current")
    if flags["interval"] is not None and not flags["watch"]:
        raise click.UsageError("--interval is for --watch")


class _SeveralSpecsError(Exception):
    """``--output FILE`` for a generation that made more than one spec."""


def _files(
    specs: Sequence[Spec], output: str | None, output_dir: str | None, fmt: str
) -> list[SpecFile]:
    """Where each spec goes and its bytes (validated); nothing is written yet."""
    from cdi.generate.output import output_path, render
    from cdi.generate.refresh import SpecFile
    from cdi.producer import name_for_spec

    if output is not None and len(specs) > 1:
        kinds = ", ".join(spec.kind for spec in specs)
        raise _SeveralSpecsError(
            f"{len(specs)} specs were generated ({kinds}) and --output takes one: "
            "use --output-dir DIR"
        )
    files = []
    for spec in specs:
        if output is not None:
            path = output_path(output, fmt)
        else:
            assert output_dir is not None
            path = output_path(posixpath.join(output_dir, name_for_spec(spec)), fmt)
        files.append(SpecFile(path, spec, render(spec, fmt)))
    return files


def _echo_progress(line: str) -> None:
    click.echo(line, err=True)


def _once(
    ctx: click.Context,
    generation: Generation,
    output: str | None,
    output_dir: str | None,
    fmt: str,
) -> None:
    from cdi.generate.output import render
    from cdi.generate.refresh import summary, update

    specs = generation.generate(_echo_progress)
    if output is None and output_dir is None:
        _print(specs, fmt, render)
        for spec in specs:
            click.echo(f"generated {summary(spec)}", err=True)
        return
    try:
        files = _files(specs, output, output_dir, fmt)
    except _SeveralSpecsError as err:
        raise click.BadParameter(str(err), ctx, param_hint="'--output'") from None
    changes = update(files)
    for item in changes.written:
        click.echo(f"wrote {item.path} ({summary(item.spec)})", err=True)
    for item in changes.unchanged:
        click.echo(f"{item.path} is current ({summary(item.spec)})", err=True)


def _print(specs: Sequence[Spec], fmt: str, render: Callable[[Spec, str], bytes]) -> None:
    """The specs on stdout: one as its file would hold it; several as YAML documents (each
    starts with ``---``) or JSON lines."""
    documents = [render(spec, fmt) for spec in specs]  # all validated before any is printed
    out = sys.stdout.buffer
    if len(documents) == 1:
        out.write(documents[0])
    else:
        for document in documents:
            out.write(document + b"\n" if fmt == "json" else document)
    out.flush()


def _compare(ctx: click.Context, generation: Generation, path: str) -> None:
    from cdi.errors import SpecError
    from cdi.generate.compare import compare_specs
    from cdi.spec.load import load_spec

    try:
        existing = load_spec(path)
    except SpecError as err:
        message = str(err)
        fail(ctx, message if path in message else f"{path}: {message}")
    specs = generation.generate(_echo_progress)
    fresh = _counterpart(specs, existing.kind)
    if fresh is None:
        kinds = ", ".join(spec.kind for spec in specs)
        fail(ctx, f"{path} holds a spec of kind {existing.kind}; generated were: {kinds}")
    difference = compare_specs(existing, fresh)
    if not difference:
        click.echo(f"{path} is current", err=True)
        return
    for line in difference:
        click.echo(line.rstrip("\n"))
    click.echo(
        f"{path} is stale: write the new spec with --output {path} instead of --compare",
        err=True,
    )
    ctx.exit(1)


def _counterpart(specs: Sequence[Spec], kind: str) -> Spec | None:
    """The generated spec to compare with a file holding *kind*: the only one, else the one
    of that kind."""
    if len(specs) == 1:
        return specs[0]
    return next((spec for spec in specs if spec.kind == kind), None)


def _watch(
    generation: Generation,
    output: str | None,
    output_dir: str | None,
    fmt: str,
    interval: float,
) -> None:
    from cdi.generate.errors import GenerateError
    from cdi.generate.fingerprint import fingerprint
    from cdi.generate.refresh import watch

    def render(progress: Progress) -> list[SpecFile]:
        try:
            return _files(generation.generate(progress), output, output_dir, fmt)
        except _SeveralSpecsError as err:  # the next generation may make one again
            raise GenerateError(str(err)) from None

    def inputs() -> object:
        return fingerprint(generation.inputs)

    from cdi.generate.output import output_path

    target = output_path(output, fmt) if output is not None else f"{output_dir}/"
    click.echo(
        f"watching {generation.what} for {target}: {len(generation.inputs)} paths, every "
        f"{interval:g}s",
        err=True,
    )
    with stop_signals() as wait:
        watch(render, inputs, interval=interval, wait=wait, report=_echo_progress)
    click.echo("stopped", err=True)
