"""``cdi edits``: the container edits a set of devices makes, merged, without an OCI spec."""

from __future__ import annotations

import click

from cdi.cli.common import doctor_hint, fail, open_registry
from cdi.cli.main import output_format, output_option


@click.command()
@output_option(choices=("json", "yaml"), help="Output format (default: YAML).")
@click.argument("devices", nargs=-1, required=True, metavar="DEVICE...")
@click.pass_context
def edits(ctx: click.Context, output: str | None, devices: tuple[str, ...]) -> None:
    """Print the merged container edits of DEVICEs, in CDI's containerEdits form.

    Devices are taken in the order given; each spec's own edits come once, before its
    first device. This is what injecting the devices would add to an OCI spec.
    """
    from cdi.errors import UnresolvableDevicesError
    from cdi.ocispec import dump_document
    from cdi.spec.encode import edits_to_plain

    registry = open_registry(ctx)
    try:
        merged = registry.resolve_edits(list(devices))
    except UnresolvableDevicesError as err:
        fail(ctx, str(err), hint=doctor_hint(ctx, err.devices))
    fmt = output_format(ctx, output)
    click.echo(dump_document(edits_to_plain(merged), "json" if fmt == "json" else "yaml"))
