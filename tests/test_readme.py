"""The README's examples, run the way a newcomer pastes them, against what the README shows.

Each ``console`` block of README.md is a transcript: ``$ COMMAND`` (continued on ``> `` lines),
then the output the command prints (stdout and stderr together). The test runs the commands
of a block in order with ``sh``, in a scratch directory holding a copy of ``examples/`` (so
that ``examples/...`` and ``build/rootfs`` mean what they mean in a checkout, and nothing is
written into the real one), with this environment's ``cdi`` first on ``PATH``, and compares
the output with the README's. Where the README cannot be exact:

* a line ``...`` stands for any number of lines;
* build timings (``#4 0.032 FOO=injected``, ``#4 DONE 0.0s``) match any timing;
* ``sudo`` is dropped (the test is root; blocks that use it need runc and run as e2e);
* exit statuses are not compared, and trailing blank lines are ignored.

So README and behaviour cannot drift: when an output changes on purpose, the README's text is
what to update. The Python block is run too (each ``print(X)  # R`` must print ``repr`` R),
and ``make demo``'s script must show the README's output for every README command it runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
# Progress lines of a build carry timings that differ from run to run.
_TIMINGS = (
    (re.compile(r"^(#\d+) \d+\.\d+ "), r"\1 <time> "),
    (re.compile(r"^(#\d+ DONE) \d+\.\ds$"), r"\1 <time>s"),
)


@dataclass(frozen=True)
class Command:
    """One command of a transcript: as typed (continuation lines joined) and its output."""

    typed: str
    output: tuple[str, ...]

    @property
    def sudo(self) -> bool:
        return self.typed.startswith("sudo ")

    @property
    def script(self) -> str:
        """What ``sh`` runs: the command without ``sudo``."""
        return self.typed.removeprefix("sudo ")

    @property
    def key(self) -> str:
        """The command with its line breaks and spacing evened out, for comparing transcripts."""
        return " ".join(self.script.replace("\\\n", " ").split())


def transcript(text: str) -> list[Command]:
    """The commands of a transcript; a ``== `` line (a demo step's title) ends an output."""
    commands: list[Command] = []
    typed: list[str] | None = None
    output: list[str] = []

    def finish() -> None:
        if typed is not None:
            commands.append(Command("\n".join(typed), tuple(output)))

    for line in text.splitlines():
        if line.startswith("$ "):
            finish()
            typed, output = [line[2:]], []
        elif line.startswith("> ") and typed is not None and not output:
            typed.append(line[2:])
        elif line.startswith("== "):
            finish()
            typed, output = None, []
        elif typed is not None:
            output.append(line)
    finish()
    return commands


def blocks(language: str) -> list[str]:
    """The README's fenced blocks in *language*, in order."""
    text = README.read_text(encoding="utf-8")
    return [body for lang, body in _FENCE.findall(text) if lang == language]


def _normal(line: str) -> str:
    for pattern, replacement in _TIMINGS:
        line = pattern.sub(replacement, line)
    return line


def assert_output(command: Command, actual: str) -> None:
    """*actual* is what the README shows for *command* (``...`` matching any lines)."""
    shown = [_normal(line) for line in command.output]
    lines = [_normal(line) for line in actual.rstrip().splitlines()]
    pattern = "".join(r"(?:[^\n]*\n)*?" if s == "..." else re.escape(s) + "\n" for s in shown)
    got = "".join(line + "\n" for line in lines)
    if re.fullmatch(pattern, got) is None:
        # Shown as a diff of the README's lines against the output.
        assert "\n".join(lines) == "\n".join(shown), f"$ {command.typed}"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A scratch directory laid out like the checkout's top for the README's paths."""
    top = tmp_path / "checkout"
    shutil.copytree(ROOT / "examples", top / "examples")
    return top


def _environment(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "CDI_SPEC_DIRS"}
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    # Unbuffered, so that stdout and stderr interleave as they would on a terminal.
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", PYTHONUNBUFFERED="1", TMPDIR=str(scratch)
    )
    return env


def _sh(script: str, cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Exit status and output (stdout and stderr interleaved) of *script*."""
    result = subprocess.run(
        ["sh", "-c", script],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        check=False,
    )
    return result.returncode, result.stdout


def sh(script: str, cwd: Path, env: dict[str, str]) -> str:
    return _sh(script, cwd, env)[1]


def _console_params() -> list[object]:
    params: list[object] = []
    for index, body in enumerate(blocks("console")):
        commands = transcript(body)
        words = [w for w in commands[0].key.split() if w.isalpha()][:3]
        name = "-".join([str(index), *words])
        marks = [pytest.mark.e2e] if any(c.sudo for c in commands) else []
        params.append(pytest.param(commands, id=name, marks=marks))
    return params


def test_readme_has_console_blocks() -> None:
    assert len(blocks("console")) >= 3


@pytest.mark.parametrize("commands", _console_params())
def test_console_block(
    commands: list[Command], checkout: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if any(command.sudo for command in commands):
        request.getfixturevalue("require_runtime")
    env = _environment(tmp_path)
    for command in commands:
        assert_output(command, sh(command.script, checkout, env))


def test_python_block(checkout: Path, tmp_path: Path) -> None:
    (code,) = blocks("python")
    expected = [
        line.split("  # ", 1)[1]
        for line in code.splitlines()
        if line.startswith("print(") and "  # " in line
    ]
    assert expected
    # Each print shows the repr of its value, which is what the README's comments show.
    prelude = "import builtins, sys\nbuiltins.print = lambda v: sys.stdout.write(repr(v) + '\\n')\n"
    result = subprocess.run(
        [sys.executable, "-c", prelude + code],
        cwd=checkout,
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == expected


def test_transcript_parsing() -> None:
    text = "$ echo a |\n>   cat\na\n> not a continuation\n== step\n$ true\n"
    assert transcript(text) == [
        Command("echo a |\n  cat", ("a", "> not a continuation")),
        Command("true", ()),
    ]
    assert Command("sudo cdi a \\\n  b", ()).key == "cdi a b"


def test_output_matching() -> None:
    command = Command("x", ("first", "...", "#4 0.032 FOO=injected", "#4 DONE 0.0s"))
    assert_output(command, "first\n#4 0.511 FOO=injected\n#4 DONE 1.2s\n\n")
    assert_output(command, "first\nmore\nlines\n#4 0.511 FOO=injected\n#4 DONE 1.2s\n")
    with pytest.raises(AssertionError):
        assert_output(command, "first\n#4 0.5 FOO=other\n#4 DONE 0.0s\n")
    with pytest.raises(AssertionError):
        assert_output(Command("x", ("a",)), "a\nb\n")


@pytest.mark.e2e
@pytest.mark.usefixtures("require_runtime")
def test_demo_shows_what_the_readme_shows(checkout: Path, tmp_path: Path) -> None:
    returncode, output = _sh(f"sh examples/demo.sh {BIN}", checkout, _environment(tmp_path))
    assert returncode == 0, output
    shown = _by_key(command for body in blocks("console") for command in transcript(body))
    demo = _by_key(transcript(output))
    # Every README command that depends on a setup -- containers, the broken examples, the
    # root filesystem -- is one the demo runs, so `make demo` proves the README's setup.
    needs_setup = {
        key
        for key, commands in shown.items()
        if commands[0].sudo or "cdi-doctor" in key or "rootfs" in key
    }
    assert needs_setup
    assert needs_setup <= set(demo), sorted(needs_setup - set(demo))
    # A command shown twice (a build, then the same build from the cache) is compared with
    # the demo's runs of it in order.
    for key in set(shown) & set(demo):
        assert len(shown[key]) <= len(demo[key]), key
        for readme, run in zip(shown[key], demo[key], strict=False):
            assert_output(readme, "\n".join(run.output))


def _by_key(commands: Iterable[Command]) -> dict[str, list[Command]]:
    """Each command's occurrences, in order, by :attr:`Command.key`."""
    found: dict[str, list[Command]] = {}
    for command in commands:
        found.setdefault(command.key, []).append(command)
    return found
