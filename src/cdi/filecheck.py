"""Checking spec files one by one, as ``cdi validate`` reports them.

Loading a registry tells which devices resolve; this says, per file, whether it is valid and
why not: its own errors (with positions), and -- when the files are checked as the spec
directories hold them -- conflicts with other files and directories that cannot be read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from cdi.errors import CDIError, SpecError
from cdi.gotext import quote
from cdi.registry import ConflictError, Registry
from cdi.spec.load import load_spec
from cdi.spec.model import Spec
from cdi.spec.version import is_newer, masked_requirements, minimum_version, normalize


class VersionTooLowError(CDIError):
    """Strict mode: the spec declares a lower cdiVersion than its content needs, which the
    reference lets through only because of a defect in its version check."""


@dataclass
class FileReport:
    """The outcome for one spec file (or one unreadable spec directory).

    ``errors`` fail the check; ``warnings`` and ``notes`` do not. A warning is something a
    runtime may refuse one day; a note (strict mode only) a portability remark.
    """

    path: str
    cdi_version: str | None = None
    minimum_version: str | None = None
    priority: int | None = None
    errors: list[CDIError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _too_low(spec: Spec, declared: str, minimum: str) -> str:
    """Why *spec* loads although it declares less than it needs: only the reference's
    loop-variable defect (docs/compatibility.md) hides the requirement."""
    masked = [m for m in masked_requirements(spec) if is_newer(m.version, declared)]
    features = ", ".join(f"{m.feature} in device {quote(m.device)}" for m in masked)
    rules = list(dict.fromkeys(m.rule for m in masked))
    verb = "check" if len(rules) > 1 else "checks"
    return (
        f"cdiVersion {declared} is lower than the content needs (minimum {minimum}: "
        f"{features}); it loads only because of the specs-go loop-variable defect "
        f"({' and '.join(rules)} {verb} only the last device), and a runtime without that "
        "defect would refuse it"
    )


def check_file(path: str, *, strict: bool = False) -> FileReport:
    """Load *path* on its own, as runtimes do, and report the true minimum version.

    A cdiVersion lower than the content needs, accepted only because of the reference's
    version-check defect, is a warning (an error with *strict*). *strict* also adds the
    annotation rules, and a note when cdiVersion is higher than needed (older runtimes
    refuse a version they do not know, so a lower one reaches more of them).
    """
    try:
        spec = load_spec(path, strict=strict)
    except SpecError as err:
        return FileReport(path, errors=[err])
    minimum = minimum_version(spec)
    declared = normalize(spec.cdi_version)
    report = FileReport(path, spec.cdi_version, minimum)
    if is_newer(minimum, declared):
        message = _too_low(spec, declared, minimum)
        if strict:
            report.errors.append(VersionTooLowError(message))
        else:
            report.warnings.append(message)
    elif strict and is_newer(declared, minimum):
        report.notes.append(
            f"cdiVersion {declared} is higher than needed (minimum {minimum}); "
            f"runtimes that know only versions below {declared} would refuse this spec"
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


@dataclass(frozen=True)
class LoadProblems:
    """Why a listing of the registry may be short: how many spec files failed to load (of
    how many), how many define devices that conflict, how many directories cannot be read."""

    failed: int = 0
    total: int = 0
    conflicting: int = 0
    unreadable_dirs: int = 0

    def __bool__(self) -> bool:
        return bool(self.failed or self.conflicting or self.unreadable_dirs)


def load_problems(registry: Registry) -> LoadProblems:
    """Count the registry's errors by kind (a file that failed to load counts once)."""
    dirs = set(registry.spec_dirs())
    failed = conflicting = unreadable = 0
    for path, errors in registry.errors().items():
        if path in dirs:
            unreadable += 1
        elif any(not isinstance(error, ConflictError) for error in errors):
            failed += 1
        elif errors:
            conflicting += 1
    return LoadProblems(failed, len(registry.specs()) + failed, conflicting, unreadable)
