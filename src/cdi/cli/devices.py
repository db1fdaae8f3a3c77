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
@output_option(
    choices=("text", "json", "yaml", "names"),
    help="Output format (default: text, or the global -o); names: as nvidia-ctk cdi list.",
)
@click.pass_context
def devices(ctx: click.Context, verbose: bool, output: str | None) -> None:
    """List the devices that resolve (qualified names, sorted).

    With -v, each device is shown with its spec file and definition, followed by the
    spec's own container edits when it has any. Spec files that failed to load or
    conflict are counted on stderr, with the commands that explain them.

    With -o names, the output is that of nvidia-ctk cdi list: each qualified name on a line
    of its own, and "Found N CDI devices" on stderr.
    """
    registry = open_registry(ctx)
    fmt = output_format(ctx, output)
    if verbose and fmt != "names":
        from cdi.cli import views

        emit_view(
            fmt,
            lambda: views.devices_text(registry, verbose),
            lambda: views.devices_data(registry, verbose),
        )
    else:
        from cdi.cli.outputs import devices_listing

        text, note = devices_listing(registry, fmt)
        if note is not None:
            click.echo(note, err=True)
        click.echo(text, nl=False)
    warn_load_problems(ctx, registry)
