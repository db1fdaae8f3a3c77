"""The ``cdi`` group: --version, --help, aliases, and --spec-dir honoured by every command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clitools import VENDOR1, Invoke, run_cdi, spec, write

from cdi.cli.main import ALIASES, COMMANDS


def test_version(cdi: Invoke) -> None:
    result = cdi("--version")
    assert (result.exit_code, result.stdout) == (0, "cdi, version 0.1.0\n")


def test_help_lists_every_command_but_not_aliases(cdi: Invoke) -> None:
    result = cdi("--help")
    assert result.exit_code == 0
    section = result.stdout.split("Commands:\n", 1)[1]
    listed = [line.split()[0] for line in section.splitlines() if line[2:3] not in ("", " ")]
    assert listed == sorted(COMMANDS)
    for name in COMMANDS:
        assert name in listed
    for alias in ALIASES:
        assert alias not in listed


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(cdi: Invoke, name: str) -> None:
    result = cdi(name, "--help")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Usage: cdi {name} ")


def test_unknown_command(cdi: Invoke) -> None:
    result = cdi("nope")
    assert result.exit_code == 2
    assert result.stderr.endswith("Error: No such command 'nope'.\n")


def test_entry_point_in_a_subprocess(tmp_path: Path) -> None:
    write(tmp_path, "v.yaml", VENDOR1)
    result = run_cdi("--spec-dir", str(tmp_path), "devices")
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "CDI devices found:\n  0. vendor1.com/device=foo\n",
        "",
    )


# -- where the spec directories come from -----------------------------------------------------


@pytest.fixture
def two_dirs(tmp_path: Path) -> tuple[Path, Path]:
    flag, env = tmp_path / "flag", tmp_path / "env"
    write(flag, "a.yaml", spec("flag.com/dev", "a"))
    write(env, "a.yaml", spec("env.com/dev", "a"))
    return flag, env


def _vendors(cdi: Invoke, *args: str, env: dict[str, str] | None = None) -> list[str]:
    result = cdi(*args, "vendors", "-o", "json", env=env)
    return [vendor["name"] for vendor in json.loads(result.stdout)]


def test_spec_dir_beats_the_environment(cdi: Invoke, two_dirs: tuple[Path, Path]) -> None:
    flag, env = two_dirs
    assert _vendors(cdi, "--spec-dir", str(flag), env={"CDI_SPEC_DIRS": str(env)}) == ["flag.com"]
    assert _vendors(cdi, env={"CDI_SPEC_DIRS": f"{env}:{flag}"}) == ["env.com", "flag.com"]


def test_defaults_without_either(cdi: Invoke) -> None:
    result = cdi("dirs", "-o", "json")
    assert [entry["path"] for entry in json.loads(result.stdout)] == ["/etc/cdi", "/var/run/cdi"]


def test_later_spec_dirs_win(cdi: Invoke, tmp_path: Path) -> None:
    low, high = tmp_path / "low", tmp_path / "high"
    write(low, "a.yaml", spec("v.com/dev", "a"))
    write(high, "a.yaml", spec("v.com/dev", "a"))
    result = cdi("--spec-dir", str(low), "--spec-dir", str(high), "devices", "-o", "json")
    assert json.loads(result.stdout)[0]["path"] == f"{high}/a.yaml"


# Each command that reads the spec directories, with arguments that succeed only when it
# reads --spec-dir (the environment points elsewhere), and a text its stdout must contain.
EVERY_COMMAND = [
    (["vendors"], '"flag.com"'),
    (["classes"], "flag.com"),
    (["devices"], "flag.com/dev=a"),
    (["specs", "flag.com"], "Vendor flag.com:"),
    (["dirs"], "/flag (priority 0)"),
    (["validate"], "/flag/a.yaml: ok"),
    (["inject", "-", "flag.com/dev=a"], "A=1"),
    (["resolve", "{oci}"], "A=1"),
    (["edits", "flag.com/dev=a"], "A=1"),
    (["doctor", "flag.com/dev=a"], "flag.com/dev=a: resolves"),
]


@pytest.mark.parametrize(("args", "expected"), EVERY_COMMAND, ids=[a[0] for a, _ in EVERY_COMMAND])
def test_every_command_honours_spec_dir(
    cdi: Invoke, two_dirs: tuple[Path, Path], tmp_path: Path, args: list[str], expected: str
) -> None:
    flag, env = two_dirs
    oci = tmp_path / "config.json"
    oci.write_text(json.dumps({"linux": {"devices": [{"path": "flag.com/dev=a"}]}}))
    args = [arg.replace("{oci}", str(oci)) for arg in args]
    result = cdi("--spec-dir", str(flag), *args, input="{}", env={"CDI_SPEC_DIRS": str(env)})
    assert result.exit_code == 0, result.stderr
    assert expected in result.stdout


def test_commands_covered_by_the_spec_dir_test() -> None:
    covered = {args[0] for args, _ in EVERY_COMMAND}
    # monitor, run and kubelet-plugin are checked through real processes (test_cli_monitor,
    # test_cli_run*, tests/kubelet);
    # inspect has BuildKit's own rules for directories (test_cli_inspect); rootfs reads none,
    # nor do generate, transform and the hook commands (they read the roots they are given),
    # nor install-runtime (it edits an engine's configuration).
    unrelated = {
        "build",
        "rootfs",
        "transform",
        "generate",
        "hook",
        "install-hook",
        "install-runtime",
    }
    assert covered | {"monitor", "run", "inspect", "kubelet-plugin"} >= set(COMMANDS) - unrelated
