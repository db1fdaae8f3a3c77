"""``cdi install-runtime``: register ``cdi-runtime`` with podman, Docker, containerd or CRI-O.

The change itself, and reading and writing the engine's file, are :mod:`cdi.shim.engines`'s;
this module finds the runtime, prints the change and, with ``--apply``, has it written.
"""

from __future__ import annotations

import os
import shutil
import sys

import click

from cdi.cli.common import fail
from cdi.cli.main import output_format, output_option
from cdi.shim.engines import (
    DEFAULT_CONFIG,
    ENGINES,
    EngineConfigError,
    Registration,
    RuntimeOptions,
    read_config,
    register,
    write_config,
)

#: The script this command registers, installed beside ``cdi``.
RUNTIME_SCRIPT = "cdi-runtime"


@click.command("install-runtime")
@click.argument("engine", metavar="ENGINE", type=click.Choice(ENGINES))
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    default=None,
    help="The engine's config file. Default: docker /etc/docker/daemon.json, podman "
    "/etc/containers/containers.conf.d/99-cdi-runtime.conf, crio "
    "/etc/crio/crio.conf.d/99-cdi-runtime.conf, containerd /etc/containerd/config.toml.",
)
@click.option(
    "--runtime-path",
    metavar="PATH",
    default=None,
    help="The cdi-runtime to register (made absolute). Default: the one installed beside "
    "this cdi, else the first in PATH.",
)
@click.option(
    "--name",
    metavar="NAME",
    default="cdi",
    show_default=True,
    help="The name the engine knows the runtime by (--runtime NAME, a RuntimeClass handler).",
)
@click.option("--set-default", is_flag=True, help="Make it the engine's default runtime.")
@click.option("--apply", "apply_change", is_flag=True, help="Write the change (default: print it).")
@output_option
@click.pass_context
def install_runtime(
    ctx: click.Context,
    *,
    engine: str,
    config_path: str | None,
    runtime_path: str | None,
    name: str,
    set_default: bool,
    apply_change: bool,
    output: str | None,
) -> None:
    """Register cdi-runtime with ENGINE (docker, podman, containerd or crio) as nvidia-ctk
    runtime configure does: print the change to the engine's config file and, with
    --apply, make it.

    docker: runtimes.NAME in daemon.json (the other keys kept in their order). podman and
    crio: a drop-in file of their own. containerd: a runtime of the CRI plugin (for the
    file's config version) that runs the runc shim with cdi-runtime as its binary and lets
    cdi.k8s.io/ annotations through; it is added at the end of the file, the rest of which
    stays byte for byte. A change that would need an edit of what the file already says is
    refused with what to edit. Running it again changes nothing.
    """
    path = config_path or DEFAULT_CONFIG[engine]
    runtime = os.path.abspath(runtime_path) if runtime_path else default_runtime_path()
    if runtime is None:
        fail(
            ctx,
            f"{RUNTIME_SCRIPT} is not installed beside {sys.argv[0]} nor in PATH",
            hint="Name it with --runtime-path PATH.",
        )
    try:
        existing = read_config(path)
        change = register(engine, path, existing, RuntimeOptions(runtime, name, set_default))
    except OSError as err:
        fail(ctx, f"cannot read {path}: {err.strerror}")
    except EngineConfigError as err:
        fail(ctx, str(err))
    if not (os.path.isfile(runtime) and os.access(runtime, os.X_OK)):
        click.echo(f"Warning: {runtime} is not an executable file", err=True)
    applied = False
    if apply_change and change.new_bytes is not None:
        try:
            write_config(path, change.new_bytes)
        except OSError as err:
            fail(ctx, f"cannot write {path}: {err.strerror}")
        applied = True
    fmt = output_format(ctx, output)
    if fmt == "text":
        _print_text(change, name, applied=applied)
        return
    from cdi.cli.render import emit_data

    emit_data(
        {
            "engine": change.engine,
            "file": change.file,
            "content": change.content,
            "append": change.append,
            "needed": change.needed,
            "applied": applied,
            "hints": list(change.hints),
        },
        fmt,
    )


def default_runtime_path() -> str | None:
    """The ``cdi-runtime`` script installed beside the running ``cdi`` (links followed, so a
    link to a virtual environment's ``cdi`` finds that environment's), else the first in
    ``PATH``; absolute. ``None`` when there is neither."""
    invoked = sys.argv[0]
    if os.sep in invoked:
        beside = os.path.join(os.path.dirname(os.path.realpath(invoked)), RUNTIME_SCRIPT)
        if os.path.isfile(beside) and os.access(beside, os.X_OK):
            return beside
    found = shutil.which(RUNTIME_SCRIPT)
    return os.path.abspath(found) if found else None


def _print_text(change: Registration, name: str, *, applied: bool) -> None:
    if not change.needed:
        click.echo(f'{change.file} registers cdi-runtime as "{name}" already: nothing to change.')
    else:
        if change.append:
            head = "Added to the end of {}:" if applied else "To add to the end of {} (--apply):"
        else:
            head = "Wrote {}:" if applied else "{} after the change (--apply writes it):"
        click.echo(head.format(change.file))
        click.echo()
        click.echo(change.content, nl=False)
        if not applied:
            click.echo()
            click.echo("Nothing was written.")
    click.echo()
    for hint in change.hints:
        click.echo(hint)
