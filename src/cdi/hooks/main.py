"""``cdi-hook``: the command line of the hook binary, with ``nvidia-cdi-hook``'s layout.

``cdi-hook [--debug] [--quiet] SUBCOMMAND [--flag value]... `` as runc starts it from a spec's
hook entry (``args[0]`` is the program name, ``cdi-hook`` or ``nvidia-cdi-hook``; a leading
``hook`` word, as ``nvidia-ctk hook`` uses, is skipped). Flags are written ``--name value``,
``--name=value`` or with one dash, as Go's flag package reads them. An unknown subcommand is
logged and succeeds, so that specs written for a newer hook still start containers.

Everything here stays lean: a hook runs on every container start, so only the subcommand
that runs is imported.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

TYPE_CHECKING = False  # a hook starts on every container start: no typing import
if TYPE_CHECKING:
    from typing import IO, Any


#: subcommand -> module; each module has ``FLAGS`` (name -> "list", "string" or "bool") and
#: ``run(root, options)``.
SUBCOMMANDS = {
    "create-symlinks": "cdi.hooks.create_symlinks",
    "chmod": "cdi.hooks.chmod",
    "update-ldcache": "cdi.hooks.update_ldcache",
    "enable-cuda-compat": "cdi.hooks.cuda_compat",
    "disable-device-node-modification": "cdi.hooks.device_node_modification",
    "update-application-profile": "cdi.hooks.application_profile",
}
#: Accepted and doing nothing (hidden), as nvidia-cdi-hook's ``noop``.
NOOP = "noop"

#: Flags every subcommand takes.
COMMON_FLAGS = {"container-spec": "string"}
_GLOBAL_FLAGS = {"debug": "bool", "d": "bool", "quiet": "bool"}
_TRUE = ("1", "t", "true", "y", "yes", "on")


class UsageError(Exception):
    """Bad command-line arguments (exit status 2)."""


def _log(message: str) -> None:
    sys.stderr.write(f"cdi-hook: {message}\n")


def parse_flags(
    args: Sequence[str], flags: dict[str, str], *, stop_at_positional: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """``(options, rest)``: the values of *flags* in *args*, and what follows the flags.

    Options map a flag name to the list of its values (``list``), its last value
    (``string``, as a one-item list) or ``True`` (``bool``). Raises :class:`UsageError`.
    """
    options: dict[str, Any] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            return options, list(args[index + 1 :])
        if not arg.startswith("-") or arg == "-":
            if stop_at_positional:
                return options, list(args[index:])
            raise UsageError(f"unexpected argument {arg!r}")
        name, has_value, value = arg.lstrip("-").partition("=")
        kind = flags.get(name)
        if kind is None:
            raise UsageError(f"flag provided but not defined: -{name}")
        if kind == "bool":
            options[name] = not has_value or value.lower() in _TRUE
        else:
            if not has_value:
                index += 1
                if index == len(args):
                    raise UsageError(f"flag needs an argument: -{name}")
                value = args[index]
            if kind == "list":
                options.setdefault(name, []).append(value)
            else:
                options[name] = [value]
        index += 1
    return options, []


def _is_set(environ: dict[str, str], *names: str) -> bool:
    return any(environ.get(name, "").lower() in _TRUE for name in names)


def run(argv: Sequence[str], stdin: IO[bytes], environ: dict[str, str]) -> int:
    """Run the hook command line *argv* (without the program name); the exit status."""
    try:
        global_options, rest = parse_flags(argv, _GLOBAL_FLAGS, stop_at_positional=True)
    except UsageError as err:
        _log(str(err))
        return 2
    if rest[:1] == ["hook"]:
        rest = rest[1:]
    if not rest:
        _log(
            f"usage: cdi-hook [--debug] [--quiet] SUBCOMMAND [FLAGS]; subcommands: "
            f"{', '.join(SUBCOMMANDS)}"
        )
        return 2
    name, args = rest[0], rest[1:]
    quiet = bool(global_options.get("quiet")) or _is_set(
        environ, "NVIDIA_CTK_QUIET", "NVIDIA_CDI_QUIET"
    )
    if name == NOOP:
        return 0
    module_name = SUBCOMMANDS.get(name)
    if module_name is None:
        if not quiet:
            _log(f"Unsupported CDI hook: {name}")
        return 0
    module = importlib.import_module(module_name)
    try:
        options, _ = parse_flags(args, {**COMMON_FLAGS, **module.FLAGS})
    except UsageError as err:
        _log(f"{name}: {err}")
        return 2
    from cdi.errors import CDIError
    from cdi.hooks.rootfs import ContainerRoot
    from cdi.hooks.state import container_root

    try:
        path = container_root(options.get("container-spec", [""])[-1], stdin)
        with ContainerRoot(path) as root:
            module.run(root, options)
    except (CDIError, OSError) as err:
        _log(f"{name}: {err}")
        return 1
    return 0


def main() -> None:
    """The ``cdi-hook`` entry point: an isolated interpreter with a scrubbed environment,
    then the subcommand."""
    from cdi.hooks.environment import needs_isolated_restart, scrubbed

    if needs_isolated_restart(os.environ):
        # Before anything else is imported: start again with -I and nothing from the caller.
        os.execve(
            sys.executable,
            [sys.executable, "-I", "-m", "cdi.hooks", *sys.argv[1:]],
            scrubbed(os.environ),
        )
    environ = dict(os.environ)
    os.environ.clear()
    os.environ.update(scrubbed(environ))
    try:
        status = run(sys.argv[1:], sys.stdin.buffer, environ)
    except Exception as err:  # a hook must fail with a message, never a traceback
        _log(f"internal error: {type(err).__name__}: {err}")
        status = 1
    sys.exit(status)
