"""What the commands share: the registry the global options describe, and failing well."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

import click

from cdi.cli.main import settings

if TYPE_CHECKING:
    from cdi.registry import Registry


def open_registry(
    ctx: click.Context,
    *,
    auto_refresh: bool = False,
    on_change: Callable[[Registry], None] | None = None,
    debounce: float = 0.05,
    trust: str = "off",
) -> Registry:
    """The registry of the spec directories: ``--spec-dir``, else ``CDI_SPEC_DIRS``, else the
    defaults. With *trust* ``warn``, each untrusted spec file is a ``Warning:`` line on
    stderr (when a scan first finds it so)."""
    from cdi.registry import Registry

    if trust == "warn":
        _show_trust_warnings()
    return Registry(
        settings(ctx).spec_dirs,
        auto_refresh=auto_refresh,
        on_change=on_change,
        debounce=debounce,
        trust=trust,
    )


def _show_trust_warnings() -> None:
    """Print the registry's trust warnings (it logs them) as ``Warning: <text>`` on stderr;
    once per process, however many registries are opened."""
    import logging

    logger = logging.getLogger("cdi.registry.trust")
    if any(getattr(handler, "cdi_echo", False) for handler in logger.handlers):
        return

    class Echo(logging.Handler):
        cdi_echo = True

        def emit(self, record: logging.LogRecord) -> None:
            # The stream of the moment (click's test runner replaces it).
            click.echo(f"Warning: {record.getMessage()}", err=True)

    logger.addHandler(Echo(logging.WARNING))


def fail(ctx: click.Context, message: str, *, status: int = 1, hint: str | None = None) -> NoReturn:
    """Report *message* on stderr as ``Error: <message>`` (and *hint*), and exit *status*."""
    click.echo(f"Error: {message}", err=True)
    if hint:
        click.echo(hint, err=True)
    ctx.exit(status)


def _command(ctx: click.Context, *words: str, spec_dirs: Sequence[str] | None = None) -> str:
    """A ``cdi`` command line with *spec_dirs*, else this invocation's ``--spec-dir`` options."""
    import shlex  # a hint after a failure: not worth its import on every start

    line = ["cdi"]
    for directory in spec_dirs if spec_dirs is not None else settings(ctx).spec_dirs or ():
        line += ["--spec-dir", directory]
    return shlex.join([*line, *words])


def warn_load_problems(
    ctx: click.Context, registry: Registry, *, spec_dirs: Sequence[str] | None = None
) -> None:
    """On stderr, for a listing that does not show errors itself: how many spec files failed
    to load or conflict, how many directories cannot be read, and what explains them.

    Without it, a directory whose only spec is broken lists as "No CDI devices found."
    *spec_dirs* goes into the suggested commands when the registry's directories are not
    this invocation's (``inspect`` under a BuildKit configuration). The status is unchanged.
    """
    if not registry.errors():  # the common case, without importing the checker
        return
    from cdi.filecheck import load_problems

    found = load_problems(registry)
    if not found:
        return
    if found.failed:
        what = "it defines" if found.failed == 1 else "they define"
        click.echo(
            f"Warning: {found.failed} of {found.total} CDI Spec files failed to load; "
            f"what {what} is not listed.",
            err=True,
        )
    if found.conflicting:
        files = "file defines" if found.conflicting == 1 else "files define"
        click.echo(f"Warning: {found.conflicting} CDI Spec {files} conflicting devices.", err=True)
    if found.unreadable_dirs:
        dirs = "directory" if found.unreadable_dirs == 1 else "directories"
        click.echo(f"Warning: {found.unreadable_dirs} CDI Spec {dirs} cannot be read.", err=True)
    validate = _command(ctx, "validate", spec_dirs=spec_dirs)
    doctor = _command(ctx, "doctor", "DEVICE", spec_dirs=spec_dirs)
    click.echo(f'Run "{validate}" to see why, or "{doctor}" about one device.', err=True)


def doctor_hint(ctx: click.Context, devices: Sequence[str]) -> str:
    """What to run to learn why *devices* (names or globs) do not resolve."""
    from cdi.globs import has_magic

    names = [device for device in devices if not has_magic(device)]
    if names:
        return f'Run "{_command(ctx, "doctor", *names)}" to see why.'
    return f'Run "{_command(ctx, "devices")}" to list the devices.'


#: ``--runtime-root``, for the commands that run containers (``run``, ``build``).
runtime_root_option = click.option(
    "--runtime-root",
    type=click.Path(file_okay=False),
    default=None,
    metavar="DIR",
    help="The runtime's state directory, passed to it as --root (created when missing). "
    "Default: $CDI_RUNTIME_ROOT, else the runtime's own (runc: /run/runc).",
)

#: ``--cache-dir``, of ``cdi build`` and ``cdi build prune``.
cache_dir_option = click.option(
    "--cache-dir",
    metavar="DIR",
    help="The build cache (default: $CDI_BUILD_CACHE, else /var/cache/cdi/build for root, "
    "else $XDG_CACHE_HOME/cdi/build).",
)
