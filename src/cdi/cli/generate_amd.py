"""``cdi generate amd``: the CDI spec of this host's AMD GPUs, as ``amd-ctk cdi generate``
writes it (:mod:`cdi.generate.amd`); ``--compare`` is ``amd-ctk cdi validate``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from cdi.cli.generate_common import Generation, Progress, output_options, run

if TYPE_CHECKING:
    from cdi.spec.model import Spec


@click.command("amd")
@output_options(several=False)
@click.pass_context
def amd(ctx: click.Context, /, **flags: Any) -> None:
    """Generate the CDI spec of this host's AMD GPUs, as amd-ctk cdi generate does.

    Kind amd.com/gpu: devices 0, 1, ... (one per GPU or compute partition, ordered by PCI
    address) hold the GPU's /dev/dri nodes and /dev/kfd; device 'all' holds every node.
    Exit status 1 when no GPU is found or a node cannot be read, 2 for bad flags. For
    example:

    \b
      cdi generate amd --output /var/run/cdi/amd.yaml
      cdi generate amd --compare /etc/cdi/amd.json
      cdi generate amd --output /var/run/cdi/amd.yaml --watch
    """
    sysfs_root, dev_root = flags["sysfs_root"], flags["dev_root"]

    def generate(progress: Progress | None) -> list[Spec]:
        from cdi.generate.amd import generate_amd

        return [generate_amd(sysfs_root=sysfs_root, dev_root=dev_root, progress=progress)]

    from cdi.generate.inputs import amd_inputs

    run(ctx, Generation(generate, amd_inputs(sysfs_root, dev_root), "AMD GPUs"), flags)
