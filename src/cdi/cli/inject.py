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
    from cdi.cli.outputs import inject_devices
    from cdi.errors import CDIError, UnresolvableDevicesError
    from cdi.globs import PatternError
    from cdi.ocispec import OCISpecError, choose_format, dump_document, read_oci_spec

    try:
        spec = read_oci_spec(oci_spec)
    except OCISpecError as err:
        fail(ctx, str(err))
    registry = open_registry(ctx)
    try:
        updated = inject_devices(registry, spec, devices)
    except PatternError as err:
        raise click.BadParameter(str(err), param_hint="'DEVICE...'") from None
    except UnresolvableDevicesError as err:
        hint = doctor_hint(ctx, err.devices)
        fail(ctx, f"OCI device injection failed: {err}", hint=hint)
    except CDIError as err:
        fail(ctx, f"OCI device injection failed: {err}")
    fmt = choose_format(output_format(ctx, output), oci_spec)
    click.echo(dump_document(updated, fmt))
