"""``cdi doctor``: why each device name resolves, or why it does not."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cdi.cli.common import open_registry
from cdi.cli.main import output_format, output_option
from cdi.cli.render import emit_data, emit_lines

if TYPE_CHECKING:
    from cdi.diagnose import Diagnosis
    from cdi.registry import Registry

#: The finding for a device whose defining file the strict trust policy refuses.
UNTRUSTED = "untrusted"


def _with_trust(registry: Registry, result: Diagnosis) -> Diagnosis:
    """*result*, plus an ``untrusted`` finding when the file that defines the device is one
    the strict trust policy refuses (`cdi run` as root, cdi-runtime): there, it would not
    resolve from that file."""
    import dataclasses

    from cdi.diagnose import Finding
    from cdi.gotext import quote
    from cdi.registry.trust import check_spec_file

    if result.path is None or result.priority is None:
        return result
    try:
        reasons = check_spec_file(result.path, registry.spec_dirs()[result.priority])
    except OSError:
        return result  # gone since the scan
    if not reasons:
        return result
    finding = Finding(
        UNTRUSTED,
        f"{quote(result.path)} is untrusted: {'; '.join(reasons)}; the strict trust policy "
        "(the default of cdi-runtime, and of cdi run as root) refuses it",
        result.path,
    )
    return dataclasses.replace(result, findings=(*result.findings, finding))


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
    A device whose file the strict trust policy would refuse (`cdi run` as root) is
    flagged as untrusted. Exits 1 if any DEVICE does not resolve.
    """
    from cdi.diagnose import diagnose

    registry = open_registry(ctx)
    results = [_with_trust(registry, diagnose(registry, name)) for name in devices]
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
