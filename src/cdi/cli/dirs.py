"""``cdi dirs``: the spec directories, their priorities and errors."""

from __future__ import annotations

import click

from cdi.cli.common import open_registry
from cdi.cli.main import output_format, output_option
from cdi.cli.render import emit_view


@click.command()
@output_option
@click.pass_context
def dirs(ctx: click.Context, output: str | None) -> None:
    """List the spec directories, their priorities and their errors.

    Later directories have higher priority: a device defined in two directories is
    taken from the later one. Errors are those of the directory itself (unreadable) and
    of the spec files in it.
    """
    from cdi.cli import views

    registry = open_registry(ctx)
    emit_view(
        output_format(ctx, output),
        lambda: views.dirs_text(registry),
        lambda: views.dirs_data(registry),
    )
