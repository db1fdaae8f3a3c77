"""``cdi devices``: the devices that resolve, and where each is defined."""

from __future__ import annotations

import click

from cdi.cli.common import open_registry, warn_load_problems
from cdi.cli.main import output_format, output_option
from cdi.cli.render import emit_view


@click.command()
@click.option(
    "-v", "--verbose", is_flag=True, help="Show each device's definition and its spec's edits."
)
@output_option
@click.pass_context
def devices(ctx: click.Context, verbose: bool, output: str | None) -> None:
    """List the devices that resolve (qualified names, sorted).

    With -v, each device is shown with its spec file and definition, followed by the
    spec's own container edits when it has any. Spec files that failed to load or
    conflict are counted on stderr, with the commands that explain them.
    """
    from cdi.cli import views

    registry = open_registry(ctx)
    emit_view(
        output_format(ctx, output),
        lambda: views.devices_text(registry, verbose),
        lambda: views.devices_data(registry, verbose),
    )
    warn_load_problems(ctx, registry)
