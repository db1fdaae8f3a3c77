"""Why a device name does or does not resolve, in plain words (``cdi doctor``).

A runtime that cannot resolve a device says only ``unresolvable CDI devices <name>``; the real
cause -- no spec directory, a typo in the vendor, the defining file failing to load, two files
defining the same device -- stays hidden in the registry. :func:`diagnose` looks at everything
the registry knows (loaded files, per-file and per-directory errors, the history of names
defined more than once) and reports the causes that apply, each as a :class:`Finding` with a
stable ``code``, plus close matches among the known devices.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cdi.errors import CDIError, InvalidNameError, SpecError
from cdi.gotext import quote
from cdi.names import parse_qualified_name

if TYPE_CHECKING:
    from cdi.registry import DeviceDefinition, Registry

__all__ = ["CODES", "Diagnosis", "Finding", "diagnose"]

#: Every finding code, in the order findings are reported.
CODES = (
    "resolved",
    "overrides",
    "invalid-name",
    "no-spec-dirs",
    "no-spec-files",
    "dir-error",
    "load-error",
    "conflict",
    "shadowed",
    "unknown-vendor",
    "unknown-class",
    "unknown-device",
    "load-error-unknown-kind",
    "untrusted",
)

#: How many close matches to suggest, and how close they must be (difflib's ratio).
MAX_SUGGESTIONS = 3
CUTOFF = 0.6


@dataclass(frozen=True, slots=True)
class Finding:
    """One fact about a name: ``code`` (see :data:`CODES`), a sentence, and where it applies."""

    code: str
    message: str
    path: str | None = None
    line: int | None = None
    column: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "column": self.column,
        }


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Whether ``name`` resolves, the ``path`` and ``priority`` of its definition when it
    does, the findings that explain it, and close matches among the known devices."""

    name: str
    resolved: bool
    path: str | None
    priority: int | None
    findings: tuple[Finding, ...]
    suggestions: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "resolved": self.resolved,
            "path": self.path,
            "priority": self.priority,
            "findings": [finding.to_json() for finding in self.findings],
            "suggestions": list(self.suggestions),
        }


def _close(word: str, candidates: Sequence[str]) -> list[str]:
    return difflib.get_close_matches(word, candidates, n=MAX_SUGGESTIONS, cutoff=CUTOFF)


def _listing(words: Sequence[str]) -> str:
    return ", ".join(words) if words else "none"


def _did_you_mean(word: str, candidates: Sequence[str]) -> str:
    close = _close(word, candidates)
    return f"; did you mean {' or '.join(quote(c) for c in close)}?" if close else ""


def _peek(path: str) -> tuple[str, list[str] | None] | None:
    """The ``kind`` (and device names, when readable) of a spec file that failed to load.

    Best effort: the file is read leniently, ignoring everything that made it fail;
    ``None`` when not even its kind can be told.
    """
    from cdi.spec.load import parse_value, read_spec_bytes
    from cdi.spec.pairs import Pairs

    try:
        value = parse_value(read_spec_bytes(path))
    except Exception:  # anything at all: we only try to learn more about a broken file
        return None
    if type(value) is not Pairs:
        return None
    fields = {key.lower(): item for key, item in value}
    kind = fields.get("kind")
    if not isinstance(kind, str):
        return None
    devices = fields.get("devices")
    if not isinstance(devices, list) or type(devices) is Pairs:
        return kind, None
    names = []
    for device in devices:
        if type(device) is Pairs:
            names += [item for key, item in device if key.lower() == "name"]
    return kind, [str(name) for name in names]


def _load_error_finding(code: str, lead: str, path: str, error: CDIError) -> Finding:
    if isinstance(error, SpecError):
        return Finding(code, f"{lead}: {error.describe()}", path, error.line, error.column)
    return Finding(code, f"{lead}: {path}: {error}", path)


def _definition_findings(definitions: Sequence[DeviceDefinition]) -> list[Finding]:
    from cdi.registry import CONFLICT, SHADOWED

    findings: list[Finding] = []
    reported: set[frozenset[str]] = set()
    for definition in definitions:
        if definition.status == CONFLICT:
            files = frozenset((definition.path, *definition.conflicts_with))
            if files in reported:
                continue
            reported.add(files)
            names = " and ".join(quote(path) for path in sorted(files))
            findings.append(
                Finding(
                    "conflict",
                    f"conflict between files {names}: they have the same priority "
                    f"({definition.priority}) and both define it, so neither is used",
                    definition.path,
                )
            )
        elif definition.status == SHADOWED:
            if definition.winner is not None:
                text = (
                    f"the definition in {quote(definition.path)} is shadowed by "
                    f"higher-priority file {quote(definition.winner)}"
                )
            else:
                text = (
                    f"the definition in {quote(definition.path)} is shadowed by "
                    "higher-priority files that conflict with each other"
                )
            findings.append(Finding("shadowed", text, definition.path))
    return findings


