"""``cdi classes``: the device classes and their vendors."""

from __future__ import annotations

import click

from cdi.cli.common import open_registry, warn_load_problems
from cdi.cli.main import output_format, output_option
from cdi.cli.render import emit_view


@click.command()
@output_option
@click.pass_context
def classes(ctx: click.Context, output: str | None) -> None:
    """List the device classes, and the vendors that define each.

    Spec files that failed to load or conflict are counted on stderr.
    """
    from cdi.cli import views

    registry = open_registry(ctx)
    emit_view(
        output_format(ctx, output),
        lambda: views.classes_text(registry),
        lambda: views.classes_data(registry),
    )
    warn_load_problems(ctx, registry)
