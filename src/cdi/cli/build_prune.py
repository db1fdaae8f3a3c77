"""``cdi build prune``: remove entries from the build cache (:mod:`cdi.build.cache.prune`)."""

from __future__ import annotations

from pathlib import Path

import click

from cdi.cli.common import cache_dir_option
from cdi.cli.main import output_format, output_option
from cdi.errors import CDIError

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import Any

    from cdi.build.cache.prune import PruneResult
    from cdi.build.cache.selection import Removal


def _duration_option(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    from cdi.build.cache.units import UnitError, parse_duration

    try:
        return parse_duration(value)
    except UnitError as exc:
        raise click.BadParameter(str(exc)) from None


def _size_option(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    from cdi.build.cache.units import UnitError, parse_size

    try:
        return parse_size(value)
    except UnitError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("prune", context_settings={"help_option_names": ["-h", "--help"]})
@cache_dir_option
@click.option(
    "--keep-duration",
    metavar="DURATION",
    callback=_duration_option,
    help="Keep the entries used within DURATION (Go syntax: 24h, 90m, 1h30m, 10s).",
)
@click.option(
    "--keep-storage",
    metavar="SIZE",
    callback=_size_option,
    help="Then remove the least recently used entries until at most SIZE is left "
    "(bytes, or with a unit: 500MB, 5GB, 2GiB).",
)
@click.option("--dry-run", is_flag=True, help="Show what would be removed; remove nothing.")
@output_option(choices=("text", "json"), help="Output format (default: text, or the global -o).")
@click.pass_context
def prune(  # noqa: PLR0917 -- click passes each option as an argument
    ctx: click.Context,
    cache_dir: str | None,
    keep_duration: float | None,
    keep_storage: int | None,
    dry_run: bool,
    output: str | None,
) -> None:
    """Remove entries from the build cache: all of them, or those the --keep options do
    not keep.

    Prints each entry removed (its kind and key, size and the instruction that made it)
    and the total size. It waits for the builds using the cache to finish.
    """
    from cdi.build.cache.prune import prune as run_prune
    from cdi.build.cache.store import default_cache_dir

    path = Path(cache_dir) if cache_dir else default_cache_dir()

    def waiting() -> None:
        click.echo(f"waiting for the builds using the build cache {path} to finish", err=True)

    try:
        result = run_prune(
            path,
            keep_duration=keep_duration,
            keep_storage=keep_storage,
            dry_run=dry_run,
            on_wait=waiting,
        )
    except CDIError as exc:
        click.echo(f"Error: {exc}", err=True)
        ctx.exit(1)
    fmt = output_format(ctx, output)
    if fmt == "text":
        click.echo(prune_text(result), nl=False)
    else:
        from cdi.ocispec import dump_document

        click.echo(dump_document(result.to_json(), fmt))
    for error in result.errors:
        click.echo(f"Error: {error}", err=True)
    ctx.exit(1 if result.errors else 0)


def prune_text(result: PruneResult) -> str:
    """The text ``cdi build prune`` prints: a line per entry, then ``Total: <size>``."""
    from cdi.build.cache.units import human_size
    from cdi.cli.tabwriter import align

    rows = [
        f"{_short_name(removal)}\t{human_size(removal.entry.size)}\t{_what(removal)}"
        for removal in result.removed
    ]
    total = f"Total: {human_size(result.total)}"
    if result.dry_run:
        total += " (dry run: nothing was removed)"
    return "".join(line.rstrip() + "\n" for line in [*align(rows, padding=2), total])


def _short_name(removal: Removal) -> str:
    entry = removal.entry
    return f"{entry.kind}/{entry.key[:12]}"


def _what(removal: Removal) -> str:
    from cdi.build.cache.selection import DAMAGED, LEFTOVER

    entry = removal.entry
    if removal.reason == DAMAGED:
        return f"(damaged: {entry.problem})"
    if removal.reason == LEFTOVER:
        return "(left by an interrupted build)"
    # One line per entry, whatever the instruction held.
    return entry.description.replace("\t", " ").replace("\n", "\\n")
