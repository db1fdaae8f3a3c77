"""``cdi vendors``: the vendors that have spec files."""

from __future__ import annotations

import click

from cdi.cli.common import open_registry, warn_load_problems
from cdi.cli.main import output_format, output_option
from cdi.cli.render import emit_view


@click.command()
@output_option
@click.pass_context
def vendors(ctx: click.Context, output: str | None) -> None:
    """List the vendors that have valid spec files, and how many each.

    Spec files that failed to load or conflict are counted on stderr.
    """
    from cdi.cli import views

    registry = open_registry(ctx)
    emit_view(
        output_format(ctx, output),
        lambda: views.vendors_text(registry),
        lambda: views.vendors_data(registry),
    )
    warn_load_problems(ctx, registry)
