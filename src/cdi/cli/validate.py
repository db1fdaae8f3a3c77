"""``cdi validate``: check spec files and say what is wrong, where."""

from __future__ import annotations

from typing import Any

import click

from cdi.cli.main import output_format, output_option
from cdi.cli.render import emit_data
from cdi.errors import SpecError
from cdi.spec.load import load_spec
from cdi.spec.version import is_newer, minimum_version, normalize


def _check(path: str, strict: bool) -> dict[str, Any]:
    try:
        spec = load_spec(path, strict=strict)
    except SpecError as err:
        error = {"message": err.message, "line": err.line, "column": err.column, "hint": err.hint}
        return {"path": path, "ok": False, "errors": [error], "text": [err.describe()]}
    minimum = minimum_version(spec)
    result: dict[str, Any] = {
        "path": path,
        "ok": True,
        "cdiVersion": spec.cdi_version,
        "minimumVersion": minimum,
        "errors": [],
    }
    if strict and is_newer(spec.cdi_version, minimum):
        message = (
            f"cdiVersion {normalize(spec.cdi_version)} is higher than needed "
            f"(minimum {minimum}); older runtimes would refuse this spec"
        )
        result["ok"] = False
        result["errors"].append({"message": message, "line": None, "column": None, "hint": None})
        result["text"] = [f"{path}: {message}"]
    else:
        result["text"] = [f"{path}: ok (cdiVersion {spec.cdi_version}, minimum {minimum})"]
    return result


@click.command()
@click.option(
    "--strict",
    is_flag=True,
    help="Also apply the Kubernetes annotation rules and flag a cdiVersion higher than needed.",
)
@output_option
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.pass_context
def validate(ctx: click.Context, strict: bool, output: str | None, files: tuple[str, ...]) -> None:
    """Validate spec FILES: one line per file, `file:line:col` for errors.

    Exits 1 if any file fails.
    """
    if not files:
        raise click.UsageError("give at least one spec file")
    results = [_check(path, strict) for path in files]
    fmt = output_format(ctx, output)
    if fmt == "text":
        for result in results:
            for line in result["text"]:
                click.echo(line, err=not result["ok"])
    else:
        emit_data([{k: v for k, v in r.items() if k != "text"} for r in results], fmt)
    if not all(result["ok"] for result in results):
        ctx.exit(1)
