"""Running a registry vector case: files on disk, a registry, steps and expectations.

Shared by the loaders of ``tests/vectors/registry/*.yaml`` and ``tests/vectors/inject/*.yaml``;
the keys are documented at the top of ``tests/vectors/registry/cache.yaml``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import resource
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cdi
from cdi.injection import HostDeviceInfo
from cdi.spec.decode import decode_spec
from cdi.spec.load import parse_value
from cdi.spec.plain import to_plain

POLL_DEADLINE = 5.0

_TYPES = {
    "c": stat.S_IFCHR,
    "b": stat.S_IFBLK,
    "p": stat.S_IFIFO,
    "f": stat.S_IFREG,
    "d": stat.S_IFDIR,
    "l": stat.S_IFLNK,
}


def substitute(value: Any, root: str) -> Any:
    """*value* with ``{root}`` replaced in every string (keys included)."""
    if isinstance(value, str):
        return value.replace("{root}", root)
    if isinstance(value, list):
        return [substitute(item, root) for item in value]
    if isinstance(value, dict):
        return {substitute(k, root): substitute(v, root) for k, v in value.items()}
    return value


class FakeHostDevice:
    """What ``lstat`` would say about a host device node."""

    def __init__(self, description: dict[str, Any]) -> None:
        self.st_mode = _TYPES[description.get("type", "c")] | description.get("mode", 0o600)
        self.st_rdev = os.makedev(description.get("major", 0), description.get("minor", 0))


class FakeHost:
    """An ``lstat`` replacement that knows only the devices it was told about."""

    def __init__(self, devices: dict[str, Any] | None = None) -> None:
        self.devices: dict[str, FakeHostDevice] = {}
        self.set(devices)

    def set(self, devices: dict[str, Any] | None) -> None:
        """Replace what the host has: path -> {type, major, minor, mode}."""
        self.devices = {path: FakeHostDevice(d) for path, d in (devices or {}).items()}

    def __call__(self, path: str) -> HostDeviceInfo:
        found = self.devices.get(path)
        if found is None:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        return found


def decode(document: Any) -> cdi.Spec:
    """A spec from a plain document (or YAML/JSON text), without validation."""
    if isinstance(document, str):
        return decode_spec(parse_value(document))
    return decode_spec(parse_value(json.dumps(document)))


@contextlib.contextmanager
def exhausted_fds() -> Iterator[Callable[[], None]]:
    """Use up this process's descriptors (below a lowered soft limit); yields a release."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    opened: list[int] = []
    released = False

    def release() -> None:
        nonlocal released
        if released:
            return
        released = True
        for fd in opened:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    highest = max(int(name) for name in os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, highest + 32), hard))
    try:
        while True:
            try:
                opened.append(os.open("/dev/null", os.O_RDONLY))
            except OSError as err:
                assert err.errno == errno.EMFILE
                break
        yield release
    finally:
        release()


