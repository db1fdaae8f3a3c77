"""Helpers for the build tests: writing contexts, running builds, a fake device policy."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cdi.build import BuildOptions, BuildResult, Progress, build
from cdi.errors import CDIError
from cdi.policy import DeviceNotAllowedError, DeviceRequest, Entitlements, ProgressCallback

#: A runtime that does not exist: a build that gets as far as running a step fails with it.
NO_RUNTIME = "/nonexistent/runc"


def write_tree(base: Path, files: Mapping[str, str]) -> Path:
    """Create *files* (path -> text) under *base*; returns *base*."""
    base.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return base


def run_build(
    context: Path, dockerfile: str, *, progress: Progress | None = None, **options: Any
) -> tuple[BuildResult, Progress]:
    """Build *dockerfile* (text) in *context*; returns the result and the recorded progress."""
    shown = progress or Progress()
    result = build(
        BuildOptions(context=context, dockerfile_text=dockerfile, progress=shown, **options)
    )
    return result, shown


class FakeRegistry:
    """The one part of a registry the executor reads: its per-file errors."""

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        self._errors = {path: [CDIError(text) for text in texts] for path, texts in errors.items()}

    def errors(self) -> dict[str, list[CDIError]]:
        return dict(self._errors)


class FakePolicy:
    """A device policy with the executor's three calls, recording them.

    Devices in *allowed* pass; *refuse* lists names whose request is refused with BuildKit's
    message; injection adds ``<NAME>_DEVICE=injected`` per device to the environment.
    *spec_errors* are the registry's problems (path -> messages).
    """

    def __init__(
        self,
        refuse: Sequence[str] = (),
        inject_error: str | None = None,
        spec_errors: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.refuse = set(refuse)
        self.inject_error = inject_error
        self.registry = FakeRegistry(spec_errors or {})
        self.authorized: list[list[DeviceRequest]] = []
        self.prepared: list[list[DeviceRequest]] = []
        self.injected: list[list[DeviceRequest]] = []

    def authorize(
        self, requests: Sequence[DeviceRequest], entitlements: Entitlements | None
    ) -> list[DeviceRequest]:
        self.authorized.append(list(requests))
        forbidden = [r.name for r in requests if r.name in self.refuse]
        if forbidden and not (entitlements and entitlements.all_devices):
            raise DeviceNotAllowedError(forbidden)
        return [DeviceRequest(r.name) for r in requests]

    def prepare(
        self, requests: Sequence[DeviceRequest], progress: ProgressCallback | None = None
    ) -> None:
        self.prepared.append(list(requests))
        if progress is not None:
            progress("preparing " + ",".join(r.name for r in requests))

    def inject(
        self, oci_spec: Mapping[str, Any], requests: Sequence[DeviceRequest]
    ) -> dict[str, Any]:
        self.injected.append(list(requests))
        if self.inject_error:
            raise CDIError(self.inject_error)
        spec = copy.deepcopy(dict(oci_spec))
        for request in requests:
            variable = request.name.rpartition("=")[2].upper()
            spec["process"]["env"].append(f"{variable}_DEVICE=injected")
        return spec
