"""``cdi validate``: check spec files and say what is wrong, where."""

from __future__ import annotations

import os
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


def _error(path: str, error: Any) -> dict[str, Any]:
    from cdi.cli.views import error_data

    data = error_data(path, error)
    del data["path"]  # the result's own path
    return data


def _registry_results(ctx: click.Context, strict: bool) -> tuple[list[dict[str, Any]], list[str]]:
    """Every spec file of the spec directories, checked as a file on its own, plus the
    registry's findings: conflicts between files and directories that cannot be read."""
    from cdi.cli.common import open_registry
    from cdi.cli.views import error_text
    from cdi.registry import ConflictError

    registry = open_registry(ctx)
    dirs = registry.spec_dirs()
    errors = registry.errors()
    paths = {spec_file.path for spec_file in registry.specs()}
    paths.update(path for path in errors if path not in dirs)
    results = []
    for priority, directory in enumerate(dirs):
        if directory in errors:
            found = errors[directory]
            results.append(
                {
                    "path": directory,
                    "ok": False,
                    "errors": [_error(directory, error) for error in found],
                    "text": [error_text(error) for error in found],
                }
            )
        in_dir = sorted(path for path in paths if os.path.dirname(path) == directory)
        for path in in_dir:
            paths.discard(path)
            result = _check(path, strict)
            result["priority"] = priority
            conflicts = [e for e in errors.get(path, []) if isinstance(e, ConflictError)]
            if conflicts:
                if result["ok"]:
                    result["text"] = []
                result["ok"] = False
                for conflict in conflicts:
                    result["errors"].append(_error(path, conflict))
                    result["text"].append(f"{path}: {conflict}")
            results.append(result)
    return results, dirs


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
    """Validate spec FILES, or without FILES every spec file in the spec directories.

    One line per file: `<file>: ok (cdiVersion X, minimum Y)`, or its errors with
    `file:line:col`. Without FILES, two files of one directory that define the same
    device, and directories that cannot be read, are errors too. Exits 1 if anything
    failed.
    """
    dirs: list[str] = []
    if files:
        results = [_check(path, strict) for path in files]
    else:
        results, dirs = _registry_results(ctx, strict)
    fmt = output_format(ctx, output)
    if fmt == "text":
        if not results:
            click.echo(f"No CDI Spec files found in {', '.join(dirs)}.")
        for result in results:
            for line in result["text"]:
                click.echo(line, err=not result["ok"])
    else:
        emit_data([{k: v for k, v in r.items() if k != "text"} for r in results], fmt)
    if not all(result["ok"] for result in results):
        ctx.exit(1)
