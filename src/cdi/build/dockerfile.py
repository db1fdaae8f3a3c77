"""Parsing a Dockerfile into stages and typed instructions.

The syntax (line continuations, JSON forms, heredocs, ``# escape=``) is parsed by BuildKit's
own parser, the PyPI ``dockerfile`` package; this module adds what BuildKit's ``instructions``
package does on top: parser directives (``# syntax=``), stages, the flags each instruction
takes, ``RUN --device`` (:func:`parse_device`, BuildKit's ``ParseDevice``), and the channel
gate that allows devices only in the labs frontend. Error texts are BuildKit's, wrapped as
``dockerfile parse error on line N: ...``.

Nothing here expands variables: words are kept as written, and the executor expands them with
the environment of the step (:mod:`cdi.build.expand`). ``--device`` values are never expanded,
as in BuildKit.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Sequence

from cdi.build.errors import BuildError, DockerfileError, parse_error
from cdi.build.gocsv import CSVError, first_record
from cdi.build.mutable import field, mutable_record
from cdi.spec.record import record

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import Any

#: A parser directive: ``# key=value`` at the very top of the file.
#: (Patterns are compiled by ``re`` on first use, not when a command that may never parse a
#: Dockerfile imports this module.)
_DIRECTIVE = r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$"
_STAGE_NAME = r"^[a-z][a-z0-9-_.]*$"

#: Instructions that may only appear inside a stage, and the executor supports.
SUPPORTED = frozenset(
    {
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "LABEL",
        "MAINTAINER",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    }
)
#: BuildKit instructions this executor refuses, with why.
UNSUPPORTED = {
    "HEALTHCHECK": "HEALTHCHECK is not supported by cdi build",
    "ONBUILD": "ONBUILD is not supported by cdi build",
}

LABS_DEVICE_ERROR = "device feature is only supported in Dockerfile frontend 1.14.0-labs or later"

_bk: Any = None


def _parser() -> Any:
    """BuildKit's parser (a compiled Go extension without type information; :class:`RawCommand`
    is its typed view), loaded by the first parse: loading it starts a Go runtime."""
    global _bk  # noqa: PLW0603 -- the module, once loaded
    if _bk is None:
        _bk = importlib.import_module("dockerfile")
    return _bk


@record
class RawCommand:
    """One instruction as BuildKit's parser returns it."""

    cmd: str
    json: bool
    original: str
    start_line: int
    end_line: int
    flags: tuple[str, ...]
    value: tuple[str, ...]
    #: (name, content) of each heredoc
    heredocs: tuple[tuple[str, str], ...]

    @classmethod
    def convert(cls, command: Any) -> RawCommand:
        return cls(
            cmd=str(command.cmd),
            json=bool(command.json),
            original=str(command.original),
            start_line=int(command.start_line),
            end_line=int(command.end_line),
            flags=tuple(str(f) for f in command.flags),
            value=tuple(str(v) for v in command.value),
            heredocs=tuple((str(h.name), str(h.content)) for h in command.heredocs),
        )


def _parse_string(source: str) -> list[RawCommand]:
    return [RawCommand.convert(command) for command in _parser().parse_string(source)]


# --- flags ------------------------------------------------------------------------------------

_BOOL, _STRING, _STRINGS = "bool", "string", "strings"

#: instruction -> flag -> kind; flags BuildKit knows but the executor refuses are in _REFUSED.
_FLAGS: dict[str, dict[str, str]] = {
    "FROM": {"platform": _STRING},
    "RUN": {"mount": _STRINGS, "network": _STRING, "security": _STRING, "device": _STRINGS},
    "COPY": {
        "from": _STRING,
        "chown": _STRING,
        "chmod": _STRING,
        "link": _BOOL,
        "parents": _BOOL,
        "exclude": _STRINGS,
    },
    "ADD": {
        "chown": _STRING,
        "chmod": _STRING,
        "link": _BOOL,
        "keep-git-dir": _BOOL,
        "checksum": _STRING,
        "exclude": _STRINGS,
        "unpack": _BOOL,
    },
}
_REFUSED: dict[tuple[str, str], str] = {
    ("RUN", "mount"): "mounts are not implemented",
    ("RUN", "network"): "steps always run without a network",
    ("RUN", "security"): "steps never run privileged",
    ("COPY", "parents"): "it is not implemented",
    ("COPY", "exclude"): "it is not implemented",
    ("ADD", "keep-git-dir"): "ADD from git is not supported",
    ("ADD", "checksum"): "ADD from a URL is not supported",
    ("ADD", "exclude"): "it is not implemented",
    ("ADD", "unpack"): "it is not implemented",
}


