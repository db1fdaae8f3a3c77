"""``cdi validate``: check spec files and say what is wrong, where."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from cdi.cli.main import output_format, output_option
from cdi.cli.render import emit_data

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cdi.filecheck import FileReport

#: How a file that the strict trust policy refuses is flagged (its reasons follow).
TRUST_WARNING = 'untrusted (trust policy "strict" refuses it)'


def _lines(report: FileReport) -> list[str]:
    from cdi.cli.views import error_text
    from cdi.errors import SpecError
    from cdi.registry import SpecDirError

    if report.ok:
        return [
            f"{report.path}: ok (cdiVersion {report.cdi_version}, minimum {report.minimum_version})"
        ]
    # File and directory errors name their place themselves; the others get the file's path.
    return [
        error_text(error)
        if isinstance(error, SpecError | SpecDirError)
        else f"{report.path}: {error}"
        for error in report.errors
    ]


def _remarks(report: FileReport) -> list[str]:
    """Warnings and notes: they do not fail the file, but belong with the diagnostics."""
    return [f"{report.path}: warning: {text}" for text in report.warnings] + [
        f"{report.path}: note: {text}" for text in report.notes
    ]


def _add_trust_warnings(reports: list[FileReport], dirs: Sequence[str] | None) -> None:
    """A warning on each file that the strict trust policy refuses, with the reasons.

    A warning, not an error: validity is the spec's own, trust depends on who reads it and
    where it lies (a spec checked before being installed may well sit in a user's directory).
    Each file is judged in its spec directory (*dirs*, by priority), else in its own.
    """
    import os

    from cdi.registry.trust import check_spec_file

    for report in reports:
        if dirs is None:
            directory = os.path.dirname(os.path.abspath(report.path))
        elif report.priority is None or report.path in dirs:
            continue  # an unreadable directory's report
        else:
            directory = dirs[report.priority]
        try:
            reasons = check_spec_file(report.path, directory)
        except OSError:
            continue  # not there, or not to be examined: its loading says why
        if reasons:
            report.warnings.append(f"{TRUST_WARNING}: {'; '.join(reasons)}")


def _data(report: FileReport) -> dict[str, Any]:
    from cdi.cli.views import error_data

    data: dict[str, Any] = {"path": report.path, "ok": report.ok}
    if report.cdi_version is not None:
        data["cdiVersion"] = report.cdi_version
        data["minimumVersion"] = report.minimum_version
    errors = [error_data(report.path, error) for error in report.errors]
    data["errors"] = [{k: v for k, v in e.items() if k != "path"} for e in errors]
    data["warnings"] = list(report.warnings)
    data["notes"] = list(report.notes)
    if report.priority is not None:
        data["priority"] = report.priority
    return data


@click.command()
@click.option(
    "--strict",
    is_flag=True,
    help=(
        "Also apply the Kubernetes annotation rules and fail a cdiVersion too low for the "
        "content even where the reference accepts it; one higher than needed is only noted."
    ),
)
@output_option
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.pass_context
def validate(ctx: click.Context, strict: bool, output: str | None, files: tuple[str, ...]) -> None:
    """Validate spec FILES, or without FILES every spec file in the spec directories.

    One line per file: `<file>: ok (cdiVersion X, minimum Y)`, or its errors with
    `file:line:col`; Y is the true minimum, every device counted. Without FILES, two files
    of one directory that define the same device, and directories that cannot be read,
    are errors too. Warnings and notes (on stderr) do not fail a file: a cdiVersion below
    the minimum that loads only because of a reference defect is a warning, and so is a
    file that the strict trust policy refuses (`cdi run` as root): one that someone other
    than root or you could change. Exits 1 if anything failed.
    """
    from cdi.filecheck import check_directories, check_file

    if files:
        reports = [check_file(path, strict=strict) for path in files]
        _add_trust_warnings(reports, None)
    else:
        from cdi.cli.common import open_registry

        registry = open_registry(ctx)
        reports = check_directories(registry, strict=strict)
        _add_trust_warnings(reports, registry.spec_dirs())
    fmt = output_format(ctx, output)
    if fmt == "text":
        if not reports:
            click.echo(f"No CDI Spec files found in {', '.join(registry.spec_dirs())}.")
        for report in reports:
            for line in _lines(report):
                click.echo(line, err=not report.ok)
            for line in _remarks(report):
                click.echo(line, err=True)
    else:
        emit_data([_data(report) for report in reports], fmt)
    if not all(report.ok for report in reports):
        ctx.exit(1)
