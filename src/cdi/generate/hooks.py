"""The hooks generated specs call, and which of them a user turned off.

Every hook is a ``createContainer`` hook running the hook binary with the subcommand as its
first argument after the program name, so an entry works with ``nvidia-cdi-hook`` and with
any binary that keeps its argument layout. ``nvidia-ctk`` itself takes the subcommands under
``hook``.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass

from cdi.generate.errors import GenerateError
from cdi.generate.locate import EXECUTABLE_SEARCH_PATHS
from cdi.spec.model import Hook

CREATE_SYMLINKS = "create-symlinks"
CHMOD = "chmod"
UPDATE_LDCACHE = "update-ldcache"
ENABLE_CUDA_COMPAT = "enable-cuda-compat"
DISABLE_DEVICE_NODE_MODIFICATION = "disable-device-node-modification"
UPDATE_APPLICATION_PROFILE = "update-application-profile"

#: Every hook a generator may emit, plus the name that stands for all of them.
HOOK_NAMES = (
    CREATE_SYMLINKS,
    CHMOD,
    UPDATE_LDCACHE,
    ENABLE_CUDA_COMPAT,
    DISABLE_DEVICE_NODE_MODIFICATION,
    UPDATE_APPLICATION_PROFILE,
)
ALL = "all"

#: Off unless enabled by name: ``chmod`` is deprecated (runtimes create nodes with the right
#: mode), and ``all`` does not enable it.
_OFF_BY_DEFAULT = frozenset({CHMOD})

#: Hooks that do nothing without arguments, and are left out then.
_NEED_ARGUMENTS = frozenset({CREATE_SYMLINKS, CHMOD})

#: The hook binaries looked for, in order: ours (``cdi install-hook``), then NVIDIA's.
HOOK_BINARIES = ("cdi-hook", "nvidia-cdi-hook")
DEFAULT_HOOK_PATH = "/usr/bin/nvidia-cdi-hook"
#: Searched after ``$PATH`` (runtimes start hooks without one, so specs name a full path).
HOOK_SEARCH_DIRS = EXECUTABLE_SEARCH_PATHS


class HookConfigError(GenerateError):
    """An ``--enable-hook``/``--disable-hook`` value that cannot be honoured."""


@dataclass(frozen=True)
class HookSelection:
    """Which hooks to emit: an explicit name wins (enabled over disabled), then ``all``."""

    disabled: frozenset[str] = frozenset()
    enabled: frozenset[str] = frozenset()

    @classmethod
    def of(cls, disabled: Iterable[str] = (), enabled: Iterable[str] = ()) -> HookSelection:
        enabled = frozenset(enabled)
        if ALL in enabled:
            raise HookConfigError("enabling all hooks is not supported")
        return cls(frozenset(disabled), enabled)

    def allows(self, name: str) -> bool:
        if name in self.enabled:
            return True
        if name in self.disabled or ALL in self.disabled:
            return False
        return name not in _OFF_BY_DEFAULT

    def with_disabled(self, name: str) -> HookSelection:
        """A selection that also turns *name* off, whatever was enabled (a mode's own rule)."""
        return HookSelection(self.disabled | {name}, self.enabled - {name})


def resolve_hook_path(path: str = "", search_path: str | None = None) -> str:
    """The hook binary to name in specs: *path* when given, else ``cdi-hook`` or else
    ``nvidia-cdi-hook`` found on ``$PATH`` or the usual directories, else NVIDIA's default
    location. Relative ``$PATH`` entries are skipped: an OCI hook's path must be absolute,
    and the runtime runs hooks from another directory."""
    if path:
        return path
    directories = [
        *(search_path if search_path is not None else os.environ.get("PATH", "")).split(":"),
        *HOOK_SEARCH_DIRS,
    ]
    for binary in HOOK_BINARIES:
        for directory in directories:
            if not directory.startswith("/"):
                continue
            candidate = posixpath.join(directory, binary)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
    return DEFAULT_HOOK_PATH


@dataclass(frozen=True)
class HookMaker:
    """Builds the hook entries of a spec for one hook binary and one selection."""

    path: str = DEFAULT_HOOK_PATH
    selection: HookSelection = HookSelection()
    debug: bool = False

    def program(self) -> tuple[str, ...]:
        """``args`` up to the subcommand: the binary's name, and ``hook`` for ``nvidia-ctk``."""
        name = posixpath.basename(self.path)
        return (name, "hook") if name == "nvidia-ctk" else (name,)

    def make(self, name: str, *args: str) -> Hook | None:
        """The hook *name* with *args*, or ``None`` when it is turned off or has nothing to do."""
        if not self.selection.allows(name) or (name in _NEED_ARGUMENTS and not args):
            return None
        return Hook(
            hook_name="createContainer",
            path=self.path,
            args=(*self.program(), name, *args),
            env=(f"NVIDIA_CTK_DEBUG={'true' if self.debug else 'false'}",),
        )

    def create_symlinks(self, links: Iterable[str]) -> Hook | None:
        """``create-symlinks`` with one ``--link target::link`` pair per unique link."""
        args: list[str] = []
        for link in dict.fromkeys(links):
            args += ["--link", link]
        return self.make(CREATE_SYMLINKS, *args)

    def chmod(self, mode: str, paths: Iterable[str]) -> Hook | None:
        args = ["--mode", mode]
        unique = list(dict.fromkeys(paths))
        for path in unique:
            args += ["--path", path]
        return self.make(CHMOD, *args) if unique else None
