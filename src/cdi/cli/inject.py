"""``cdi inject``: an OCI runtime spec with CDI devices injected, on stdout."""

from __future__ import annotations

import click

from cdi.cli.common import doctor_hint, fail, open_registry
from cdi.cli.main import output_format, output_option


@click.command()
@output_option(
    choices=("json", "yaml"),
    help="Format of the updated spec (default: the input file's, else YAML).",
)
@click.argument("oci_spec", metavar="OCI_SPEC|-")
@click.argument("devices", nargs=-1, required=True, metavar="DEVICE...")
@click.pass_context
def inject(ctx: click.Context, output: str | None, oci_spec: str, devices: tuple[str, ...]) -> None:
    """Inject DEVICEs into the OCI runtime spec OCI_SPEC (a file, or - for stdin) and print
    the updated spec.

    The spec may be JSON or YAML. A DEVICE may be a glob matched against the known devices
    the way the reference tool does it (Go's filepath.Match: * and ? do not match /):
    'vendor.com/gpu=*' selects every GPU of vendor.com. The selected devices are injected
    once each, in sorted order. A DEVICE that matches nothing is an error: then nothing is
    printed on stdout and the exit status is 1.
    """
    from cdi.errors import CDIError
    from cdi.globs import PatternError, expand
    from cdi.ocispec import OCISpecError, choose_format, dump_document, read_oci_spec

    try:
        spec = read_oci_spec(oci_spec)
    except OCISpecError as err:
        fail(ctx, str(err))
    registry = open_registry(ctx)
    try:
        selected = expand(devices, registry.list_devices())
    except PatternError as err:
        raise click.BadParameter(str(err), param_hint="'DEVICE...'") from None
    if selected.unmatched:
        fail(
            ctx,
            "OCI device injection failed: unresolvable CDI devices "
            + ", ".join(selected.unmatched),
            hint=doctor_hint(ctx, selected.unmatched),
        )
    try:
        updated = registry.inject(spec, selected.names)
    except CDIError as err:
        fail(ctx, f"OCI device injection failed: {err}")
    fmt = choose_format(output_format(ctx, output), oci_spec)
    click.echo(dump_document(updated, fmt))
