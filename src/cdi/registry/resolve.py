"""Deciding which definition of each device is used, and remembering why the others lost.

The reference's rules, visiting files from the lowest-priority directory to the highest and
in name order: a new name is taken; a higher-priority definition replaces the one held; a
lower-priority one is ignored; two definitions at the *same* priority (two files of one
directory) are a conflict, recorded as an error on both files, and the name is dropped after
the scan. One deliberate difference: a conflicting name is dropped only when no
higher-priority directory defines it; if one does, that definition stands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cdi.errors import CDIError
from cdi.gotext import quote
from cdi.registry.scan import SpecFile
from cdi.spec.model import Device

__all__ = [
    "ACTIVE",
    "CONFLICT",
    "SHADOWED",
    "ConflictError",
    "DeviceDefinition",
    "RegisteredDevice",
    "Resolution",
    "Resolver",
    "resolve",
]

ACTIVE = "active"
SHADOWED = "shadowed"
CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class RegisteredDevice:
    """A device as the registry resolves it: qualified ``name``, the ``device`` and the
    ``spec`` file that defines it."""

    name: str
    device: Device
    spec: SpecFile

    @property
    def path(self) -> str:
        return self.spec.path

    @property
    def priority(self) -> int:
        return self.spec.priority


class ConflictError(CDIError):
    """Two files of one directory define the same device."""

    def __init__(self, name: str, new_path: str, old_path: str) -> None:
        super().__init__(
            f"conflicting device {quote(name)} (specs {quote(new_path)}, {quote(old_path)})"
        )
        self.name = name
        self.paths = (new_path, old_path)


@dataclass(frozen=True, slots=True)
class DeviceDefinition:
    """One file's definition of a device that more than one file defines.

    ``status`` is :data:`ACTIVE` (this definition is used), :data:`SHADOWED` (a
    higher-priority definition wins; ``winner`` names it when one is in use) or
    :data:`CONFLICT` (another file of the same directory defines it too and nothing of higher
    priority does, so the device cannot be resolved). ``conflicts_with`` lists the other files
    at the same priority.
    """

    name: str
    path: str
    priority: int
    status: str
    winner: str | None = None
    conflicts_with: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        """Why this definition is (not) used, for people."""
        others = ", ".join(quote(path) for path in self.conflicts_with)
        if self.status == ACTIVE:
            return "used: it has the highest priority"
        if self.status == CONFLICT:
            return f"conflict between files {quote(self.path)} and {others}"
        if self.winner is not None:
            text = f"shadowed by higher-priority file {quote(self.winner)}"
            if others:
                text += f" (it also conflicts with {others} in the same directory)"
            return text
        return "shadowed by higher-priority files that conflict with each other"


@dataclass(frozen=True, slots=True)
class Resolution:
    """The devices in use, the history of names defined more than once, and the conflict
    errors per file (each error appears on both files involved)."""

    devices: Mapping[str, RegisteredDevice]
    definitions: Mapping[str, tuple[DeviceDefinition, ...]]
    conflict_errors: Mapping[str, tuple[ConflictError, ...]]


class Resolver:
    """:func:`resolve`, remembering each spec file's devices between calls (spec files that
    did not change are the same objects from one scan to the next)."""

    def __init__(self) -> None:
        self._devices: dict[int, tuple[SpecFile, tuple[RegisteredDevice, ...]]] = {}

    def _registered(self, files: Sequence[SpecFile]) -> list[tuple[RegisteredDevice, ...]]:
        cache = self._devices
        fresh: dict[int, tuple[SpecFile, tuple[RegisteredDevice, ...]]] = {}
        result = []
        for spec_file in files:
            hit = cache.get(id(spec_file))
            if hit is None or hit[0] is not spec_file:
                prefix = spec_file.spec.kind + "="
                hit = (
                    spec_file,
                    tuple(
                        RegisteredDevice(prefix + device.name, device, spec_file)
                        for device in spec_file.spec.devices
                    ),
                )
            fresh[id(spec_file)] = hit
            result.append(hit[1])
        self._devices = fresh
        return result

    def resolve(self, files: Sequence[SpecFile]) -> Resolution:
        """Resolve the devices of *files*, given in scan order (priority, then name)."""
        devices: dict[str, RegisteredDevice] = {}
        repeated: dict[str, list[RegisteredDevice]] = {}
        conflict_priority: dict[str, int] = {}
        errors: dict[str, list[ConflictError]] = {}
        for registered_devices in self._registered(files):
            for registered in registered_devices:
                name = registered.name
                held = devices.get(name)
                if held is None:
                    devices[name] = registered
                    continue
                # The first repeat of a name finds its first definition still held.
                repeated.setdefault(name, [held]).append(registered)
                priority = registered.spec.priority
                if priority > held.spec.priority:
                    devices[name] = registered
                elif priority == held.spec.priority:
                    new_path, old_path = registered.spec.path, held.spec.path
                    error = ConflictError(name, new_path, old_path)
                    errors.setdefault(new_path, []).append(error)
                    errors.setdefault(old_path, []).append(error)
                    conflict_priority[name] = priority
        for name, priority in conflict_priority.items():
            if devices[name].spec.priority <= priority:
                del devices[name]
        return Resolution(
            devices,
            {
                name: _definitions(definitions, devices.get(name), conflict_priority.get(name))
                for name, definitions in repeated.items()
            },
            {path: tuple(found) for path, found in errors.items()},
        )


def resolve(files: Sequence[SpecFile]) -> Resolution:
    """Resolve the devices of *files*, given in scan order (priority, then name)."""
    return Resolver().resolve(files)


def _definitions(
    definitions: list[RegisteredDevice],
    winner: RegisteredDevice | None,
    conflict_priority: int | None,
) -> tuple[DeviceDefinition, ...]:
    result = []
    for definition in definitions:
        same = tuple(
            other.path
            for other in definitions
            if other is not definition and other.priority == definition.priority
        )
        if definition is winner:
            status = ACTIVE
        elif winner is None and definition.priority == conflict_priority:
            status = CONFLICT
        else:
            status = SHADOWED
        result.append(
            DeviceDefinition(
                definition.name,
                definition.path,
                definition.priority,
                status,
                winner.path if winner is not None and definition is not winner else None,
                same,
            )
        )
    return tuple(result)
