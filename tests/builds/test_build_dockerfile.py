"""Dockerfile parsing: RUN --device (BuildKit's ParseDevice), the labs gate, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from cdi.build import BuildError, parse, parse_device
from cdi.build.dockerfile import (
    LABS_DEVICE_ERROR,
    ArgInstruction,
    CommandInstruction,
    CopyInstruction,
    DeviceFlag,
    KeyValueInstruction,
    Syntax,
    check_device_channel,
    device_instructions,
    parse_directives,
)
from tables import cases


@cases("build/run_device.yaml")
def test_run_device_vectors(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(ValueError) as raised:
            parse_device(case["input"])
        assert str(raised.value) == case["error"]
    else:
        expected = case["device"]
        assert parse_device(case["input"]) == DeviceFlag(expected["name"], expected["required"])


@cases("build/dockerfile_errors.yaml")
def test_dockerfile_error_vectors(case: dict[str, Any]) -> None:
    with pytest.raises(BuildError) as raised:
        dockerfile = parse(case["dockerfile"])
        check_device_channel(dockerfile.syntax, dockerfile.stages)
    assert str(raised.value) == case["error"]
    assert raised.value.line == case.get("line")


@cases("build/syntax_channels.yaml")
def test_syntax_channel_vectors(case: dict[str, Any]) -> None:
    assert Syntax(case["syntax"]).supports_devices() is case["devices"]


def test_labs_syntax_allows_devices_and_keeps_them_unexpanded() -> None:
    dockerfile = parse(
        "# syntax=docker/dockerfile:1-labs\n"
        "FROM busybox\n"
        "ARG DEV=x\n"
        "RUN --device=$DEV --device=vendor1.com/device=foo,required env\n"
    )
    check_device_channel(dockerfile.syntax, dockerfile.stages)
    (run,) = device_instructions(dockerfile.stages)
    assert run.devices == (
        DeviceFlag("$DEV", required=False),
        DeviceFlag("vendor1.com/device=foo", required=True),
    )
    assert run.args == ("env",)
    assert run.line == 4


def test_labs_gate_checks_only_given_stages() -> None:
    dockerfile = parse(
        "FROM busybox AS unused\nRUN --device=vendor1.com/device true\nFROM busybox\nRUN true\n"
    )
    check_device_channel(dockerfile.syntax, dockerfile.stages[1:])
    with pytest.raises(BuildError, match=LABS_DEVICE_ERROR):
        check_device_channel(dockerfile.syntax, dockerfile.stages)


def test_directives_stop_at_first_other_line() -> None:
    text = "# syntax=docker/dockerfile:1-labs\n#Escape = `\n# comment\n# check=skip=all\nFROM a\n"
    assert parse_directives(text) == {"syntax": "docker/dockerfile:1-labs", "escape": "`"}


def test_stages_names_and_instructions() -> None:
    dockerfile = parse(
        "ARG BASE=busybox\n"
        "FROM ${BASE} AS Build\n"
        "ENV A=1 B='2 3'\n"
        "COPY --chown=1:2 --chmod=644 --link a b /dst/\n"
        "from scratch\n"
        'copy --from=build ["/a b", "/c"]\n'
        'CMD ["sh"]\n'
    )
    assert [arg.args for arg in dockerfile.global_args] == [(("BASE", "busybox"),)]
    first, second = dockerfile.stages
    assert first.name == "build" and first.from_.base == "${BASE}"
    assert second.name is None and second.from_.base == "scratch"
    env, copy = first.instructions
    assert isinstance(env, KeyValueInstruction)
    assert env.pairs == (("A", "1"), ("B", "'2 3'"))
    assert isinstance(copy, CopyInstruction)
    assert (copy.sources, copy.dest, copy.chown, copy.chmod, copy.link) == (
        ("a", "b"),
        "/dst/",
        "1:2",
        "644",
        True,
    )
    copy2, cmd = second.instructions
    assert isinstance(copy2, CopyInstruction) and copy2.keyword == "COPY"
    assert (copy2.from_, copy2.sources, copy2.dest) == ("build", ("/a b",), "/c")
    assert isinstance(cmd, CommandInstruction) and cmd.exec_form and cmd.args == ("sh",)
    assert dockerfile.stage_by_name("BUILD") is first


def test_arg_forms() -> None:
    dockerfile = parse('FROM a\nARG A B=2 C="x y"\n')
    (arg,) = dockerfile.stages[0].instructions
    assert isinstance(arg, ArgInstruction)
    assert arg.args == (("A", None), ("B", "2"), ("C", '"x y"'))


def test_heredocs_are_kept() -> None:
    dockerfile = parse("FROM a\nRUN <<EOF\necho hi\nEOF\nCOPY <<'EOT' /f\n$X\nEOT\n")
    run, copy = dockerfile.stages[0].instructions
    assert isinstance(run, CommandInstruction) and isinstance(copy, CopyInstruction)
    assert run.heredocs[0].name == "EOF" and run.heredocs[0].content == "echo hi\n"
    assert copy.heredocs[0].quoted and copy.sources == ("<<'EOT'",)


def test_escape_directive_changes_continuation() -> None:
    dockerfile = parse("# escape=`\nFROM a\nRUN echo `\n  hi\n")
    assert dockerfile.escape == "`"
    (run,) = dockerfile.stages[0].instructions
    assert isinstance(run, CommandInstruction) and run.args[0].split() == ["echo", "hi"]
