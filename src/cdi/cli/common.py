"""What the commands share: the registry the global options describe, and failing well."""

from __future__ import annotations

import contextlib
import shlex
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

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
) -> Registry:
    """The registry of the spec directories: ``--spec-dir``, else ``CDI_SPEC_DIRS``, else the
    defaults."""
    from cdi.registry import Registry

    return Registry(
        settings(ctx).spec_dirs, auto_refresh=auto_refresh, on_change=on_change, debounce=debounce
    )


def fail(ctx: click.Context, message: str, *, status: int = 1, hint: str | None = None) -> NoReturn:
    """Report *message* on stderr as ``Error: <message>`` (and *hint*), and exit *status*."""
    click.echo(f"Error: {message}", err=True)
    if hint:
        click.echo(hint, err=True)
    ctx.exit(status)


def _command(ctx: click.Context, *words: str) -> str:
    """A ``cdi`` command line with this invocation's ``--spec-dir`` options."""
    line = ["cdi"]
    for directory in settings(ctx).spec_dirs or ():
        line += ["--spec-dir", directory]
    return shlex.join([*line, *words])


def doctor_hint(ctx: click.Context, devices: Sequence[str]) -> str:
    """What to run to learn why *devices* (names or globs) do not resolve."""
    from cdi.globs import has_magic

    names = [device for device in devices if not has_magic(device)]
    if names:
        return f'Run "{_command(ctx, "doctor", *names)}" to see why.'
    return f'Run "{_command(ctx, "devices")}" to list the devices.'


@contextlib.contextmanager
def stop_on_signals() -> Iterator[list[int]]:
    """Turn SIGINT and SIGTERM into :class:`KeyboardInterrupt` while the block runs.

    So that a command cleans up (a container, a watcher) when stopped either way, also
    where SIGINT was ignored (a shell's background job). Yields the list of the signals
    received. Outside the main thread (no handlers can be set there) it does nothing.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def interrupt(signum: int, frame: Any) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
