"""Registering ``cdi-runtime`` with a container engine: the change to the engine's config file.

:func:`register` is pure: given the engine, the config file's current bytes (``None`` when
it does not exist) and the options, it says what the file should hold. :func:`read_config`
and :func:`write_config` read the file and replace it atomically. Each engine learns of a
runtime the way ``nvidia-ctk runtime configure`` teaches it:

* docker: ``runtimes.<name> = {"path": ...}`` (and ``default-runtime``) merged into
  ``daemon.json``, every other key kept in its place;
* podman: ``[engine.runtimes] <name> = [path]`` (and ``[engine] runtime``) in a drop-in;
* crio: ``[crio.runtime.runtimes.<name>]`` (and ``[crio.runtime] default_runtime``) in a
  drop-in;
* containerd: a runtime of the CRI plugin (whose id depends on the file's ``version``) that
  starts the runc shim with ``BinaryName`` = our path and lets ``cdi.k8s.io/`` annotations
  through to the OCI spec.

We have no TOML writer, so a TOML file is only ever added to: the new tables go at its end and
the rest stays byte-identical. Where that cannot work (the file already sets the keys, or
declares the tables explicitly) :class:`EngineConfigError` says what to edit by hand. A drop-in
this module wrote (it starts with :data:`DROP_IN_MARK`) is ours and is rewritten whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import stat
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cdi.errors import CDIError
from cdi.tomltext import (
    ABSENT,
    Setting,
    TOMLSyntaxError,
    dotted,
    lookup,
    parse,
    representable,
    tables,
    value,
)

__all__ = [
    "DEFAULT_CONFIG",
    "DROP_IN_MARK",
    "ENGINES",
    "EngineConfigError",
    "Registration",
    "RuntimeOptions",
    "read_config",
    "register",
    "write_config",
]

ENGINES: tuple[str, ...] = ("containerd", "crio", "docker", "podman")

#: The file each engine's change goes into when the caller names none.
DEFAULT_CONFIG: Mapping[str, str] = {
    "containerd": "/etc/containerd/config.toml",
    "crio": "/etc/crio/crio.conf.d/99-cdi-runtime.conf",
    "docker": "/etc/docker/daemon.json",
    "podman": "/etc/containers/containers.conf.d/99-cdi-runtime.conf",
}

#: The first line of a drop-in file this module wrote.
DROP_IN_MARK = "# Written by `cdi install-runtime`; running it again rewrites this file."

#: Above a default runtime added to a file that has the runtime already.
_DEFAULT_COMMENT = "# The default runtime, set by `cdi install-runtime --set-default`."

#: Annotations containerd's CRI plugin passes into the OCI spec for our runtime.
CONTAINER_ANNOTATIONS = ("cdi.k8s.io/*",)

_EXAMPLE_DEVICE = "cdi.k8s.io/test=vendor.com/class=name"
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_CRI_PLUGIN = {1: "cri", 2: "io.containerd.grpc.v1.cri", 3: "io.containerd.cri.v1.runtime"}


class EngineConfigError(CDIError):
    """The engine's config file cannot be read, or cannot be changed as asked."""


@dataclass(frozen=True)
class RuntimeOptions:
    """What to register: the runtime's absolute *path*, the *name* the engine knows it by,
    and whether it becomes the engine's default runtime."""

    path: str
    name: str = "cdi"
    set_default: bool = False


@dataclass(frozen=True)
class Registration:
    """The change to one engine's config *file*.

    *content* is the text the change puts into the file: the whole file, or, when *append*
    is true, what goes at the end of the existing file. *new_bytes* is the whole file after
    the change, or ``None`` when the file already holds it (nothing to write). *hints* are
    commands for people: how to reload the engine, check and use the runtime.
    """

    engine: str
    file: str
    content: str
    append: bool
    new_bytes: bytes | None
    hints: tuple[str, ...]

    @property
    def needed(self) -> bool:
        """Whether the file does not hold the change yet."""
        return self.new_bytes is not None


def register(
    engine: str, file: str, existing: bytes | None, options: RuntimeOptions
) -> Registration:
    """The change that registers the runtime of *options* in *file* of *engine*.

    *existing* is the file's content, ``None`` when there is no file. Raises
    :class:`EngineConfigError` for an unknown engine, a bad name or path, a file that does not
    parse (naming the file and position) and a change that cannot be made without rewriting
    what is there (saying what to edit).
    """
    builder = _BUILDERS.get(engine)
    if builder is None:
        raise EngineConfigError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")
    if not _NAME.fullmatch(options.name):
        raise EngineConfigError(
            f"invalid runtime name {options.name!r}: use letters, digits, '-' and '_'"
        )
    if not options.path.startswith("/"):
        raise EngineConfigError(f"the runtime path must be absolute: {options.path!r}")
    if any(ord(char) < 0x20 or char == "\x7f" for char in options.path):
        # They could end a comment line of a snippet, and no engine expects them.
        raise EngineConfigError(f"the runtime path has control characters: {options.path!r}")
    return builder(file, existing, options)


