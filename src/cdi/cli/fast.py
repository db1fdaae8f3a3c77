"""The ``cdi`` entry point: the start-path commands without the command-line framework.

Runtimes and scripts call ``cdi devices`` and ``cdi inject`` on every container start.
Importing click costs more than the rest of such a command with the persistent index, so
this module answers the plainest forms of those two commands itself, through the same
functions the click commands call (the output is the same by construction), and hands
everything else to :mod:`cdi.cli.main`: other commands, ``--help``, options it does not
know, and every error (the click command then runs from the start and reports it).

Handled: ``cdi [--spec-dir DIR]... [-o FMT] devices [-o text|json|yaml|names]`` and
``cdi [--spec-dir DIR]... [-o FMT] inject [-o json|yaml] OCI_SPEC|- DEVICE...`` (device
names without wildcards), when the registry reports no problem; and ``cdi build`` with
every flag it has, spelt ``--flag VALUE`` or ``--flag=VALUE``, when their values are right
(the build then runs through the functions the click command calls,
:mod:`cdi.cli.buildrun`).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Sequence

    from cdi.registry import Registry

_GLOBAL_FORMATS = ("text", "json", "yaml")
_DEVICES_FORMATS = ("text", "json", "yaml", "names")
_INJECT_FORMATS = ("json", "yaml")
_COMMANDS = {
    "devices": "devices",
    "devs": "devices",
    "dev": "devices",
    "inject": "inject",
    "inj": "inject",
    "in": "inject",
    "oci": "inject",
}


class _Fallback(Exception):
    """This invocation is for the full command line."""


class _Arguments:
    """Options and words in the order given, as the plain forms of the click options."""

    def __init__(self, argv: Sequence[str]) -> None:
        self._argv = list(argv)
        self._position = 0

    def peek(self) -> str | None:
        return self._argv[self._position] if self._position < len(self._argv) else None

    def take(self) -> str:
        word = self.peek()
        if word is None:
            raise _Fallback
        self._position += 1
        return word

    def option(self, names: tuple[str, ...]) -> str | None:
        """The value of the option at this position if it is one of *names*, else ``None``."""
        word = self.peek()
        if word is None:
            return None
        for name in names:
            if word == name:
                self._position += 1
                value = self.take()
                if value.startswith("-"):
                    raise _Fallback  # click may read it otherwise
                return value
            if name.startswith("--") and word.startswith(name + "="):
                self._position += 1
                return word[len(name) + 1 :]
        return None

    def rest(self) -> list[str]:
        found = self._argv[self._position :]
        self._position = len(self._argv)
        return found


def _format(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _Fallback  # click reports the bad choice
    return value


def _registry(spec_dirs: list[str]) -> Registry:
    from cdi.registry import Registry

    registry = Registry(spec_dirs or None)
    if registry.errors():
        raise _Fallback  # the click command warns about them
    return registry


def _devices(arguments: _Arguments, spec_dirs: list[str], output: str | None) -> str:
    while arguments.peek() is not None:
        value = arguments.option(("-o", "--output"))
        if value is None:
            raise _Fallback  # -v, --help, or something click rejects
        output = _format(value, _DEVICES_FORMATS)
    from cdi.cli.outputs import devices_listing

    text, note = devices_listing(_registry(spec_dirs), output or "text")
    if note is not None:
        sys.stderr.write(note + "\n")
    return text


def _keep_stdin() -> None:
    """Read standard input now and put it back as a buffer, so that the click command can
    read it again should it run after all."""
    import io

    sys.stdin = io.TextIOWrapper(io.BytesIO(sys.stdin.buffer.read()))


def _inject(arguments: _Arguments, spec_dirs: list[str], output: str | None) -> str:
    local = arguments.option(("-o", "--output"))
    if local is not None:
        output = _format(local, _INJECT_FORMATS)
    words = arguments.rest()
    if len(words) < 2 or any(word.startswith("-") for word in words[1:]):
        raise _Fallback
    path, devices = words[0], words[1:]
    if path.startswith("-") and path != "-":
        raise _Fallback
    from cdi.globs import has_magic

    if any(has_magic(device) for device in devices):
        raise _Fallback
    from cdi.cli.outputs import inject_devices
    from cdi.errors import CDIError
    from cdi.ocispec import OCISpecError, choose_format, dump_document, read_oci_spec

    if path == "-":
        _keep_stdin()
    try:
        spec = read_oci_spec(path)
        updated = inject_devices(_registry(spec_dirs), spec, devices)
    except (OCISpecError, CDIError):
        raise _Fallback from None
    return dump_document(updated, choose_format(output, path)) + "\n"


#: ``cdi build``'s flags that take a value: flag -> (its key, whether it repeats).
_BUILD_VALUES = {
    "-f": ("dockerfile", False),
    "--file": ("dockerfile", False),
    "--allow": ("allow", True),
    "--build-context": ("build_contexts", True),
    "--build-arg": ("build_args", True),
    "--progress": ("progress", False),
    "-o": ("outputs", True),
    "--output": ("outputs", True),
    "--target": ("target", False),
    "--cache-dir": ("cache_dir", False),
    "--spec-dir": ("spec_dirs", True),
    "--config": ("config_path", False),
    "--auto-allow": ("auto_allowed", True),
    "--host-root": ("host_root", False),
    "--runtime": ("runtime", False),
    "--runtime-root": ("runtime_root", False),
}


def _build_flags(arguments: _Arguments) -> tuple[dict[str, list[str]], str, bool]:
    """``cdi build``'s flag values by key, its CONTEXT, and whether ``--no-cache`` was given;
    :class:`_Fallback` for anything click should see (help, an unknown or malformed flag, not
    exactly one CONTEXT, a path click would refuse)."""
    import os

    values: dict[str, list[str]] = {}
    contexts: list[str] = []
    no_cache = False
    while (word := arguments.peek()) is not None:
        if word == "--no-cache":
            arguments.take()
            no_cache = True
            continue
        if not word.startswith("-") or word == "-":
            contexts.append(arguments.take())
            continue
        for flag, (key, _) in _BUILD_VALUES.items():
            value = arguments.option((flag,))
            if value is not None:
                values.setdefault(key, []).append(value)
                break
        else:
            raise _Fallback
    if len(contexts) != 1 or contexts[0] == "prune":
        raise _Fallback
    for key, repeats in set(_BUILD_VALUES.values()):
        if not repeats and key in values:
            values[key] = values[key][-1:]  # the last one wins, as in click
    progress = values.get("progress", ["auto"])[0]
    config = values.get("config_path", [None])[0]
    if progress not in ("auto", "plain", "tty", "quiet") or (
        config is not None and (not os.path.exists(config) or os.path.isdir(config))
    ):
        raise _Fallback
    for key in ("host_root", "runtime_root"):
        if any(os.path.isfile(path) for path in values.get(key, [])):
            raise _Fallback
    return values, contexts[0], no_cache


def _build(arguments: _Arguments, spec_dirs: list[str]) -> int:
    import os

    from cdi.cli.buildpolicy import HOST_ROOT_ENV
    from cdi.cli.buildrun import UsageProblem, build_options, start_build

    values, context, no_cache = _build_flags(arguments)

    def one(key: str, default: str | None = None) -> str | None:
        return values.get(key, [default])[-1]

    host_root = one("host_root") or os.environ.get(HOST_ROOT_ENV) or "/"
    if os.path.isfile(host_root):
        raise _Fallback
    try:
        options = build_options(
            context=context,
            allow=values.get("allow", []),
            build_contexts=values.get("build_contexts", []),
            build_args=values.get("build_args", []),
            outputs=values.get("outputs", []),
            target=one("target"),
            cache_dir=one("cache_dir"),
            no_cache=no_cache,
            runtime=one("runtime") or "runc",
            runtime_root=one("runtime_root"),
        )
    except UsageProblem:
        raise _Fallback from None
    return start_build(
        options,
        dockerfile=one("dockerfile"),
        spec_dirs=values.get("spec_dirs") or spec_dirs or None,
        config_path=one("config_path"),
        auto_allowed=values.get("auto_allowed", []),
        host_root=host_root,
        progress=one("progress") or "auto",
    )


def run(argv: Sequence[str]) -> tuple[str, int]:
    """What the command *argv* prints on stdout (a build writes its own output), and its
    exit status; raises :class:`_Fallback` when this module does not handle it."""
    arguments = _Arguments(argv)
    spec_dirs: list[str] = []
    output: str | None = None
    while True:
        directory = arguments.option(("--spec-dir",))
        if directory is not None:
            spec_dirs.append(directory)
            continue
        value = arguments.option(("-o", "--output"))
        if value is None:
            break
        output = _format(value, _GLOBAL_FORMATS)
    word = arguments.take()
    if word == "build":
        return "", _build(arguments, spec_dirs)
    command = _COMMANDS.get(word)
    if command == "devices":
        return _devices(arguments, spec_dirs, output), 0
    if command == "inject":
        return _inject(arguments, spec_dirs, output), 0
    raise _Fallback


def main() -> int:
    """The ``cdi`` console script."""
    try:
        text, status = run(sys.argv[1:])
    except _Fallback:
        from cdi.cli.main import main as full

        full()  # exits
        return 0
    sys.stdout.write(text)
    sys.stdout.flush()
    return status
