"""A spec file as the registry holds it: the spec, where it came from, and its priority.

The kind and the device names are known without the spec itself, so a spec served from the
persistent index is decoded only when its content is first asked for.
"""

from __future__ import annotations

from cdi.names import parse_qualifier

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Callable

    from cdi.spec.model import Spec

__all__ = ["SpecFile"]


class SpecFile:
    """A loaded spec and where it came from; ``priority`` is its directory's index.

    ``kind`` and ``device_names`` are known without the spec itself: a spec file served from
    the persistent index decodes its content only when ``spec`` is first read.
    """

    __slots__ = ("_load", "_qualifier", "_spec", "device_names", "kind", "path", "priority")

    def __init__(self, spec: Spec, path: str, priority: int) -> None:
        self._spec: Spec | None = spec
        self._load: Callable[[], Spec] | None = None
        self.path = path
        self.priority = priority
        self.kind = spec.kind
        self.device_names = tuple(device.name for device in spec.devices)

    @classmethod
    def deferred(
        cls,
        load: Callable[[], Spec],
        path: str,
        priority: int,
        kind: str,
        device_names: tuple[str, ...],
    ) -> SpecFile:
        """A spec file whose spec *load* makes on first use (once)."""
        spec_file = cls.__new__(cls)
        spec_file._spec, spec_file._load = None, load
        spec_file.path, spec_file.priority = path, priority
        spec_file.kind, spec_file.device_names = kind, device_names
        return spec_file

    @property
    def spec(self) -> Spec:
        spec = self._spec
        if spec is None:
            assert self._load is not None
            # Two threads may both load it: the same spec, and either result is kept.
            spec = self._spec = self._load()
            self._load = None
        return spec

    @property
    def vendor(self) -> str:
        return self._vendor_and_class()[0]

    @property
    def device_class(self) -> str:
        return self._vendor_and_class()[1]

    def _vendor_and_class(self) -> tuple[str, str]:
        try:
            return self._qualifier
        except AttributeError:
            self._qualifier: tuple[str, str] = parse_qualifier(self.kind)
            return self._qualifier

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SpecFile):
            return NotImplemented
        return (self.path, self.priority, self.kind) == (
            other.path,
            other.priority,
            other.kind,
        ) and (self.spec == other.spec)

    def __hash__(self) -> int:
        return hash((self.path, self.priority))

    def __repr__(self) -> str:
        return f"SpecFile(path={self.path!r}, priority={self.priority}, kind={self.kind!r})"
