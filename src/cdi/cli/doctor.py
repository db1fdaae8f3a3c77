"""``cdi doctor``: why each device name resolves, or why it does not."""

from __future__ import annotations

import click

from cdi.cli.common import open_registry
from cdi.cli.main import output_format, output_option
from cdi.cli.render import emit_data, emit_lines


@click.command()
@output_option
@click.argument("devices", nargs=-1, required=True, metavar="DEVICE...")
@click.pass_context
def doctor(ctx: click.Context, output: str | None, devices: tuple[str, ...]) -> None:
    """Explain, for each DEVICE, why it resolves or why it does not.

    A device that resolves is shown with the file that defines it (and the files it
    overrides). For one that does not, every cause that applies is listed: no spec
    directory, no such vendor, class or device (with close matches), the defining file
    failing to load (its errors with line and column), two files of one directory
    defining it, a higher-priority definition hiding it, a directory that cannot be read.
    Exits 1 if any DEVICE does not resolve.
    """
    from cdi.diagnose import diagnose

    registry = open_registry(ctx)
    results = [diagnose(registry, name) for name in devices]
    fmt = output_format(ctx, output)
    if fmt == "text":
        lines: list[str] = []
        for result in results:
            state = "resolves" if result.resolved else "does not resolve"
            lines.append(f"{result.name}: {state}")
            lines += [f"  - {finding.message}" for finding in result.findings]
            if result.suggestions:
                lines.append(f"  did you mean: {', '.join(result.suggestions)}")
        emit_lines(lines)
    else:
        emit_data([result.to_json() for result in results], fmt)
    if not all(result.resolved for result in results):
        ctx.exit(1)
