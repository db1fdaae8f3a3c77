"""Deciding which definition of each device is used, and remembering why the others lost.

The reference's rules, visiting files from the lowest-priority directory to the highest and
in name order: a new name is taken; a higher-priority definition replaces the one held; a
lower-priority one is ignored; two definitions at the *same* priority (two files of one
directory) are a conflict, recorded as an error on both files, and the name is dropped after
the scan. One deliberate difference: a conflicting name is dropped only when no
higher-priority directory defines it; if one does, that definition stands.
"""

from __future__ import annotations

from bisect import bisect_left

from cdi.errors import CDIError
from cdi.gotext import quote
from cdi.spec.record import record

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from cdi.registry.index import StoredTable
    from cdi.registry.specfile import SpecFile
    from cdi.spec.model import Device

__all__ = [
    "ACTIVE",
    "CONFLICT",
    "SHADOWED",
    "ConflictError",
    "DeviceDefinition",
    "DeviceTable",
    "RegisteredDevice",
    "Resolution",
    "Resolver",
    "resolve",
]

ACTIVE = "active"
SHADOWED = "shadowed"
CONFLICT = "conflict"


class RegisteredDevice:
    """A device as the registry resolves it: qualified ``name``, the ``device`` and the
    ``spec`` file that defines it. The device is taken from its spec when first asked for
    (a spec served from the persistent index is decoded only then)."""

    __slots__ = ("_device", "_position", "name", "spec")

    def __init__(
        self, name: str, device: Device | None, spec: SpecFile, position: int = -1
    ) -> None:
        self.name = name
        self._device = device
        self.spec = spec
        self._position = position  # in spec.device_names, when *device* is not given

    @property
    def device(self) -> Device:
        device = self._device
        if device is None:
            device = self._device = self.spec.spec.devices[self._position]
        return device

    @property
    def path(self) -> str:
        return self.spec.path

    @property
    def priority(self) -> int:
        return self.spec.priority

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RegisteredDevice):
            return NotImplemented
        return self.name == other.name and self.spec == other.spec

    def __hash__(self) -> int:
        return hash((self.name, self.spec.path))

    def __repr__(self) -> str:
        return f"RegisteredDevice(name={self.name!r}, path={self.spec.path!r})"


class ConflictError(CDIError):
    """Two files of one directory define the same device."""

    def __init__(self, name: str, new_path: str, old_path: str) -> None:
        super().__init__(
            f"conflicting device {quote(name)} (specs {quote(new_path)}, {quote(old_path)})"
        )
        self.name = name
        self.paths = (new_path, old_path)


@record
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


class Resolution:
    """The devices in use, the history of names defined more than once, and the conflict
    errors per file (each error appears on both files involved)."""

    __slots__ = ("conflict_errors", "definitions", "devices")

    def __init__(
        self,
        devices: DeviceTable,
        definitions: Mapping[str, tuple[DeviceDefinition, ...]],
        conflict_errors: Mapping[str, tuple[ConflictError, ...]],
    ) -> None:
        self.devices = devices
        self.definitions = definitions
        self.conflict_errors = conflict_errors


_Source = tuple["SpecFile", int]  # a definition: the spec file and the device's position in it


#: A resolved device table as the index stores it: the qualified names in sorted order and,
#: for each, the position of its spec file in the scan and of the device in that file.


