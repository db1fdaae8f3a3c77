"""The ``cdi`` command group.

Subcommands are imported only when they run (``cdi --help`` and quick data commands stay fast
on the container start path); each command lives in its own module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

import click

from cdi import __version__
from cdi.cli.lazygroup import lazy_group

#: command name -> (module, short help shown by ``cdi --help``)
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("cdi.cli.validate", "Validate spec files and report errors with positions."),
    "inspect": ("cdi.cli.inspect", "Show the devices builds can use (as docker buildx inspect)."),
    "build": ("cdi.cli.build", "Build a Dockerfile; RUN steps run under runc with their devices."),
    "vendors": ("cdi.cli.vendors", "List the vendors that have spec files."),
    "classes": ("cdi.cli.classes", "List the device classes and their vendors."),
    "devices": ("cdi.cli.devices", "List the devices that resolve."),
    "specs": ("cdi.cli.specs", "List the spec files by vendor, and the files with errors."),
    "dirs": ("cdi.cli.dirs", "List the spec directories, their priorities and errors."),
    "inject": ("cdi.cli.inject", "Inject devices into an OCI runtime spec."),
    "resolve": ("cdi.cli.resolve", "Resolve the CDI devices named in an OCI spec's linux.devices."),
    "edits": ("cdi.cli.edits", "Show the merged container edits of devices."),
    "monitor": ("cdi.cli.monitor", "Print views of the spec directories as they change."),
    "doctor": ("cdi.cli.doctor", "Explain why device names resolve or not."),
    "run": ("cdi.cli.run", "Run a command in a container with devices injected (runc)."),
    "generate": (
        "cdi.cli.generate",
        "Generate CDI specs for this host's hardware (nvidia, amd, intel, devices).",
    ),
    "hook": ("cdi.cli.hook", "Run a hook subcommand as cdi-hook does (OCI state on stdin)."),
    "install-hook": ("cdi.cli.hook", "Build the static cdi-hook launcher and install it."),
    "install-runtime": (
        "cdi.cli.install_runtime",
        "Register cdi-runtime with podman, Docker, containerd or CRI-O.",
    ),
    "kubelet-plugin": (
        "cdi.cli.kubelet_plugin",
        "Serve CDI devices to the kubelet: a device plugin or a DRA driver.",
    ),
    "rootfs": ("cdi.cli.rootfs", "Make a busybox root filesystem for run --rootfs and builds."),
    "transform": ("cdi.cli.transform", "Rewrite spec files (transform root: move their paths)."),
}

#: The reference tool's other names for commands (not shown by --help).
ALIASES: dict[str, str] = {
    "devs": "devices",
    "dev": "devices",
    "inj": "inject",
    "in": "inject",
    "oci": "inject",
    "res": "resolve",
}


#: The group of ``cdi``: its commands are imported when they run.
LazyGroup = lazy_group(COMMANDS, ALIASES)


class Settings:
    """What the global options decided, for the subcommands."""

    def __init__(self, spec_dirs: tuple[str, ...], output: str | None) -> None:
        self.spec_dirs = list(spec_dirs) or None
        self.output = output


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="cdi")
@click.option(
    "--spec-dir",
    "spec_dirs",
    multiple=True,
    metavar="DIR",
    help="Spec directory (repeatable; later ones win). Default: $CDI_SPEC_DIRS or "
    "/etc/cdi and /var/run/cdi.",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json", "yaml"]),
    default=None,
    help="Output format for commands that print data.",
)
@click.pass_context
def main(ctx: click.Context, spec_dirs: tuple[str, ...], output: str | None) -> None:
    """Container Device Interface (CDI) tool: inspect, validate and use CDI devices."""
    ctx.obj = Settings(spec_dirs, output)


def settings(ctx: click.Context) -> Settings:
    """The global settings (also when a command is invoked on its own, as in tests)."""
    found = ctx.find_object(Settings)
    return found if found is not None else Settings((), None)


_Command = TypeVar("_Command", bound=Callable[..., Any])


@overload
def output_option(function: _Command) -> _Command: ...


@overload
def output_option(
    *, choices: tuple[str, ...] = ..., help: str = ...
) -> Callable[[_Command], _Command]: ...


def output_option(
    function: _Command | None = None,
    *,
    choices: tuple[str, ...] = ("text", "json", "yaml"),
    help: str = "Output format (default: text, or the global -o).",
) -> Any:
    """``-o/--output`` on a data command (overrides the global one): ``@output_option``, or
    ``@output_option(choices=..., help=...)`` for commands that print documents."""
    decorator = click.option(
        "-o", "--output", type=click.Choice(list(choices)), default=None, help=help
    )
    return decorator if function is None else decorator(function)


def output_format(ctx: click.Context, local: str | None) -> str:
    return local or settings(ctx).output or "text"
