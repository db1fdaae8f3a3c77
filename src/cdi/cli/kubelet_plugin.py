"""``cdi kubelet-plugin``: serve CDI devices to the kubelet, as a device plugin or a DRA driver.

Each mode is its own command module, imported when it runs (it loads grpcio, which
``cdi kubelet-plugin --help`` must not need). The library is :mod:`cdi.kubelet`.
"""

from __future__ import annotations

import click

from cdi.cli.lazygroup import lazy_group

#: command name -> (module, short help)
MODES: dict[str, tuple[str, str]] = {
    "device-plugin": (
        "cdi.cli.kubelet_device_plugin",
        "Serve a kind's devices to the kubelet as a device plugin (v1beta1).",
    ),
    "dra": (
        "cdi.cli.kubelet_dra",
        "Serve a kind's devices to the kubelet as a DRA driver (v1, v1beta1).",
    ),
}


@click.group(cls=lazy_group(MODES))
def kubelet_plugin() -> None:
    """Serve the devices of CDI spec files to the kubelet of this node.

    Needs the kubernetes extra (pip install container-device-interface[kubernetes]).
    """
