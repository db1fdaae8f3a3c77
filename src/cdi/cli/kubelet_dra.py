"""``cdi kubelet-plugin dra``: serve a kind's devices to the kubelet as a DRA driver.

The command wires the parts of :mod:`cdi.kubelet` together (registry, claim source, claim
specs, the agent's sockets, ResourceSlice publishing) and runs until SIGTERM or SIGINT, which
stop the servers, remove both sockets and exit 0.
"""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING, Any

import click

from cdi.cli.common import fail
from cdi.cli.main import settings
from cdi.cli.signals import stop_on_signals
from cdi.errors import CDIError

if TYPE_CHECKING:
    from cdi.kubelet.draagent import DRAAgent
    from cdi.kubelet.log import AgentLog
    from cdi.kubelet.slicesync import SliceSync
    from cdi.registry import Registry

DEFAULT_CDI_ROOT = "/var/run/cdi"
DEFAULT_PLUGINS_REGISTRY = "/var/lib/kubelet/plugins_registry"
DEFAULT_PLUGINS_DIR = "/var/lib/kubelet/plugins"
#: Quiet time after a spec file change before the slices are published again.
DEBOUNCE_SECONDS = 0.5


def _check(value: str, check: Any) -> str:
    try:
        check(value)
    except CDIError as err:
        raise click.BadParameter(str(err)) from None
    return value


