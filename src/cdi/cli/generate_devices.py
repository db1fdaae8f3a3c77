"""``cdi generate devices``: a CDI spec for any character devices, found by globs over
``/dev`` or by sysfs class (:mod:`cdi.generate.devices`): FPGAs, accelerators, anything whose
vendor ships no generator.

The flags that the generator would reject before reading anything (the kind, the name
template, ``--env``, ``--mount``) are checked here with the generator's own parsers, so that
a typo is a usage error (exit 2) at once, also under ``--watch``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from cdi.cli.generate_common import Generation, Progress, output_options, run

if TYPE_CHECKING:
    from cdi.spec.model import Spec


def _checked(
    parse: Callable[[Any], object],
) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback that runs the generator's *parse* on the value: its error, a usage
    error."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        from cdi.errors import CDIError

        if value is None:
            return value
        try:
            parse(value)
        except CDIError as err:
            raise click.BadParameter(str(err), ctx, param) from None
        return value

    return callback


def _parse_kind(kind: str) -> None:
    from cdi.errors import InvalidNameError
    from cdi.names import parse_qualifier, validate_class_name, validate_vendor_name

    vendor, cls = parse_qualifier(kind)
    if not vendor:
        raise InvalidNameError(f"{kind!r} is not vendor.com/class")
    validate_vendor_name(vendor)
    validate_class_name(cls)


def _parse_template(text: str) -> None:
    from cdi.generate.nametemplate import NameTemplate

    NameTemplate.parse(text)


def _parse_env(entries: Sequence[str]) -> None:
    from cdi.generate.useredits import parse_env

    parse_env(entries)


def _parse_mounts(texts: Sequence[str]) -> None:
    from cdi.generate.useredits import parse_mounts

    parse_mounts(texts)


@click.command("devices")
@click.option(
    "--kind",
    required=True,
    metavar="VENDOR/CLASS",
    callback=_checked(_parse_kind),
    help="The kind of the spec, e.g. xilinx.com/fpga.",
)
@click.option(
    "--device-glob",
    "device_globs",
    multiple=True,
    metavar="GLOB",
    help="Character devices matching GLOB, a /dev path (/dev/xclmgmt*, /dev/tenstorrent/*); "
    "repeatable. Other matches are skipped.",
)
@click.option(
    "--sysfs-class",
    metavar="CLASS",
    default=None,
    help="The nodes of every entry of /sys/class/CLASS (found in /dev by their numbers); "
    "with --device-glob, both.",
)
@click.option(
    "--name-template",
    metavar="T",
    default="{index}",
    show_default=True,
    callback=_checked(_parse_template),
    help="Device names: {index} (0-based, in PCI address order), {basename} (the node's file "
    "name), {pci} (the PCI address of its device), {serial} (its serial number in sysfs).",
)
@click.option(
    "--env",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_checked(_parse_env),
    help="An environment variable every device sets; repeatable.",
)
@click.option(
    "--mount",
    "mounts",
    multiple=True,
    metavar="HOST:CONTAINER[:OPTIONS]",
    callback=_checked(_parse_mounts),
    help="A bind mount every device adds (read-only unless OPTIONS, comma-separated, are "
    "given); repeatable.",
)
@click.option("--all", "include_all", is_flag=True, help="Add the device 'all' with every node.")
@output_options(several=False)
@click.pass_context
def devices(
    ctx: click.Context,
    /,
    *,
    kind: str,
    device_globs: tuple[str, ...],
    sysfs_class: str | None,
    name_template: str,
    env: tuple[str, ...],
    mounts: tuple[str, ...],
    include_all: bool,
    **flags: Any,
) -> None:
    """Generate a CDI spec for character devices found by glob or sysfs class.

    One device per node, named by --name-template, plus 'all' with --all; --env and --mount
    go to every device. Exit status 1 when no node is found or a name cannot be made, 2 for
    bad flags. For example:

    \b
      cdi generate devices --kind xilinx.com/fpga --device-glob '/dev/xclmgmt*' \\
          --device-glob '/dev/dri/renderD*' --output /var/run/cdi/xilinx.com-fpga.yaml
      cdi generate devices --kind tenstorrent.com/card --device-glob '/dev/tenstorrent/*' \\
          --mount /dev/hugepages-1G:/dev/hugepages-1G:rw --all
      cdi generate devices --kind example.com/fpga --sysfs-class fpga_region \\
          --name-template 'fpga-{pci}'
    """
    if not device_globs and sysfs_class is None:
        raise click.UsageError("give --device-glob GLOB or --sysfs-class CLASS (or both)")
    sysfs_root, dev_root = flags["sysfs_root"], flags["dev_root"]

    def generate(progress: Progress | None) -> list[Spec]:
        from cdi.generate.devices import generate_devices

        spec = generate_devices(
            kind,
            device_globs=device_globs,
            sysfs_class=sysfs_class,
            name_template=name_template,
            env=env,
            mounts=mounts,
            include_all=include_all,
            sysfs_root=sysfs_root,
            dev_root=dev_root,
            progress=progress,
        )
        return [spec]

    from cdi.generate.inputs import devices_inputs

    inputs = devices_inputs(device_globs, sysfs_class, sysfs_root, dev_root)
    run(ctx, Generation(generate, inputs, kind), flags)
