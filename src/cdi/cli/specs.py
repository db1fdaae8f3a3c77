"""``cdi specs``: the spec files by vendor, and the files that failed."""

from __future__ import annotations

import click

from cdi.cli.common import open_registry
from cdi.cli.main import output_format, output_option
from cdi.cli.render import emit_view


@click.command()
@click.option("-v", "--verbose", is_flag=True, help="Show each spec's content.")
@output_option
@click.argument("vendors", nargs=-1, metavar="[VENDOR]...")
@click.pass_context
def specs(ctx: click.Context, verbose: bool, output: str | None, vendors: tuple[str, ...]) -> None:
    """List the valid spec files by vendor (only VENDORs, if given).

    Files with errors (failing to load, conflicting with another file) are listed after
    them, each error with its file:line:col.
    """
    from cdi.cli import views

    registry = open_registry(ctx)
    emit_view(
        output_format(ctx, output),
        lambda: views.specs_text(registry, vendors, verbose),
        lambda: views.specs_data(registry, vendors, verbose),
    )