def _driver(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from cdi.kubelet.claimspecs import check_driver_name

    return _check(value, check_driver_name)


def _kind(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from cdi.kubelet.slices import check_kind

    return _check(value, check_kind)


def slice_sync(
    registry: Registry, *, kind: str, driver: str, node: str, log: AgentLog
) -> SliceSync:
    """Publishing the kind's devices of *registry* as this node's ResourceSlices."""
    from cdi.kubelet.slices import KubernetesSliceAPI, SlicePublisher, slice_devices
    from cdi.kubelet.slicesync import SliceSync

    api = KubernetesSliceAPI()
    # Owned by the Node: the API server deletes the slices with it.
    publisher = SlicePublisher(
        api, driver=driver, node=node, owner=lambda: api.node_owner(node), log=log
    )
    return SliceSync(publisher, lambda: slice_devices(registry, kind), log)


@click.command()
@click.option(
    "--driver-name",
    required=True,
    callback=_driver,
    help="The DRA driver name, a DNS subdomain (gpu.example.com): ResourceSlices and "
    "DeviceClasses name it, its claim specs have vendor k8s.<driver>.",
)
@click.option(
    "--kind",
    required=True,
    callback=_kind,
    metavar="VENDOR/CLASS",
    help="The CDI kind whose devices the driver offers (vendor.com/class).",
)
@click.option(
    "--spec-dir",
    "spec_dirs",
    multiple=True,
    metavar="DIR",
    help="Spec directory with the kind's devices (repeatable; later ones win). Default: "
    "the global --spec-dir, else $CDI_SPEC_DIRS, else /etc/cdi and /var/run/cdi.",
)
@click.option(
    "--cdi-root",
    default=DEFAULT_CDI_ROOT,
    show_default=True,
    metavar="DIR",
    help="Where the transient spec of each prepared claim goes (a directory the container "
    "runtime scans).",
)
@click.option(
    "--plugins-registry",
    default=DEFAULT_PLUGINS_REGISTRY,
    show_default=True,
    metavar="DIR",
    help="The kubelet's plugin registration directory (the <driver>-reg.sock socket).",
)
@click.option(
    "--plugin-dir",
    default=None,
    metavar="DIR",
    help=f"The directory of the DRA socket dra.sock. Default: {DEFAULT_PLUGINS_DIR}/<driver>.",
)
@click.option(
    "--pod-uid",
    envvar="POD_UID",
    default=None,
    help="This agent's pod UID (default: $POD_UID): its sockets are named after it, so that "
    "two agents on one node (a rolling update) each have their own.",
)
@click.option(
    "--node-name",
    envvar="NODE_NAME",
    default=None,
    help="This node's name, for the ResourceSlices (default: $NODE_NAME).",
)
@click.option(
    "--claims-file",
    default=None,
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Read ResourceClaims from this YAML/JSON file (re-read when it changes) instead of "
    "the API server: for trying the plugin without a cluster.",
)
@click.option(
    "--publish-slices/--no-publish-slices",
    default=True,
    show_default=True,
    help="Publish the kind's devices as this node's ResourceSlices (needs the API server).",
)
@click.option(
    "--log-format", type=click.Choice(["json", "text"]), default="json", show_default=True
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
@click.pass_context
def dra(  # noqa: PLR0917 -- click passes each option as an argument
    ctx: click.Context,
    driver_name: str,
    kind: str,
    spec_dirs: tuple[str, ...],
    cdi_root: str,
    plugins_registry: str,
    plugin_dir: str | None,
    pod_uid: str | None,
    node_name: str | None,
    claims_file: str | None,
    publish_slices: bool,
    log_format: str,
    log_level: str,
) -> None:
    """Serve the devices of KIND to the kubelet as the DRA driver DRIVER-NAME.

    Registers through the kubelet's plugins_registry and serves the DRA API (v1 and
    v1beta1) on <plugin-dir>/dra.sock (dra-<pod-uid>.sock with --pod-uid). Preparing a
    claim writes the transient CDI spec <cdi-root>/k8s.<driver>-claim_<claimUID>.yaml and
    answers with its device ids
    (k8s.<driver>/claim=<claimUID>-<device>); unpreparing removes it. Claims are read from
    the API server (in-cluster, else $KUBECONFIG or ~/.kube/config). Runs until SIGTERM or
    SIGINT; the ResourceSlices stay published for the next start.
    """
    if publish_slices and not node_name:
        raise click.UsageError(
            "publishing ResourceSlices needs --node-name (or NODE_NAME); "
            "or give --no-publish-slices"
        )
    from cdi.kubelet.log import AgentLog

    log = AgentLog(fmt=log_format, level=log_level)
    try:
        agent = _agent(
            driver=driver_name,
            kind=kind,
            spec_dirs=list(spec_dirs) or settings(ctx).spec_dirs,
            cdi_root=cdi_root,
            plugins_registry=plugins_registry,
            plugin_dir=plugin_dir or os.path.join(DEFAULT_PLUGINS_DIR, driver_name),
            node_name=node_name if publish_slices else None,
            instance=pod_uid or None,
            claims_file=claims_file,
            log=log,
        )
    except CDIError as err:
        fail(ctx, str(err))
    try:
        agent.start()
    except CDIError as err:
        agent.plugin.registry.close()
        fail(ctx, str(err))
    with stop_on_signals() as received:
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            # A second signal must not cut the clean-up short.
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_IGN)
        name = signal.Signals(received[-1]).name if received else "SIGINT"
        log.info("stopping", signal=name)
        agent.stop()
        agent.plugin.registry.close()


def _agent(
    *,
    driver: str,
    kind: str,
    spec_dirs: list[str] | None,
    cdi_root: str,
    plugins_registry: str,
    plugin_dir: str,
    node_name: str | None,
    claims_file: str | None,
    log: AgentLog,
    instance: str | None = None,
) -> DRAAgent:
    """The agent the options describe (not started); raises CDIError."""
    from cdi.kubelet.claims import KubernetesClaimSource, StaticClaimSource
    from cdi.kubelet.claimspecs import ClaimSpecs
    from cdi.kubelet.dra import DRAPlugin
    from cdi.kubelet.draagent import DRAAgent
    from cdi.registry import Registry

    claims = (
        StaticClaimSource.from_file(claims_file)
        if claims_file is not None
        else KubernetesClaimSource()
    )
    sync: list[SliceSync] = []  # set below: the registry must exist first

    def changed(_: Registry) -> None:
        for each in sync:
            each.changed()

    registry = Registry(spec_dirs, auto_refresh=True, on_change=changed, debounce=DEBOUNCE_SECONDS)
    try:
        if node_name is not None:
            sync.append(slice_sync(registry, kind=kind, driver=driver, node=node_name, log=log))
        if not any(name.startswith(kind + "=") for name in registry.list_devices()):
            log.warning(
                "no devices of the kind in the spec directories",
                kind=kind,
                spec_dirs=registry.spec_dirs(),
            )
        plugin = DRAPlugin(
            driver=driver,
            kind=kind,
            registry=registry,
            claims=claims,
            specs=ClaimSpecs(cdi_root, driver),
            log=log,
        )
        return DRAAgent(
            plugin,
            registry_dir=plugins_registry,
            plugin_dir=plugin_dir,
            log=log,
            slices=sync[0] if sync else None,
            instance=instance,
        )
    except BaseException:
        registry.close()
        raise