class DeviceTable:
    """The devices in use, by qualified name (a read-only mapping). Each
    :class:`RegisteredDevice` is made on first use: a listing of names, the common question
    on a start path, makes none. Not a ``Mapping`` subclass: creating an ABC subclass costs
    every new process more than the whole table does.

    Made either from the resolver's dictionary or, when no file changed, from the table the
    persistent index stored (sorted names, looked up by bisection: nothing to build).
    """

    __slots__ = ("_files", "_made", "_sorted", "_sources", "_stored")

    def __init__(self, sources: dict[str, _Source]) -> None:
        self._sources: dict[str, _Source] | None = sources
        self._made: dict[str, RegisteredDevice] = {}
        self._sorted: tuple[str, ...] | None = None
        self._stored: StoredTable | None = None
        self._files: Sequence[SpecFile] = ()

    @classmethod
    def stored(cls, table: StoredTable, files: Sequence[SpecFile]) -> DeviceTable:
        """The table the index stored for *files* (the scan's files, in the same order)."""
        made = cls({})
        made._sources, made._stored, made._files = None, table, files
        return made

    def _source(self, name: str) -> _Source | None:
        if self._sources is not None:
            return self._sources.get(name)
        assert self._stored is not None
        names, file_numbers, positions = self._stored
        at = bisect_left(names, name)
        if at < len(names) and names[at] == name:
            return self._files[file_numbers[at]], positions[at]
        return None

    def __getitem__(self, name: str) -> RegisteredDevice:
        found = self._made.get(name)
        if found is None:
            source = self._source(name)
            if source is None:
                raise KeyError(name)
            # Two threads may both make it: equal objects, and either is kept.
            found = self._made[name] = RegisteredDevice(name, None, source[0], source[1])
        return found

    def get(self, name: str) -> RegisteredDevice | None:
        try:
            return self[name]
        except KeyError:
            return None

    def __contains__(self, name: object) -> bool:
        if name in self._made:
            return True
        return isinstance(name, str) and self._source(name) is not None

    def sorted_names(self) -> tuple[str, ...]:
        if self._sorted is None:
            if self._stored is not None:
                self._sorted = tuple(self._stored[0])
            else:
                assert self._sources is not None
                self._sorted = tuple(sorted(self._sources))
        return self._sorted

    def spec_files(self) -> list[tuple[str, SpecFile]]:
        """Each name, sorted, with the spec file defining it (no RegisteredDevice made)."""
        if self._stored is not None:
            files = self._files
            names, file_numbers, _ = self._stored
            return [(name, files[number]) for name, number in zip(names, file_numbers, strict=True)]
        assert self._sources is not None
        sources = self._sources
        return [(name, sources[name][0]) for name in self.sorted_names()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._sources if self._sources is not None else self.sorted_names())

    def __len__(self) -> int:
        return len(self._sources) if self._sources is not None else len(self.sorted_names())

    def stored_form(self, files: Sequence[SpecFile]) -> StoredTable:
        """This table as the index stores it, for the scan's *files*."""
        if self._stored is not None and self._files is files:
            return self._stored
        number = {id(spec_file): index for index, spec_file in enumerate(files)}
        names = list(self.sorted_names())
        file_numbers, positions = [], []
        for name in names:
            source = self._source(name)
            assert source is not None
            file_numbers.append(number[id(source[0])])
            positions.append(source[1])
        return names, file_numbers, positions


class Resolver:
    """:func:`resolve`, remembering each spec file's qualified device names between calls
    (spec files that did not change are the same objects from one scan to the next)."""

    def __init__(self) -> None:
        self._names: dict[int, tuple[SpecFile, list[str]]] = {}

    def _qualified(self, files: Sequence[SpecFile]) -> list[tuple[SpecFile, list[str]]]:
        cache = self._names
        fresh: dict[int, tuple[SpecFile, list[str]]] = {}
        result = []
        for spec_file in files:
            hit = cache.get(id(spec_file))
            if hit is None or hit[0] is not spec_file:
                prefix = spec_file.kind + "="
                hit = (spec_file, [prefix + name for name in spec_file.device_names])
            fresh[id(spec_file)] = hit
            result.append(hit)
        self._names = fresh
        return result

    def resolve(self, files: Sequence[SpecFile]) -> Resolution:
        """Resolve the devices of *files*, given in scan order (priority, then name)."""
        devices: dict[str, _Source] = {}
        repeated: dict[str, list[_Source]] = {}
        conflict_priority: dict[str, int] = {}
        errors: dict[str, list[ConflictError]] = {}
        for spec_file, names in self._qualified(files):
            priority = spec_file.priority
            for position, name in enumerate(names):
                held = devices.get(name)
                if held is None:
                    devices[name] = (spec_file, position)
                    continue
                # The first repeat of a name finds its first definition still held.
                source = (spec_file, position)
                repeated.setdefault(name, [held]).append(source)
                held_file = held[0]
                if priority > held_file.priority:
                    devices[name] = source
                elif priority == held_file.priority:
                    error = ConflictError(name, spec_file.path, held_file.path)
                    errors.setdefault(spec_file.path, []).append(error)
                    errors.setdefault(held_file.path, []).append(error)
                    conflict_priority[name] = priority
        for name, priority in conflict_priority.items():
            if devices[name][0].priority <= priority:
                del devices[name]
        return Resolution(
            DeviceTable(devices),
            {
                name: _definitions(
                    name, definitions, devices.get(name), conflict_priority.get(name)
                )
                for name, definitions in repeated.items()
            },
            {path: tuple(found) for path, found in errors.items()},
        )


def resolve(files: Sequence[SpecFile]) -> Resolution:
    """Resolve the devices of *files*, given in scan order (priority, then name)."""
    return Resolver().resolve(files)


def _definitions(
    name: str,
    definitions: list[_Source],
    winner: _Source | None,
    conflict_priority: int | None,
) -> tuple[DeviceDefinition, ...]:
    result = []
    for definition in definitions:
        spec_file = definition[0]
        same = tuple(
            other[0].path
            for other in definitions
            if other is not definition and other[0].priority == spec_file.priority
        )
        if definition is winner:
            status = ACTIVE
        elif winner is None and spec_file.priority == conflict_priority:
            status = CONFLICT
        else:
            status = SHADOWED
        result.append(
            DeviceDefinition(
                name,
                spec_file.path,
                spec_file.priority,
                status,
                winner[0].path if winner is not None and definition is not winner else None,
                same,
            )
        )
    return tuple(result)
