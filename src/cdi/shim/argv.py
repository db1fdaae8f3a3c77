"""The OCI runtime command line as engines write it: global flags, subcommand, its flags.

There is no standard for it (the runtime spec defines operations, not a command line): this
is runc's, which crun, youki and others copy. The shim never validates the vector -- the real
runtime does that, with its own messages -- it only finds the few things it needs: the
subcommand, the bundle, the container id and the logging flags.

Go's flag syntax is accepted: ``--name value``, ``--name=value``, ``-name value``,
``-name=value``. A flag that takes a value is known from a table (runc's and crun's flags);
any other flag is taken as a switch, which is right for every switch and, written
``--x=value``, for unknown valued flags too.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["INJECTING_COMMANDS", "Invocation", "parse_argv"]

#: Global flags that take a value: runc's (``--criu`` in older releases) and crun's.
GLOBAL_VALUE_FLAGS = frozenset(
    {"root", "log", "log-format", "log-level", "rootless", "criu", "cgroup-manager"}
)

#: Global flags that ask for the version (runc ``-v``, crun ``-V``).
VERSION_FLAGS = frozenset({"version", "v", "V"})

#: Per subcommand, the flags that take a value. Subcommands not listed are passed through
#: and never parsed beyond their name.
SUBCOMMAND_VALUE_FLAGS: dict[str, frozenset[str]] = {
    "create": frozenset(
        {"bundle", "b", "console-socket", "pidfd-socket", "pid-file", "preserve-fds", "config", "f"}
    ),
    "run": frozenset(
        {"bundle", "b", "console-socket", "pidfd-socket", "pid-file", "preserve-fds", "config", "f"}
    ),
    "restore": frozenset(
        {
            "bundle",
            "b",
            "console-socket",
            "pidfd-socket",
            "pid-file",
            "image-path",
            "work-path",
            "parent-path",
            "manage-cgroups-mode",
            "empty-ns",
            "lsm-profile",
            "lsm-mount-context",
        }
    ),
}

#: The subcommands whose bundle gets CDI devices. ``restore`` too: the engine writes the
#: restored container's ``config.json`` afresh, and injection is idempotent (see
#: :mod:`cdi.shim.once`), so a bundle that already has the devices is not changed.
INJECTING_COMMANDS = frozenset(SUBCOMMAND_VALUE_FLAGS)


class Invocation:
    """What the shim needs to know of one command line."""

    __slots__ = (
        "bundle",
        "command",
        "config_file",
        "container_id",
        "debug",
        "log",
        "log_format",
        "problem",
        "version",
    )

    def __init__(self) -> None:
        #: The subcommand (``create``, ``state``, ...), ``None`` when there is none.
        self.command: str | None = None
        #: ``--bundle`` as given (the last one wins), ``None``: the current directory.
        self.bundle: str | None = None
        #: crun's ``--config``/``-f``: the spec file's name, instead of ``config.json``.
        self.config_file: str | None = None
        #: The last positional argument of the subcommand (the container id of ``create``).
        self.container_id: str | None = None
        self.log: str | None = None
        self.log_format = "text"
        self.debug = False
        #: Whether a global version flag was given (``runc --version``).
        self.version = False
        #: Why the vector cannot be understood (a valued flag at the end, say): then the
        #: shim passes it through and the real runtime reports the problem in its words.
        self.problem: str | None = None

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"Invocation({fields})"


def _flag(argument: str) -> tuple[str, str | None] | None:
    """``(name, value)`` for a flag (value ``None`` unless written ``name=value``), or
    ``None`` for a positional argument (``-`` alone is one)."""
    if len(argument) < 2 or argument[0] != "-":
        return None
    name = argument[2:] if argument[1] == "-" else argument[1:]
    if not name:
        return None  # "--": the caller handles it
    name, equals, value = name.partition("=")
    return name, (value if equals else None)


def parse_argv(arguments: Sequence[str]) -> Invocation:
    """Read *arguments* (``argv[1:]``); never raises."""
    found = Invocation()
    position = _global_flags(arguments, found)
    if position >= len(arguments):
        return found
    found.command = arguments[position]
    valued = SUBCOMMAND_VALUE_FLAGS.get(found.command)
    if valued is not None:
        _subcommand_flags(arguments[position + 1 :], valued, found)
    return found


def _take_value(
    arguments: Sequence[str], position: int, name: str, value: str | None, found: Invocation
) -> tuple[str | None, int]:
    """The flag's value and the position after it."""
    if value is not None:
        return value, position + 1
    if position + 1 >= len(arguments):
        found.problem = f"flag needs an argument: -{name}"
        return None, position + 1
    return arguments[position + 1], position + 2


def _global_flags(arguments: Sequence[str], found: Invocation) -> int:
    """Read the global flags; the position of the subcommand (or the end)."""
    position = 0
    while position < len(arguments):
        argument = arguments[position]
        if argument == "--":
            return position + 1
        flag = _flag(argument)
        if flag is None:
            return position
        name, value = flag
        if name in GLOBAL_VALUE_FLAGS:
            value, position = _take_value(arguments, position, name, value, found)
            if name == "log":
                found.log = value
            elif name == "log-format" and value is not None:
                found.log_format = value
            continue
        if name == "debug":
            found.debug = value is None or value.lower() in ("true", "1", "t")
        elif name in VERSION_FLAGS:
            found.version = True
        position += 1
    return position


def _subcommand_flags(arguments: Sequence[str], valued: frozenset[str], found: Invocation) -> None:
    position = 0
    while position < len(arguments):
        argument = arguments[position]
        if argument == "--":
            if position + 1 < len(arguments):
                found.container_id = arguments[-1]
            return
        flag = _flag(argument)
        if flag is None:
            found.container_id = argument
            position += 1
            continue
        name, value = flag
        if name not in valued:
            position += 1
            continue
        value, position = _take_value(arguments, position, name, value, found)
        if name in ("bundle", "b"):
            found.bundle = value
        elif name in ("config", "f"):
            found.config_file = value
