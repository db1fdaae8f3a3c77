"""``cdi hook`` (the hook subcommands, as ``cdi-hook`` runs them) and ``cdi install-hook``."""

from __future__ import annotations

import os
import sys

import click

from cdi.cli.common import fail


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def hook(ctx: click.Context, args: tuple[str, ...]) -> None:
    """Run a hook subcommand as cdi-hook does: create-symlinks, update-ldcache, chmod,
    enable-cuda-compat, disable-device-node-modification, update-application-profile.

    The OCI state comes on stdin. For trying hooks by hand; specs should name the
    cdi-hook launcher (see cdi install-hook), which starts the hook isolated from its
    environment.
    """
    from cdi.hooks.environment import scrubbed
    from cdi.hooks.main import run

    if not args or args[0] in ("-h", "--help"):
        click.echo(ctx.get_help())
        return
    environ = dict(os.environ)
    os.environ.clear()
    os.environ.update(scrubbed(environ))
    ctx.exit(run(list(args), sys.stdin.buffer, environ))


@click.command("install-hook")
@click.argument("destination", metavar="PATH", required=False)
@click.option(
    "--python",
    default="",
    metavar="PATH",
    help="The interpreter the launcher starts (default: this one, with cdi installed).",
)
@click.pass_context
def install_hook(ctx: click.Context, destination: str | None, python: str) -> None:
    """Build the cdi-hook launcher and install it at PATH (default /usr/local/bin/cdi-hook).

    The launcher is a small statically linked program that starts the hooks in an isolated
    interpreter with a clean environment, so that LD_PRELOAD, LD_LIBRARY_PATH or PYTHONPATH
    in a hook's environment cannot load other code into it. Needs a C compiler and a static
    C library (Debian: gcc, libc6-dev). Then:

    \b
      cdi generate nvidia --hook-path /usr/local/bin/cdi-hook ...
    """
    from cdi.hooks.errors import HookError
    from cdi.hooks.launcher import DEFAULT_DESTINATION, build_launcher

    try:
        click.echo(build_launcher(destination or DEFAULT_DESTINATION, python=python))
    except (HookError, OSError) as err:
        fail(ctx, str(err))