def _directory_findings(registry: Registry, has_files: bool) -> list[Finding]:
    dirs = registry.spec_dirs()
    findings: list[Finding] = []
    if not any(os.path.isdir(directory) for directory in dirs):
        findings.append(
            Finding(
                "no-spec-dirs",
                f"none of the spec directories exists: {', '.join(dirs)} "
                "(they are set by --spec-dir or CDI_SPEC_DIRS)",
            )
        )
    elif not has_files:
        findings.append(
            Finding("no-spec-files", f"the spec directories hold no spec files: {', '.join(dirs)}")
        )
    for directory, error in registry.dir_errors().items():
        findings.append(
            Finding(
                "dir-error", f"spec directory {quote(directory)} has a problem: {error}", directory
            )
        )
    return findings


def _load_findings(registry: Registry, kind: str, device: str) -> list[Finding]:
    """Files that failed to load and define (or may define) *kind*'s *device*."""
    from cdi.registry import ConflictError

    findings: list[Finding] = []
    for path, errors in _failed_files(registry).items():
        for error in errors:
            if isinstance(error, ConflictError):
                continue
            peeked = _peek(path)
            if peeked is None:
                findings.append(
                    _load_error_finding(
                        "load-error-unknown-kind",
                        "a spec file failed to load, so whether it defines this device is unknown",
                        path,
                        error,
                    )
                )
            elif peeked[0] == kind and (peeked[1] is None or device in peeked[1]):
                findings.append(
                    _load_error_finding(
                        "load-error", "the spec file that defines it failed to load", path, error
                    )
                )
    return findings


def _absence_findings(registry: Registry, vendor: str, device_class: str, device: str) -> Finding:
    vendors = registry.list_vendors()
    if vendor not in vendors:
        return Finding(
            "unknown-vendor",
            f"no spec file defines vendor {quote(vendor)} (known vendors: {_listing(vendors)})"
            + _did_you_mean(vendor, vendors),
        )
    files = registry.vendor_specs(vendor)
    classes = sorted({spec_file.device_class for spec_file in files})
    if device_class not in classes:
        return Finding(
            "unknown-class",
            f"vendor {quote(vendor)} has no device class {quote(device_class)} "
            f"(its classes: {_listing(classes)})" + _did_you_mean(device_class, classes),
        )
    kind = f"{vendor}/{device_class}"
    names = sorted(
        {d.name for spec_file in files if spec_file.kind == kind for d in spec_file.spec.devices}
    )
    return Finding(
        "unknown-device",
        f"kind {quote(kind)} has no device {quote(device)} (its devices: {_listing(names)})",
    )


def _similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def _suggestions(name: str, known: Sequence[str]) -> tuple[str, ...]:
    """Known names close to *name*: for a qualified name, those whose vendor, class and
    device are each the same or close; otherwise those ending in ``=name``, then names
    close as a whole."""
    from cdi.names import parse_device

    try:
        parts = parse_qualified_name(name)
    except InvalidNameError:
        same_device = [candidate for candidate in known if candidate.endswith("=" + name)]
        return tuple(dict.fromkeys([*same_device, *_close(name, known)]))[:MAX_SUGGESTIONS]
    scored: list[tuple[float, str]] = []
    for candidate in known:
        scores = [_similar(a, b) for a, b in zip(parts, parse_device(candidate), strict=True)]
        if min(scores) >= CUTOFF:
            scored.append((-sum(scores), candidate))
    return tuple(candidate for _, candidate in sorted(scored)[:MAX_SUGGESTIONS])


def diagnose(registry: Registry, name: str) -> Diagnosis:
    """Explain whether and why *name* (``vendor/class=device``) resolves in *registry*."""
    known = registry.list_devices()
    found = registry.get_device(name)
    definitions = registry.definitions().get(name, [])
    if found is not None:
        directory = registry.spec_dirs()[found.priority]
        findings = [
            Finding(
                "resolved",
                f"defined in {quote(found.path)} "
                f"(spec directory {quote(directory)}, priority {found.priority})",
                found.path,
            )
        ]
        for definition in definitions:
            if definition.path != found.path:
                findings.append(
                    Finding(
                        "overrides",
                        f"it overrides the definition in lower-priority file "
                        f"{quote(definition.path)}",
                        definition.path,
                    )
                )
        return Diagnosis(name, True, found.path, found.priority, tuple(findings), ())

    try:
        vendor, device_class, device = parse_qualified_name(name)
    except InvalidNameError as err:
        findings = [
            Finding(
                "invalid-name",
                f"not a valid CDI device name (want vendor.com/class=name): {err}",
            )
        ]
        has_files = bool(registry.specs()) or bool(_failed_files(registry))
        findings += _directory_findings(registry, has_files)
        return Diagnosis(name, False, None, None, tuple(findings), _suggestions(name, known))

    kind = f"{vendor}/{device_class}"
    load = _load_findings(registry, kind, device)
    has_files = bool(registry.specs()) or bool(_failed_files(registry))
    findings = _directory_findings(registry, has_files)
    findings += [f for f in load if f.code == "load-error"]
    findings += _definition_findings(definitions)
    if not definitions and not any(f.code == "load-error" for f in load) and has_files:
        findings.append(_absence_findings(registry, vendor, device_class, device))
    findings += [f for f in load if f.code == "load-error-unknown-kind"]
    return Diagnosis(name, False, None, None, tuple(findings), _suggestions(name, known))


def _failed_files(registry: Registry) -> dict[str, list[CDIError]]:
    """The errors of spec files (not directories), by path."""
    dirs = set(registry.spec_dirs())
    return {path: errors for path, errors in registry.errors().items() if path not in dirs}
