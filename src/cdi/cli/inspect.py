"""``cdi inspect``: the devices builds can use, as ``docker buildx inspect`` shows them."""

from __future__ import annotations

import click

from cdi.cli.buildpolicy import policy_from_options, policy_options
from cdi.cli.common import warn_load_problems
from cdi.cli.main import output_format, output_option, settings
from cdi.cli.render import emit_data
from cdi.cli.tabwriter import align
from cdi.policy import DeviceInfo


def render_devices(devices: list[DeviceInfo]) -> list[str]:
    """The ``Devices:`` section of ``docker buildx inspect`` (annotations sorted)."""
    rows: list[str] = []
    for device in devices:
        rows.append(f"\tName:\t{device.name}")
        if device.on_demand:
            rows.append("\tOn-Demand:\ttrue")
        else:
            rows.append(f"\tAutomatically allowed:\t{str(device.auto_allow).lower()}")
        if device.annotations:
            rows.append("\tAnnotations:")
            rows += [f"\t\t{key}:\t{value}" for key, value in sorted(device.annotations.items())]
    return ["Devices:", *align(rows)]


@click.command()
@policy_options
@output_option
@click.pass_context
def inspect(
    ctx: click.Context,
    config_path: str | None,
    auto_allowed: tuple[str, ...],
    host_root: str,
    output: str | None,
) -> None:
    """Show the devices builds can use and whether each is allowed automatically.

    Spec directories: --spec-dir, else the config file's specDirs, else BuildKit's defaults
    (/etc/cdi, /var/run/cdi, /etc/buildkit/cdi). JSON output uses BuildKit's keys.
    Spec files that failed to load or conflict are counted on stderr.

    An on-demand kind (nvidia.com/gpu on a host with an NVIDIA driver or GPU, docker.com/gpu
    on Docker Desktop's VM) is listed as On-Demand while it has no devices: the first build
    step that asks for it generates its spec.
    """
    policy = policy_from_options(settings(ctx).spec_dirs, config_path, auto_allowed, host_root)
    devices = policy.list_devices() if policy is not None else []
    fmt = output_format(ctx, output)
    if fmt == "text":
        if policy is None:
            click.echo("CDI is disabled by the configuration.")
        elif not devices:
            click.echo("No devices.")
        else:
            click.echo("\n".join(render_devices(devices)))
    else:
        emit_data([device.to_json() for device in devices], fmt)
    if policy is not None:
        # The directories can come from a buildkitd.toml, so the hint names them.
        registry = policy.registry
        warn_load_problems(ctx, registry, spec_dirs=registry.spec_dirs())