class Scenario:
    """One case: a temporary root with spec directories and a registry on them."""

    def __init__(self, case: dict[str, Any], root: Path, mode: str) -> None:
        self.case = case
        self.root = root
        self.mode = mode
        self.text_root = str(root)
        self.written: dict[str, cdi.Spec] = {}
        self.release_fds: Callable[[], None] | None = None
        self._fd_context: contextlib.ExitStack = contextlib.ExitStack()
        dirs = case.get("dirs", ["etc", "run"])
        self.dirs = None if dirs is None else [self.abs(d) for d in dirs]
        for directory in dirs or []:
            if directory not in case.get("missing", []):
                self.abs_path(directory).mkdir(parents=True, exist_ok=True)
        for relative, target in case.get("links", {}).items():
            link = self.abs_path(relative)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(target)
        self.write_files(case.get("files", {}))
        for relative, size in case.get("large_files", {}).items():
            with self.abs_path(relative).open("wb") as handle:
                handle.truncate(size)
        self.host = FakeHost(substitute(case.get("host_devices"), self.text_root))
        self.registry = self.open()

    # -- paths ------------------------------------------------------------------------------

    def abs(self, relative: str) -> str:
        relative = substitute(relative, self.text_root)
        return relative if relative.startswith("/") else os.path.join(self.text_root, relative)

    def abs_path(self, relative: str) -> Path:
        return Path(self.abs(relative))

    def rel(self, path: str) -> str:
        prefix = self.text_root + "/"
        return path[len(prefix) :] if path.startswith(prefix) else path

    # -- set-up -----------------------------------------------------------------------------

    def open(self) -> cdi.Registry:
        return cdi.Registry(
            self.dirs,
            auto_refresh=self.mode == "auto",
            stat_device=self.host,
            debounce=0.01,
        )

    def write_files(self, files: dict[str, str], *, atomic: bool = False) -> None:
        for relative, content in files.items():
            path = self.abs_path(relative)
            path.parent.mkdir(parents=True, exist_ok=True)
            data = substitute(content, self.text_root).encode()
            if atomic:
                temporary = path.with_name(path.name + ".tmp")
                temporary.write_bytes(data)
                temporary.replace(path)
            else:
                with path.open("r+b" if path.exists() else "wb") as handle:
                    handle.write(data)
                    handle.truncate()

    def close(self) -> None:
        self.registry.close()
        self._fd_context.close()

    # -- steps ------------------------------------------------------------------------------

    def run(self) -> None:
        try:
            for step in self.case.get("steps", []):
                when = step.get("when")
                if when is not None and when != self.mode:
                    continue
                self.step(step)
        finally:
            self.close()

    def step(self, step: dict[str, Any]) -> None:
        if "expect" in step and "inject" not in step:
            self.expect(step["expect"])
        elif "write" in step:
            self.write_files(step["write"])
        elif "write_atomic" in step:
            self.write_files(step["write_atomic"], atomic=True)
        elif "remove" in step:
            for relative in step["remove"]:
                self.abs_path(relative).unlink()
        elif "mkdir" in step:
            for relative in step["mkdir"]:
                self.abs_path(relative).mkdir(parents=True)
        elif "rmtree" in step:
            for relative in step["rmtree"]:
                shutil.rmtree(self.abs_path(relative))
        elif "symlink" in step:
            for relative, target in step["symlink"].items():
                self.abs_path(relative).symlink_to(target)
        elif "refresh" in step:
            if self.mode == "manual":
                self.registry.refresh()
        elif "write_spec" in step:
            self.write_spec(step["write_spec"], step.get("error"))
        elif "remove_spec" in step:
            self.registry.remove_spec(step["remove_spec"])
        elif "close" in step:
            self.registry.close()
        elif "reopen" in step:
            self.registry.close()
            self.registry = self.open()
        elif "inject" in step:
            self.inject(step["inject"])
        elif "host_devices" in step:
            self.host.set(substitute(step["host_devices"], self.text_root))
        elif "exhaust_fds" in step:
            self.release_fds = self._fd_context.enter_context(exhausted_fds())
        elif "release_fds" in step:
            assert self.release_fds is not None
            self.release_fds()
        else:
            raise AssertionError(f"unknown step {step!r}")

    def write_spec(self, request: dict[str, Any], error: str | None) -> None:
        spec = decode(request["spec"])
        try:
            name = request.get("name")
            if "transient_id" in request:
                name = cdi.name_for_transient_spec(spec, request["transient_id"])
            path = self.registry.write_spec(spec, name, fmt=request.get("fmt"))
        except cdi.CDIError as err:
            assert error is not None, f"unexpected error {err}"
            assert str(err) == substitute(error, self.text_root)
            return
        assert error is None, f"expected error {error!r}"
        self.written[path] = spec

    def inject(self, request: dict[str, Any]) -> None:
        request = substitute(request, self.text_root)
        oci = request.get("oci")
        before = json.dumps(oci, sort_keys=True)
        try:
            if "annotations" in request:
                devices = cdi.devices_from_annotations(request["annotations"])
            else:
                devices = request["devices"]
            result = self.registry.inject(oci, devices)
        except cdi.CDIError as err:
            assert "error" in request, f"unexpected error {err}"
            assert str(err) == request["error"]
            if isinstance(err, cdi.UnresolvableDevicesError) and "unresolved" in request:
                assert err.devices == request["unresolved"]
        else:
            assert "error" not in request, f"expected error {request['error']!r}, got {result}"
            assert result == request["expect"]
        # Deviation: whatever happened, the caller's spec is untouched.
        assert json.dumps(oci, sort_keys=True) == before

    # -- expectations -----------------------------------------------------------------------

    def expect(self, expected: dict[str, Any]) -> None:
        expected = substitute(expected, self.text_root)
        if self.mode == "auto":
            deadline = time.monotonic() + POLL_DEADLINE
            while time.monotonic() < deadline:
                if not self.mismatches(expected):
                    return
                time.sleep(0.02)
        problems = self.mismatches(expected)
        assert not problems, "\n".join(problems)

    def mismatches(self, expected: dict[str, Any]) -> list[str]:
        problems: list[str] = []
        for key, want in expected.items():
            got = self.observe(key, want)
            if got != want:
                problems.append(f"{key}: expected {want!r}\n{' ' * len(key)}  got      {got!r}")
        return problems

    def observe(self, key: str, want: Any) -> Any:
        registry = self.registry
        if key == "devices":
            return {
                name: self.rel(registry.get_device(name).spec.path)  # type: ignore[union-attr]
                for name in registry.list_devices()
            }
        if key == "priorities":
            found = {name: registry.get_device(name) for name in want}
            return {name: d.priority if d else None for name, d in found.items()}
        if key == "vendors":
            return registry.list_vendors()
        if key == "classes":
            return registry.list_classes()
        if key == "specs":
            return [self.rel(spec_file.path) for spec_file in registry.specs()]
        if key == "vendor_specs":
            return {
                vendor: [self.rel(spec_file.path) for spec_file in registry.vendor_specs(vendor)]
                for vendor in want
            }
        if key == "spec_dirs":
            return registry.spec_dirs()
        if key == "errors":
            return {
                self.rel(path): [str(err) for err in found]
                for path, found in registry.errors().items()
            }
        if key == "described":
            errors = registry.errors()
            return {
                path: [
                    err.describe() if isinstance(err, cdi.SpecError) else str(err)
                    for err in errors.get(self.abs(path), [])
                ]
                for path in want
            }
        if key == "dir_errors":
            return {self.rel(path): str(err) for path, err in registry.dir_errors().items()}
        if key == "definitions":
            definitions = registry.definitions()
            return {
                name: [[self.rel(d.path), d.status] for d in definitions.get(name, [])]
                for name in want
            }
        if key == "reasons":
            definitions = registry.definitions()
            return {name: [d.reason for d in definitions.get(name, [])] for name in want}
        if key == "conflicts":
            return sorted(registry.conflicts())
        if key == "files_in":
            return {
                directory: sorted(os.listdir(self.abs(directory)))
                if os.path.isdir(self.abs(directory))
                else []
                for directory in want
            }
        if key == "modes":
            return {path: stat.S_IMODE(os.stat(self.abs(path)).st_mode) for path in want}
        if key == "device_edits":
            found = {name: registry.get_device(name) for name in want}
            return {
                name: to_plain(d.device.container_edits) if d else None for name, d in found.items()
            }
        if key == "roundtrip":
            loaded = {spec_file.path: spec_file.spec for spec_file in registry.specs()}
            return all(loaded.get(path) == spec for path, spec in self.written.items())
        raise AssertionError(f"unknown expectation {key!r}")
