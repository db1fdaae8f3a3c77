"""``cdi run``: run a command in a container with CDI devices, under a real OCI runtime."""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING

import click

from cdi.cli.common import (
    doctor_hint,
    fail,
    open_registry,
    runtime_root_option,
)
from cdi.cli.signals import stop_on_signals
from cdi.registry.trust import TRUST_MODES, default_mode

if TYPE_CHECKING:
    from cdi.registry import Registry


def _show_refusals(registry: Registry) -> None:
    """The spec files the trust policy refused, as warnings: one may define what is missing."""
    from cdi.errors import TrustError

    for errors in registry.errors().values():
        for error in errors:
            if isinstance(error, TrustError):
                click.echo(f"Warning: {error}", err=True)


def _environment(entries: tuple[str, ...]) -> list[str] | None:
    """``-e`` values as ``NAME=value`` (``-e NAME`` takes the value from our environment)."""
    if not entries:
        return None
    result = []
    for entry in entries:
        name, equals, _ = entry.partition("=")
        if not name:
            raise click.BadParameter(f"{entry!r}: missing variable name", param_hint="'-e'")
        if equals:
            result.append(entry)
        elif name in os.environ:
            result.append(f"{name}={os.environ[name]}")
    return result


@click.command(context_settings={"allow_interspersed_args": False})
@click.option(
    "--runtime",
    default="runc",
    show_default=True,
    help="The OCI runtime: a name looked up in PATH, or a path.",
)
@runtime_root_option
@click.option(
    "--rootfs",
    type=click.Path(file_okay=False, exists=True),
    default=None,
    help="Use this root filesystem (runc creates missing mount points in it). "
    "Default: a fresh busybox root, removed afterwards.",
)
@click.option(
    "-d", "--device", "devices", multiple=True, metavar="NAME", help="A CDI device (repeatable)."
)
@click.option(
    "--trust",
    type=click.Choice(TRUST_MODES),
    default=None,
    help="The trust policy for spec files (their hooks run as root): strict refuses a file "
    "that someone other than root or you could change (its owner, group or world write, the "
    "same for its directory), warn uses it with a warning. Default: strict as root, else off.",
)
@click.option(
    "-e",
    "--env",
    "env",
    multiple=True,
    metavar="NAME[=VALUE]",
    help="Set an environment variable (repeatable); NAME alone copies ours.",
)
@click.argument("command", nargs=-1, required=True, metavar="[--] CMD...")
@click.pass_context
def run(
    ctx: click.Context,
    *,
    runtime: str,
    runtime_root: str | None,
    rootfs: str | None,
    devices: tuple[str, ...],
    trust: str | None,
    env: tuple[str, ...],
    command: tuple[str, ...],
) -> None:
    """Run CMD in a container with the CDI devices injected, and exit with its status.

    The container's output is streamed as it comes. Needs root and an OCI runtime
    (Debian: apt-get install runc busybox-static). Exit status: the command's own;
    1 if a device does not resolve (nothing is run); 125 when the runtime is missing,
    privileges are lacking or the runtime fails; 126 if CMD cannot be executed; 127
    if it is not found. The container and its bundle are removed afterwards.
    """
    import tempfile

    from cdi.errors import CDIError, UnresolvableDevicesError
    from cdi.runtime import (
        ContainerError,
        RuntimeSetupError,
        check_privileges,
        default_oci_spec,
        find_runtime,
        make_busybox_rootfs,
        run_container,
    )
    from cdi.runtime.errors import STATUS_RUNTIME_FAILED

    spec = default_oci_spec(list(command), env=_environment(env))
    if devices:
        registry = open_registry(ctx, trust=trust or default_mode())
        try:
            spec = registry.inject(spec, list(devices))
        except UnresolvableDevicesError as err:
            _show_refusals(registry)
            fail(ctx, str(err), hint=doctor_hint(ctx, err.devices))
        except CDIError as err:
            fail(ctx, str(err))
    status = STATUS_RUNTIME_FAILED
    with stop_on_signals() as received:
        try:
            find_runtime(runtime)
            check_privileges()
            if rootfs is not None:
                status = run_container(spec, rootfs, runtime=runtime, runtime_root=runtime_root)
            else:
                with tempfile.TemporaryDirectory(
                    prefix="cdi-run-", ignore_cleanup_errors=True
                ) as tmp:
                    root = make_busybox_rootfs(os.path.join(tmp, "rootfs"))
                    status = run_container(spec, root, runtime=runtime, runtime_root=runtime_root)
        except RuntimeSetupError as err:
            fail(ctx, str(err), status=STATUS_RUNTIME_FAILED)
        except ContainerError as err:
            fail(ctx, str(err), status=err.exit_status)
        except KeyboardInterrupt:
            # The container was killed and removed; report the signal as a shell would.
            status = 128 + (received[-1] if received else signal.SIGINT)
    ctx.exit(status)
