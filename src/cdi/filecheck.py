"""Checking spec files one by one, as ``cdi validate`` reports them.

Loading a registry tells which devices resolve; this says, per file, whether it is valid and
why not: its own errors (with positions), and -- when the files are checked as the spec
directories hold them -- conflicts with other files and directories that cannot be read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from cdi.errors import CDIError, SpecError
from cdi.registry import ConflictError, Registry
from cdi.spec.load import load_spec
from cdi.spec.version import is_newer, minimum_version, normalize


class VersionTooHighError(CDIError):
    """Strict mode: the spec declares a newer cdiVersion than its content needs."""


@dataclass
class FileReport:
    """The outcome for one spec file (or one unreadable spec directory)."""

    path: str
    cdi_version: str | None = None
    minimum_version: str | None = None
    priority: int | None = None
    errors: list[CDIError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_file(path: str, *, strict: bool = False) -> FileReport:
    """Load *path* on its own. *strict* adds the annotation rules and refuses a cdiVersion
    higher than the content needs (older runtimes would refuse the file for nothing)."""
    try:
        spec = load_spec(path, strict=strict)
    except SpecError as err:
        return FileReport(path, errors=[err])
    minimum = minimum_version(spec)
    report = FileReport(path, spec.cdi_version, minimum)
    if strict and is_newer(spec.cdi_version, minimum):
        report.errors.append(
            VersionTooHighError(
                f"cdiVersion {normalize(spec.cdi_version)} is higher than needed "
                f"(minimum {minimum}); older runtimes would refuse this spec"
            )
        )
    return report


def check_directories(registry: Registry, *, strict: bool = False) -> list[FileReport]:
    """Every spec file of the registry's directories, in priority and name order, each
    checked on its own plus its conflicts; an unreadable directory is a report of its own."""
    dirs = registry.spec_dirs()
    errors = registry.errors()
    paths = {spec_file.path for spec_file in registry.specs()}
    paths.update(path for path in errors if path not in dirs)
    reports = []
    for priority, directory in enumerate(dirs):
        if directory in errors:
            reports.append(FileReport(directory, priority=priority, errors=errors[directory]))
        for path in sorted(path for path in paths if os.path.dirname(path) == directory):
            report = check_file(path, strict=strict)
            report.priority = priority
            report.errors += [e for e in errors.get(path, []) if isinstance(e, ConflictError)]
            reports.append(report)
    return reports