def _parse_bool(value: str) -> bool | None:
    """Go's ``strconv.ParseBool``; ``None`` when *value* is not a boolean."""
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


def _parse_flags(
    instruction: str, raw_flags: Sequence[str], line: int, end_line: int
) -> dict[str, list[str]]:
    """``--name=value`` flags of one instruction (BuildKit's BFlags), checked and refused."""
    known = _FLAGS.get(instruction, {})
    values: dict[str, list[str]] = {}
    for raw in raw_flags:
        if raw == "--":
            break
        name, has_value, value = raw[2:].partition("=")
        kind = known.get(name)
        if kind is None:
            raise parse_error(f"unknown flag: {name}", line, end_line)
        if name in values and kind != _STRINGS:
            raise parse_error(f"duplicate flag specified: {name}", line, end_line)
        refused = _REFUSED.get((instruction, name))
        if refused is not None:
            raise parse_error(
                f"{instruction} --{name} is not supported by cdi build: {refused}", line, end_line
            )
        if kind == _BOOL:
            if has_value and value == "":
                raise parse_error(f"missing a value on flag: {name}", line, end_line)
            lowered = value.lower()
            if lowered not in ("", "true", "false"):
                raise parse_error(
                    f"expecting boolean value for flag {name}, not: {value}", line, end_line
                )
            values.setdefault(name, []).append("false" if lowered == "false" else "true")
        else:
            if not has_value:
                raise parse_error(f"missing a value on flag: {name}", line, end_line)
            values.setdefault(name, []).append(value)
    return values


# --- RUN --device -------------------------------------------------------------------------------


@record
class DeviceFlag:
    """One ``RUN --device`` value (BuildKit's ``instructions.Device``)."""

    name: str
    required: bool = False


