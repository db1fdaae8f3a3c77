"""``cdi rootfs``: make the busybox root filesystem that ``run --rootfs`` and builds use."""

from __future__ import annotations

import click

from cdi.cli.common import fail


@click.command()
@click.option(
    "--busybox",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="The static busybox to copy in. Default: the host's (from Debian's busybox-static).",
)
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False))
@click.pass_context
def rootfs(ctx: click.Context, busybox: str | None, directory: str) -> None:
    """Make DIR a minimal root filesystem: a static busybox and its applets.

    Needs no root. Running it again on DIR changes nothing, and files already there are
    kept. Exit status 1 when there is no static busybox (Debian package busybox-static)
    or DIR cannot be written. For:

    \b
      cdi run --rootfs DIR CMD...
      cdi build --build-context busybox=DIR CONTEXT   (FROM busybox)
    """
    from cdi.runtime import RuntimeSetupError, make_busybox_rootfs

    try:
        make_busybox_rootfs(directory, busybox=busybox)
    except RuntimeSetupError as err:
        fail(ctx, str(err))