# -- docker: daemon.json ----------------------------------------------------------------------


def _docker(file: str, existing: bytes | None, options: RuntimeOptions) -> Registration:
    if options.name == "runc":
        raise EngineConfigError("runtime name 'runc' is reserved by dockerd: choose another")
    current = _json_object(file, existing)
    runtimes = current.get("runtimes", {})
    if not isinstance(runtimes, dict):
        raise EngineConfigError(f'{file}: "runtimes" is not a JSON object')
    wanted = dict(current)
    wanted["runtimes"] = {**runtimes, options.name: {"path": options.path}}
    if options.set_default:
        wanted["default-runtime"] = options.name
    hints = (
        "Reload dockerd: systemctl reload docker (or send dockerd SIGHUP)",
        "Check: docker info | grep -i runtimes",
        f"Use: docker run --rm --runtime {options.name} --annotation {_EXAMPLE_DEVICE} IMAGE CMD",
    )
    if existing is not None and wanted == current:
        return Registration("docker", file, existing.decode("utf-8-sig"), False, None, hints)
    text = json.dumps(wanted, indent=4, ensure_ascii=False) + "\n"
    return Registration("docker", file, text, False, text.encode(), hints)


def _json_object(file: str, existing: bytes | None) -> dict[str, Any]:
    if existing is None:
        return {}
    try:
        text = existing.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise EngineConfigError(f"{file}: not UTF-8 text (byte {err.start})") from None
    if not text.strip():
        return {}  # dockerd reads an empty daemon.json as no settings

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        # Writing the file back would silently drop all but the last of duplicate keys.
        seen: dict[str, Any] = {}
        for key, item in items:
            if key in seen:
                raise EngineConfigError(f"{file}: invalid JSON: duplicate key {key!r}")
            seen[key] = item
        return seen

    def constant(word: str) -> None:
        raise EngineConfigError(f"{file}: invalid JSON: {word} is not a JSON value")

    try:
        data = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except json.JSONDecodeError as err:
        raise EngineConfigError(
            f"{file}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}"
        ) from None
    if not isinstance(data, dict):
        raise EngineConfigError(f"{file}: the top level is not a JSON object")
    return data