def _suggest(value: str, options: Sequence[str]) -> str | None:
    """The closest option to *value* when it is close enough to be a likely typo."""
    best, best_distance = None, len(value)
    for option in options:
        distance = _levenshtein(value.lower(), option.lower())
        if distance < best_distance:
            best, best_distance = option, distance
    if best is not None and best_distance <= max(1, len(value) // 3):
        return best
    return None


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def parse_device(value: str) -> DeviceFlag:
    """Parse one ``--device`` value as BuildKit's ``ParseDevice`` does.

    Fields are comma separated: the first bare field (or ``name=``) is the device name, kept
    verbatim -- so ``vendor.com/class=dev`` is a name, not a key -- and ``required`` or
    ``required=<bool>`` makes it required (the default is optional). Raises ``ValueError`` with
    BuildKit's message. As in BuildKit, a value without a name (``required``, ``,required``)
    is a device named ``""``, which the device policy then finds nowhere.
    """
    name = ""
    required = False
    try:
        fields = first_record(value)
    except CSVError as exc:
        raise ValueError(f"failed to parse csv devices: {exc}") from None
    for field_text in fields:
        key, has_value, field_value = field_text.partition("=")
        key = key.lower()
        if not has_value:
            if key == "required":
                required = True
            elif not name:
                name = field_text
            else:
                raise ValueError(f"invalid field '{field_text}' must be a key=value pair")
            continue
        if key == "name":
            if name:
                raise ValueError(f"device name already set to {name}")
            name = field_value
        elif key == "required":
            parsed = _parse_bool(field_value)
            if parsed is None:
                raise ValueError(f"invalid value for required: {field_value}")
            required = parsed
        elif not name:
            name = field_text
        else:
            message = f"unexpected key '{key}' in '{field_text}'"
            suggestion = _suggest(key, ("name", "required"))
            if suggestion is not None:
                message += f" (did you mean {suggestion}?)"
            raise ValueError(message)
    return DeviceFlag(name=name, required=required)


# --- the syntax channel -------------------------------------------------------------------------

_FRONTEND_IMAGES = ("docker/dockerfile", "docker/dockerfile-upstream")
_VERSION_TAG = r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?$"


@record
class Syntax:
    """The frontend a ``# syntax=`` directive selects (``None`` reference: the built-in one)."""

    reference: str | None

    @property
    def tag(self) -> str:
        if self.reference is None:
            return ""
        ref = self.reference.split("@", 1)[0]
        last = ref.rsplit("/", 1)[-1]
        return last.partition(":")[2] or "latest"

    @property
    def is_dockerfile_frontend(self) -> bool:
        if self.reference is None:
            return True
        ref = self.reference.split("@", 1)[0]
        repo = ref.rpartition(":")[0] if ":" in ref.rsplit("/", 1)[-1] else ref
        for prefix in ("docker.io/", "index.docker.io/"):
            repo = repo.removeprefix(prefix)
        return repo in _FRONTEND_IMAGES

    def supports_devices(self) -> bool:
        """Whether this frontend has ``RUN --device``: a labs channel of version >= 1.14.0.

        ``1-labs``, ``labs``, ``master-labs`` are the newest labs of their line; a numbered
        ``X.Y[.Z]-labs`` must be at least 1.14(.0). The built-in and stable frontends have
        no devices (BuildKit builds them without the ``dfrundevice`` tag).
        """
        if self.reference is None or not self.is_dockerfile_frontend:
            return False
        tag = self.tag
        if tag == "labs":
            return True
        if not tag.endswith("-labs"):
            return False
        version = tag[: -len("-labs")]
        match = re.match(_VERSION_TAG, version)
        if match is None:
            return True  # master-labs, latest-labs, ...: the tip of the labs channel
        major = int(match.group(1))
        if match.group(2) is None:
            return major >= 1
        minor = int(match.group(2))
        patch = int(match.group(3) or 0)
        return (major, minor, patch) >= (1, 14, 0)


# --- instructions -------------------------------------------------------------------------------


@record
class Heredoc:
    name: str
    content: str
    #: ``<<"EOF"`` / ``<<'EOF'``: the content is not expanded.
    quoted: bool = False
    #: ``<<-EOF``: leading tabs are stripped (the parser already did it).
    chomp: bool = False


class Instruction:
    """What every instruction has: its keyword, original text and lines.

    The base of the instruction records, never made itself. Each record repeats these four
    fields first (a record class cannot extend another, and ``dataclass`` costs a new process
    about a millisecond per class)."""

    keyword: str
    original: str
    line: int
    end_line: int


@record
class FromInstruction(Instruction):
    keyword: str
    original: str
    line: int
    end_line: int
    base: str
    stage_name: str | None
    platform: str | None


@record
class ArgInstruction(Instruction):
    keyword: str
    original: str
    line: int
    end_line: int
    #: (name, default as written or None)
    args: tuple[tuple[str, str | None], ...]


@record
class KeyValueInstruction(Instruction):
    """ENV and LABEL: pairs as written (expanded at dispatch)."""

    keyword: str
    original: str
    line: int
    end_line: int
    pairs: tuple[tuple[str, str], ...]


@record
class WordInstruction(Instruction):
    """WORKDIR, USER, STOPSIGNAL, MAINTAINER: one word as written."""

    keyword: str
    original: str
    line: int
    end_line: int
    word: str


@record
class ListInstruction(Instruction):
    """EXPOSE and VOLUME: words as written."""

    keyword: str
    original: str
    line: int
    end_line: int
    words: tuple[str, ...]


@record
class CommandInstruction(Instruction):
    """RUN, CMD, ENTRYPOINT, SHELL: an exec-form list, or one shell-form string."""

    keyword: str
    original: str
    line: int
    end_line: int
    args: tuple[str, ...]
    #: True for the JSON (exec) form: ``args`` is used as is; False: ``args`` is one string.
    exec_form: bool
    heredocs: tuple[Heredoc, ...] = ()
    devices: tuple[DeviceFlag, ...] = ()


@record
class CopyInstruction(Instruction):
    """COPY and ADD."""

    keyword: str
    original: str
    line: int
    end_line: int
    sources: tuple[str, ...]
    dest: str
    from_: str | None
    chown: str | None
    chmod: str | None
    link: bool
    heredocs: tuple[Heredoc, ...] = ()

    @property
    def is_add(self) -> bool:
        return self.keyword == "ADD"


@mutable_record
class Stage:
    """One ``FROM`` and the instructions up to the next."""

    index: int
    from_: FromInstruction
    instructions: list[Instruction] = field(default_factory=list)

    @property
    def name(self) -> str | None:
        return self.from_.stage_name


@mutable_record
class Dockerfile:
    """A parsed Dockerfile."""

    source: str
    directives: dict[str, str]
    escape: str
    global_args: list[ArgInstruction]
    stages: list[Stage]

    @property
    def syntax(self) -> Syntax:
        return Syntax(self.directives.get("syntax"))

    def stage_by_name(self, name: str) -> Stage | None:
        lowered = name.lower()
        for stage in self.stages:
            if stage.name == lowered:
                return stage
        return None

    def lines(self) -> list[str]:
        return self.source.splitlines()


def parse_directives(source: str) -> dict[str, str]:
    """The parser directives at the top of *source* (keys lower-cased; the first one wins).

    As BuildKit's parser: directives are comment lines ``# key=value`` before anything else;
    the first line that is not one (a blank line, another comment, an instruction) ends them.
    """
    directives: dict[str, str] = {}
    for line in source.splitlines():
        match = re.match(_DIRECTIVE, line)
        if match is None:
            break
        directives.setdefault(match.group(1).lower(), match.group(2))
    return directives


def _heredocs(command: RawCommand) -> tuple[Heredoc, ...]:
    result = []
    # The parser gives name and content; quoting and chomping show in the header as written.
    headers = re.findall(r"<<(-?)(\"|')?([A-Za-z0-9_.-]+)\2?", command.original)
    for doc_name, content in command.heredocs:
        chomp, quoted = False, False
        for dash, quote, name in headers:
            if name == doc_name:
                chomp, quoted = bool(dash), bool(quote)
                break
        result.append(Heredoc(name=doc_name, content=content, quoted=quoted, chomp=chomp))
    return tuple(result)


def _locate_parse_error(source: str, message: str) -> int | None:
    """The line the parser's error is about: the shortest prefix that fails the same way."""
    lines = source.splitlines(keepends=True)
    parser = _parser()
    for count in range(1, len(lines) + 1):
        try:
            parser.parse_string("".join(lines[:count]))
        except parser.GoParseError as exc:
            if str(exc) == message:
                return count
    return None


def _raw_commands(source: str) -> list[RawCommand]:
    parser = _parser()
    try:
        return _parse_string(source)
    except parser.GoParseError as exc:
        message = str(exc)
        if message == "file with no instructions":
            raise DockerfileError(
                "the Dockerfile cannot be empty"
                if not source.strip()
                else "dockerfile parse error: file with no instructions"
            ) from None
        raise parse_error(message, _locate_parse_error(source, message)) from None


def _key_value_pairs(
    keyword: str, values: Sequence[str], line: int, end: int
) -> list[tuple[str, str]]:
    if len(values) % 2:
        raise parse_error(f"{keyword} must have two arguments", line, end)
    pairs = [(values[i], values[i + 1]) for i in range(0, len(values), 2)]
    for key, _ in pairs:
        if not key:
            raise parse_error(f"{keyword} names can not be blank", line, end)
    return pairs


def _from(command: RawCommand, flags: dict[str, list[str]], line: int, end: int) -> FromInstruction:
    values = list(command.value)
    stage_name = None
    if len(values) == 3 and values[1].lower() == "as":
        stage_name = values[2].lower()
        if not re.match(_STAGE_NAME, stage_name):
            raise parse_error(
                f'invalid name for build stage: "{values[2]}", '
                "name can't start with a number or contain symbols",
                line,
                end,
            )
    elif len(values) != 1:
        raise parse_error("FROM requires either one or three arguments", line, end)
    platform = flags.get("platform", [None])[-1]
    return FromInstruction(
        keyword="FROM",
        original=command.original,
        line=line,
        end_line=end,
        base=values[0],
        stage_name=stage_name,
        platform=platform,
    )


def _args(command: RawCommand, line: int, end: int) -> ArgInstruction:
    if not command.value:
        raise parse_error("ARG requires at least one argument", line, end)
    args = []
    for word in command.value:
        name, has_default, default = word.partition("=")
        if not name:
            raise parse_error("ARG names can not be blank", line, end)
        args.append((name, default if has_default else None))
    return ArgInstruction(
        keyword="ARG", original=command.original, line=line, end_line=end, args=tuple(args)
    )


def _run(
    command: RawCommand, keyword: str, flags: dict[str, list[str]], line: int, end: int
) -> CommandInstruction:
    devices = []
    for value in flags.get("device", []):
        try:
            devices.append(parse_device(value))
        except ValueError as exc:
            raise parse_error(str(exc), line, end) from None
    if keyword in ("RUN", "SHELL") and not command.value:
        raise parse_error(f"{keyword} requires at least one argument", line, end)
    if keyword == "SHELL" and not command.json:
        raise parse_error("SHELL requires the arguments to be in JSON form", line, end)
    heredocs = _heredocs(command) if keyword == "RUN" else ()
    return CommandInstruction(
        keyword=keyword,
        original=command.original,
        line=line,
        end_line=end,
        args=tuple(command.value),
        exec_form=command.json,
        heredocs=heredocs,
        devices=tuple(devices),
    )


def _copy(
    command: RawCommand, keyword: str, flags: dict[str, list[str]], line: int, end: int
) -> CopyInstruction:
    values = list(command.value)
    if len(values) < 2:
        raise parse_error(
            f"{keyword} requires at least two arguments, but only one was provided. "
            "Destination could not be determined.",
            line,
            end,
        )
    return CopyInstruction(
        keyword=keyword,
        original=command.original,
        line=line,
        end_line=end,
        sources=tuple(values[:-1]),
        dest=values[-1],
        from_=flags.get("from", [None])[-1],
        chown=flags.get("chown", [None])[-1],
        chmod=flags.get("chmod", [None])[-1],
        link=flags.get("link", ["false"])[-1] == "true",
        heredocs=_heredocs(command),
    )


def _instruction(command: RawCommand) -> Instruction:
    keyword = command.cmd.upper()
    line, end = command.start_line, command.end_line
    if keyword in UNSUPPORTED:
        raise parse_error(UNSUPPORTED[keyword], line, end)
    if keyword not in SUPPORTED:
        message = f"unknown instruction: {command.cmd}"
        suggestion = _suggest(keyword, sorted(SUPPORTED | set(UNSUPPORTED)))
        if suggestion is not None:
            message += f" (did you mean {suggestion.lower()}?)"
        raise parse_error(message, line, end)
    flags = _parse_flags(keyword, command.flags, line, end)
    original, values = command.original, command.value
    if keyword == "FROM":
        return _from(command, flags, line, end)
    if keyword == "ARG":
        return _args(command, line, end)
    if keyword in ("ENV", "LABEL"):
        pairs = _key_value_pairs(keyword, values, line, end)
        return KeyValueInstruction(keyword, original, line, end, pairs=tuple(pairs))
    if keyword in ("WORKDIR", "USER", "STOPSIGNAL", "MAINTAINER"):
        if len(values) != 1:
            raise parse_error(f"{keyword} requires exactly one argument", line, end)
        return WordInstruction(keyword, original, line, end, word=values[0])
    if keyword in ("EXPOSE", "VOLUME"):
        words = tuple(v for v in values if v)
        if not words:
            raise parse_error(f"{keyword} requires at least one argument", line, end)
        return ListInstruction(keyword, original, line, end, words=words)
    if keyword in ("RUN", "CMD", "ENTRYPOINT", "SHELL"):
        return _run(command, keyword, flags, line, end)
    return _copy(command, keyword, flags, line, end)


def parse(source: str) -> Dockerfile:
    """Parse Dockerfile text. Raises :class:`DockerfileError` with BuildKit's messages."""
    directives = parse_directives(source)
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileError(f"invalid escape token '{escape}' does not match ` or \\")
    global_args: list[ArgInstruction] = []
    stages: list[Stage] = []
    for command in _raw_commands(source):
        instruction = _instruction(command)
        if isinstance(instruction, FromInstruction):
            stages.append(Stage(index=len(stages), from_=instruction))
        elif stages:
            stages[-1].instructions.append(instruction)
        elif isinstance(instruction, ArgInstruction):
            global_args.append(instruction)
        else:
            raise parse_error("no build stage in current context", instruction.line)
    if not stages:
        raise DockerfileError("dockerfile parse error: no build stage in current context")
    seen: dict[str, int] = {}
    for stage in stages:
        if stage.name is not None:
            if stage.name in seen:
                raise parse_error(f'duplicate stage name "{stage.name}"', stage.from_.line)
            seen[stage.name] = stage.index
    return Dockerfile(
        source=source,
        directives=directives,
        escape=escape,
        global_args=global_args,
        stages=stages,
    )


def device_instructions(stages: Iterable[Stage]) -> list[CommandInstruction]:
    """The RUN instructions of *stages* that ask for devices, in order."""
    return [
        instruction
        for stage in stages
        for instruction in stage.instructions
        if isinstance(instruction, CommandInstruction) and instruction.devices
    ]


def check_device_channel(syntax: Syntax, stages: Iterable[Stage]) -> None:
    """Refuse ``RUN --device`` unless the syntax is the labs channel (>= 1.14.0-labs).

    BuildKit raises this while it converts the stages it builds, so only *stages* (the ones
    the target needs) are checked.
    """
    if syntax.supports_devices():
        return
    found = device_instructions(stages)
    if found:
        first = found[0]
        raise BuildError(LABS_DEVICE_ERROR, line=first.line, end_line=first.end_line)
