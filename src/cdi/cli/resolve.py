"""``cdi resolve``: replace CDI device names in ``linux.devices`` by the devices' edits."""

from __future__ import annotations

from typing import Any

import click

from cdi.cli.common import doctor_hint, fail, open_registry
from cdi.cli.main import output_format, output_option


@click.command()
@output_option(
    choices=("json", "yaml"), help="Output format (default: the first spec file's, else YAML)."
)
@click.argument("oci_specs", nargs=-1, required=True, metavar="OCI_SPEC...")
@click.pass_context
def resolve(ctx: click.Context, output: str | None, oci_specs: tuple[str, ...]) -> None:
    """Resolve the CDI devices an OCI runtime spec asks for in linux.devices.

    Each entry of linux.devices whose path is a qualified CDI device name
    (vendor.com/class=name) is removed and that device's edits are injected; the other
    entries stay (one per path: a later entry replaces an earlier one with the same path).
    Each updated spec is printed, in argument order (YAML documents separated by ---, or
    one JSON document after another). If any spec fails, nothing is printed on stdout and
    the exit status is 1.
    """
    from cdi.errors import CDIError, UnresolvableDevicesError
    from cdi.ocispec import (
        OCISpecError,
        choose_format,
        dump_document,
        read_oci_spec,
        take_cdi_devices,
    )

    registry = open_registry(ctx)
    results: list[Any] = []
    for path in oci_specs:
        try:
            names, stripped = take_cdi_devices(read_oci_spec(path))
        except OCISpecError as err:
            fail(ctx, str(err))
        try:
            results.append(registry.inject(stripped, names) if names else stripped)
        except CDIError as err:
            hint = None
            if isinstance(err, UnresolvableDevicesError):
                hint = doctor_hint(ctx, err.devices)
            fail(ctx, f'failed to resolve devices for OCI Spec "{path}": {err}', hint=hint)
    fmt = choose_format(output_format(ctx, output), oci_specs[0])
    documents = [dump_document(result, fmt) for result in results]
    if fmt == "yaml" and len(documents) > 1:
        documents = [f"---\n{document}" for document in documents]
    click.echo("\n".join(documents))
