"""``cdi generate intel gpu|gaudi|npu``: the CDI specs of this host's Intel devices, as
Intel's ``intel-cdi-specs-generator`` writes them (:mod:`cdi.generate.intel`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from cdi.cli.generate_common import Generation, Progress, output_options, run

if TYPE_CHECKING:
    from cdi.spec.model import Spec

#: What each family is called in messages.
_FAMILIES = {"gpu": "Intel GPUs", "gaudi": "Intel Gaudi accelerators", "npu": "Intel NPUs"}


@click.command("intel")
@click.argument("family", type=click.Choice(list(_FAMILIES)))
@click.option(
    "--naming",
    type=click.Choice(["classic", "machine"]),
    default="classic",
    show_default=True,
    help="Device names: classic (the first node's name: card1, accel0; a GPU bound to "
    "vfio-pci, which has none, gets its UID) or machine (the UID of the PCI function: "
    "0000-03-00-0-0x56a0).",
)
@output_options(several=True)
@click.pass_context
def intel(ctx: click.Context, /, family: str, naming: str, **flags: Any) -> None:
    """Generate the CDI specs of this host's Intel GPUs, Gaudi or NPU devices.

    gpu: kind intel.com/gpu (DRM nodes and by-path links of i915/xe GPUs, the VFIO nodes of
    GPUs bound to vfio-pci) and, where MEI nodes exist, intel.com/gpu-mei; gaudi:
    intel.com/gaudi; npu: intel.com/npu. Several specs go to --output-dir DIR as
    <vendor>-<class>.<ext>, or to stdout as YAML documents (JSON: one per line). Exit
    status 1 when no device is found, 2 for bad flags. For example:

    \b
      cdi generate intel gpu --output-dir /var/run/cdi
      cdi generate intel npu --output /var/run/cdi/intel.com-npu.yaml
      cdi generate intel gpu --naming machine --output-dir /var/run/cdi --watch
    """
    sysfs_root, dev_root = flags["sysfs_root"], flags["dev_root"]

    def generate(progress: Progress | None) -> list[Spec]:
        from cdi.generate.intel import generate_intel

        return generate_intel(
            family, sysfs_root=sysfs_root, dev_root=dev_root, naming=naming, progress=progress
        )

    from cdi.generate.inputs import intel_inputs

    inputs = intel_inputs(family, sysfs_root, dev_root)
    run(ctx, Generation(generate, inputs, _FAMILIES[family]), flags)