# -- the TOML engines ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """What a TOML engine wants: *settings* (the runtime's entry, and the default with
    ``set_default``), the key path whose presence means the runtime is configured already
    (*entry*), *extra* settings that go only into a new entry, the comment above them and
    what a new file starts with (containerd: its version)."""

    settings: tuple[Setting, ...]
    entry: tuple[str, ...]
    extra: tuple[Setting, ...] = ()
    comment: tuple[str, ...] = ()
    preamble: str = ""


_Planner = Callable[[str, dict[str, Any] | None, RuntimeOptions], _Plan]


def _toml_engine(
    engine: str,
    plan_for: _Planner,
    hints_for: Callable[[RuntimeOptions], tuple[str, ...]],
    *,
    drop_in: bool,
) -> Callable[[str, bytes | None, RuntimeOptions], Registration]:
    def build(file: str, existing: bytes | None, options: RuntimeOptions) -> Registration:
        hints = hints_for(options)
        blank = existing is None or not existing.strip()
        current = None if existing is None or blank else _toml_document(file, existing)
        plan = plan_for(file, current, options)
        ours = drop_in and existing is not None and existing.startswith(DROP_IN_MARK.encode())
        if existing is not None and current is not None and not ours:
            text, new_bytes = _appended(file, existing, current, plan)
            return Registration(engine, file, text, True, new_bytes, hints)
        text = _whole(plan, drop_in=drop_in)
        new_bytes = None if text.encode() == existing else text.encode()
        return Registration(engine, file, text, False, new_bytes, hints)

    return build


def _whole(plan: _Plan, *, drop_in: bool) -> str:
    """The file as this module writes it on its own."""
    comment = _comment([DROP_IN_MARK, *plan.comment] if drop_in else plan.comment)
    blocks = (comment, plan.preamble, tables(plan.settings + plan.extra))
    return "\n".join(block for block in blocks if block)


def _appended(
    file: str, existing: bytes, current: dict[str, Any], plan: _Plan
) -> tuple[str, bytes | None]:
    """What goes at the end of *existing* (the settings it lacks), and the file after that;
    ``None`` for the file when it lacks nothing."""
    missing = [s for s in plan.settings if lookup(current, s.path) != s.value]
    if not missing:
        return tables(plan.settings), None
    entry_missing = any(s.path[: len(plan.entry)] == plan.entry for s in missing)
    if entry_missing and lookup(current, plan.entry) is not ABSENT:
        raise _hand_edit(
            f"{file} already configures {dotted(plan.entry)} differently", plan.settings
        )
    for setting in missing:
        found = lookup(current, setting.path)
        if found is not ABSENT:
            shown = value(found) if representable(found) else "a table"
            raise _hand_edit(f"{file} already sets {dotted(setting.path)} = {shown}", [setting])
    comment = plan.comment if entry_missing else (_DEFAULT_COMMENT,)
    text = _comment(comment) + tables([*missing, *(plan.extra if entry_missing else ())])
    if existing.endswith(b"\n\n"):
        separator = b""
    else:
        separator = b"\n" if existing.endswith(b"\n") else b"\n\n"
    new_bytes = existing + separator + text.encode()
    # Appending is only right where the result reads as intended: a table the file declares
    # explicitly cannot be declared again (TOML forbids it), an inline table cannot grow.
    try:
        after = parse(new_bytes.decode())
    except TOMLSyntaxError:
        after = {}
    if any(lookup(after, s.path) != s.value for s in plan.settings):
        reason = _why_not_appendable(existing.decode(), [s.table for s in missing])
        raise _hand_edit(f"{file} cannot take these settings at its end ({reason})", missing)
    return text, new_bytes


def _why_not_appendable(existing: str, candidates: Sequence[tuple[str, ...]]) -> str:
    """Why a header for one of the *candidates* cannot open at the end of *existing*."""
    for table in dict.fromkeys(candidates):
        if _opens(existing, table):
            continue
        for depth in range(1, len(table)):
            # A table above that cannot take a new table below is a value or inline table.
            if not _opens(existing, (*table[:depth], "cdi-install-runtime-probe")):
                return f"{dotted(table[:depth])} is an inline table or a value there"
        return f"it declares [{dotted(table)}] already"
    return "TOML does not allow it"


def _opens(existing: str, table: tuple[str, ...]) -> bool:
    """Whether a ``[table]`` header may follow *existing*."""
    try:
        parse(existing + f"\n[{dotted(table)}]\n")
    except TOMLSyntaxError:
        return False
    return True


def _hand_edit(why: str, settings: Sequence[Setting]) -> EngineConfigError:
    return EngineConfigError(
        f"{why}; edit it by hand so that it holds (nothing was written):\n"
        + tables(settings).rstrip("\n")
    )


def _toml_document(file: str, existing: bytes) -> dict[str, Any]:
    try:
        return parse(existing.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise EngineConfigError(f"{file}: not UTF-8 text (byte {err.start})") from None
    except TOMLSyntaxError as err:
        where = file if err.line is None else f"{file}:{err.line}:{err.column}"
        raise EngineConfigError(f"{where}: invalid TOML: {err.message}") from None


def _comment(lines: Sequence[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _wrapped(text: str) -> list[str]:
    return textwrap.wrap(text, 88, initial_indent="# ", subsequent_indent="# ")


# -- each TOML engine's settings ---------------------------------------------------------------


def _podman(file: str, current: dict[str, Any] | None, options: RuntimeOptions) -> _Plan:
    entry = Setting(("engine", "runtimes"), options.name, [options.path])
    default = Setting(("engine",), "runtime", options.name)
    # [engine] before [engine.runtimes]: a new file then reads top-down.
    settings = (default, entry) if options.set_default else (entry,)
    comment = (
        f"# cdi-runtime for podman: podman --runtime {options.name} run ...",
        "# An absolute path needs no configuration at all:",
        f"#   podman --runtime {shlex.quote(options.path)} run ...",
        "# podman passes --log and --log-format=json to a runtime only when its name (for an",
        "# absolute path: the file name) is in [engine] runtime_supports_json; otherwise",
        "# cdi-runtime's errors reach podman on stderr.",
    )
    return _Plan(settings, entry.path, comment=comment)


def _podman_hints(options: RuntimeOptions) -> tuple[str, ...]:
    return (
        f"Use: podman --runtime {options.name} run --rm --annotation {_EXAMPLE_DEVICE} IMAGE CMD",
        f"Without any configuration: podman --runtime {shlex.quote(options.path)} run ...",
        f"Check: podman --runtime {options.name} info --format "
        "'{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Path}}'",
    )


def _crio(file: str, current: dict[str, Any] | None, options: RuntimeOptions) -> _Plan:
    table = ("crio", "runtime", "runtimes", options.name)
    settings = [
        Setting(table, "runtime_path", options.path),
        Setting(table, "runtime_type", "oci"),
    ]
    if options.set_default:
        settings.insert(0, Setting(("crio", "runtime"), "default_runtime", options.name))
    comment = (
        f'# cdi-runtime for CRI-O: runtime handler "{options.name}" (a RuntimeClass handler).',
    )
    return _Plan(tuple(settings), table, comment=comment)


def _crio_hints(options: RuntimeOptions) -> tuple[str, ...]:
    return (
        "Restart CRI-O: systemctl restart crio",
        f"Check: crio status config | grep -A3 'runtimes.{options.name}]'",
        f"Use: a Kubernetes RuntimeClass with handler: {options.name}, or "
        f"crictl run --runtime {options.name} CONTAINER.json POD.json",
    )


def _containerd(file: str, current: dict[str, Any] | None, options: RuntimeOptions) -> _Plan:
    version = 2 if current is None else current.get("version", 1)
    plugin = _CRI_PLUGIN.get(version) if type(version) is int else None
    if plugin is None:
        raise EngineConfigError(
            f"{file}: unsupported config version {version!r} (containerd knows 1, 2 and 3)"
        )
    base = ("plugins", plugin, "containerd")
    table = (*base, "runtimes", options.name)
    settings = [
        Setting(table, "runtime_type", "io.containerd.runc.v2"),
        Setting(table, "container_annotations", list(CONTAINER_ANNOTATIONS)),
        Setting((*table, "options"), "BinaryName", options.path),
    ]
    if options.set_default:
        settings.insert(0, Setting(base, "default_runtime_name", options.name))
    comment = [
        f'# cdi-runtime for containerd\'s CRI plugin: runtime handler "{options.name}" runs the',
        "# runc shim with cdi-runtime in place of runc; container_annotations lets the CDI",
        "# annotations of a pod reach the OCI spec.",
    ]
    # The handler should behave as runc does here (SystemdCgroup above all), so it takes
    # runc's options, as nvidia-ctk does.
    runc = lookup(current or {}, (*base, "runtimes", "runc", "options"))
    extra = []
    if isinstance(runc, Mapping):
        copied = [key for key, value in runc.items() if key != "BinaryName"]
        extra = [
            Setting((*table, "options"), key, runc[key])
            for key in copied
            if representable(runc[key])
        ]
        if extra:
            names = ", ".join(setting.key for setting in extra)
            comment += _wrapped(f"Options copied from runtime runc: {names}.")
        skipped = [key for key in copied if not representable(runc[key])]
        if skipped:
            comment += _wrapped(f"Not copied from runc (copy by hand): {', '.join(skipped)}.")
    preamble = f"version = {version}\n" if current is None else ""
    return _Plan(tuple(settings), table, tuple(extra), tuple(comment), preamble)


def _containerd_hints(options: RuntimeOptions) -> tuple[str, ...]:
    return (
        "Restart containerd: systemctl restart containerd",
        f"Check: containerd config dump | grep -A6 'runtimes.{options.name}]'",
        f"Use: a Kubernetes RuntimeClass with handler: {options.name}, or "
        f"crictl run --runtime {options.name} CONTAINER.json POD.json",
        f"Without CRI or any configuration (ctr): ctr run --runc-binary "
        f"{shlex.quote(options.path)} --annotation {_EXAMPLE_DEVICE} IMAGE ID CMD",
    )


_BUILDERS: Mapping[str, Callable[[str, bytes | None, RuntimeOptions], Registration]] = {
    "containerd": _toml_engine("containerd", _containerd, _containerd_hints, drop_in=False),
    "crio": _toml_engine("crio", _crio, _crio_hints, drop_in=True),
    "docker": _docker,
    "podman": _toml_engine("podman", _podman, _podman_hints, drop_in=True),
}


def write_config(path: str, data: bytes) -> None:
    """Replace the file at *path* (a link: its target) with *data* atomically, keeping its
    mode and owner; a new file gets mode 0644 and the directories it needs."""
    from cdi.atomicfile import replacing

    target = os.path.realpath(path)
    try:
        info: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        info = None
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
    with replacing(target, 0o644 if info is None else stat.S_IMODE(info.st_mode)) as handle:
        handle.write(data)
        if info is not None and (info.st_uid, info.st_gid) != (os.geteuid(), os.getegid()):
            # Only root may give a file away; anyone else ends up owning what they write,
            # as with any editor.
            with contextlib.suppress(PermissionError):
                os.fchown(handle.fileno(), info.st_uid, info.st_gid)


def read_config(path: str) -> bytes | None:
    """The bytes of the engine's config file at *path*; ``None`` when there is none."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
