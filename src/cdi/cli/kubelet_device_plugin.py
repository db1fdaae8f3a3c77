"""``cdi kubelet-plugin device-plugin``: serve a kind's devices to the kubelet (v1beta1).

The library is :mod:`cdi.kubelet.deviceplugin`, imported when the command runs: it needs
grpcio (the ``kubernetes`` extra), which ``--help`` and the usage checks must not.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from cdi.cli.common import fail
from cdi.cli.main import settings
from cdi.errors import CDIError
from cdi.kubelet.allocation import CDI_CRI, DEFAULT_ANNOTATION_PREFIX, STRATEGIES
from cdi.kubelet.log import FORMATS, LEVELS
from cdi.kubelet.pluginnames import (
    DEFAULT_PLUGIN_DIR,
    check_annotation_prefix,
    check_kind,
    check_resource_name,
    check_socket_name,
)

_EXTRA_HINT = "Install the kubernetes extra: pip install 'container-device-interface[kubernetes]'"


def _checked(check: Callable[[str], str]) -> Callable[..., str | None]:
    """A click callback that turns a name check's error into a usage error."""

    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check(value)
        except CDIError as err:
            raise click.BadParameter(str(err)) from None

    return callback


@click.command("device-plugin")
@click.option(
    "--kind",
    required=True,
    callback=_checked(check_kind),
    metavar="VENDOR/CLASS",
    help="The CDI kind whose devices are served (device ID = the device's name).",
)
@click.option(
    "--resource-name",
    required=True,
    callback=_checked(check_resource_name),
    metavar="DOMAIN/NAME",
    help="The extended resource pods ask for (resources.limits), e.g. vendor.com/gpu.",
)
@click.option(
    "--strategy",
    "strategies",
    multiple=True,
    type=click.Choice(STRATEGIES),
    default=(CDI_CRI,),
    show_default=True,
    help="How containers get the CDI names: cdi-cri (the CRI field, Kubernetes 1.31+), "
    "cdi-annotations (cdi.k8s.io/ annotations); repeat for both.",
)
@click.option(
    "--spec-dir",
    "spec_dirs",
    multiple=True,
    metavar="DIR",
    help="A CDI spec directory (repeatable, lowest priority first; default: cdi --spec-dir, "
    "else CDI_SPEC_DIRS, else /etc/cdi and /var/run/cdi).",
)
@click.option(
    "--device-plugin-dir",
    default=DEFAULT_PLUGIN_DIR,
    show_default=True,
    metavar="DIR",
    help="The kubelet's device plugin directory (kubelet.sock and our socket).",
)
@click.option(
    "--socket-name",
    callback=_checked(check_socket_name),
    metavar="NAME",
    help="Our socket's file name (default: cdi-<resource name, / as ->.sock).",
)
@click.option(
    "--annotation-prefix",
    default=DEFAULT_ANNOTATION_PREFIX,
    show_default=True,
    callback=_checked(check_annotation_prefix),
    metavar="PREFIX",
    help="The annotation key prefix of the cdi-annotations strategy.",
)
@click.option(
    "--health-interval",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="How often the devices' nodes are checked on the host.",
)
@click.option("--log-format", type=click.Choice(FORMATS), default="json", show_default=True)
@click.option("--log-level", type=click.Choice(LEVELS), default="info", show_default=True)
@click.pass_context
def device_plugin(  # noqa: PLR0917 -- click passes each option as an argument
    ctx: click.Context,
    kind: str,
    resource_name: str,
    strategies: tuple[str, ...],
    spec_dirs: tuple[str, ...],
    device_plugin_dir: str,
    socket_name: str | None,
    annotation_prefix: str,
    health_interval: float,
    log_format: str,
    log_level: str,
) -> None:
    """Serve the devices of kind VENDOR/CLASS to the kubelet as a device plugin.

    Registers with the kubelet as resource DOMAIN/NAME, lists the kind's devices with
    their health (Unhealthy while a device node of theirs is missing on the host) and
    updates the list when spec files change; Allocate answers with the devices' CDI names.
    Re-registers when the kubelet restarts. Runs until SIGTERM or SIGINT; logs one line
    per event on stderr.
    """
    try:
        import grpc  # noqa: F401  (only to tell a missing extra from a bug)
    except ImportError:
        fail(ctx, "cdi kubelet-plugin needs grpcio, which is not installed", hint=_EXTRA_HINT)
    import threading

    from cdi.cli.signals import stop_on_signals
    from cdi.kubelet.deviceplugin import DevicePlugin, DevicePluginConfig
    from cdi.kubelet.log import AgentLog

    config = DevicePluginConfig(
        kind=kind,
        resource_name=resource_name,
        strategies=strategies,
        spec_dirs=tuple(spec_dirs) or _global_spec_dirs(ctx),
        plugin_dir=device_plugin_dir,
        socket_name=socket_name or "",
        annotation_prefix=annotation_prefix,
        health_interval=health_interval,
    )
    try:
        config.check_paths()
    except CDIError as err:
        fail(ctx, str(err))
    plugin = DevicePlugin(config, AgentLog(fmt=log_format, level=log_level))
    try:
        with stop_on_signals():
            plugin.serve(threading.Event())
    except KeyboardInterrupt:
        pass  # SIGTERM or SIGINT: serve() has cleaned up
    except CDIError as err:
        fail(ctx, str(err))


def _global_spec_dirs(ctx: click.Context) -> tuple[str, ...] | None:
    dirs = settings(ctx).spec_dirs
    return tuple(dirs) if dirs else None
