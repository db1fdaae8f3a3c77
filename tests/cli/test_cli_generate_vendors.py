"""``cdi generate amd | intel | devices``: flags, outputs, exit statuses and messages
(tests/vectors/generate/cli_flags.yaml, with stand-in generators), ``--watch`` driven
without sleeping, and the console script run for real on fake trees (SIGTERM included)."""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from clitools import Invoke

from cdi import SpecError, load_spec
from cdi.cli import generate_common, signals
from cdi.generate.errors import GenerateError, NoDevicesError
from cdi.spec.model import ContainerEdits, Device, DeviceNode, Spec
from tables import cases


def _device(name: str, *paths: str) -> Device:
    nodes = tuple(DeviceNode(path) for path in paths)
    return Device(name, container_edits=ContainerEdits(device_nodes=nodes))


#: What the stand-in generators return, by the name the table uses.
SPECS: dict[str, Spec] = {
    "amd": Spec(
        "0.5.0",
        "amd.com/gpu",
        devices=(_device("0", "/dev/dri/renderD128"), _device("all", "/dev/dri/renderD128")),
    ),
    "amd-renumbered": Spec(
        "0.5.0",
        "amd.com/gpu",
        devices=(_device("0", "/dev/dri/renderD129"), _device("all", "/dev/dri/renderD129")),
    ),
    "intel-gpu": Spec("0.3.0", "intel.com/gpu", devices=(_device("card0", "/dev/dri/card0"),)),
    "intel-gpu-mei": Spec("0.3.0", "intel.com/gpu-mei", devices=(_device("mei0", "/dev/mei0"),)),
    "intel-npu": Spec("0.3.0", "intel.com/npu", devices=(_device("npu0", "/dev/accel/accel0"),)),
}

#: The library functions the commands call: (module, function).
GENERATORS = {
    "amd": ("cdi.generate.amd", "generate_amd"),
    "intel": ("cdi.generate.intel", "generate_intel"),
    "devices": ("cdi.generate.devices", "generate_devices"),
}


class StandIn:
    """A generator that records its arguments and does what the table case says."""

    def __init__(self, behaviour: dict[str, Any], *, several: bool = False) -> None:
        self.behaviour = behaviour
        self.several = several  # generate_intel returns a list, the others one spec
        self.calls: list[dict[str, Any]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        progress = kwargs.pop("progress")
        plain = {key: list(v) if isinstance(v, tuple) else v for key, v in kwargs.items()}
        self.calls.append({"args": list(args), **plain})
        for line in self.behaviour.get("progress", ()):
            progress(line)
        if "no_devices" in self.behaviour:
            raise NoDevicesError(self.behaviour["no_devices"])
        if "error" in self.behaviour:
            raise GenerateError(self.behaviour["error"])
        specs = []
        for name in self.behaviour["returns"]:
            if name == "devices":  # the kind asked for, one node
                specs.append(Spec("0.5.0", args[0], devices=(_device("0", "/dev/fpga0"),)))
            else:
                specs.append(SPECS[name])
        return specs if self.several else specs[0]


def install_stand_in(monkeypatch: pytest.MonkeyPatch, command: str, stand_in: StandIn) -> None:
    module, function = GENERATORS[command]
    monkeypatch.setattr(importlib.import_module(module), function, stand_in)


def _fill(value: Any, tmp: Path) -> Any:
    if isinstance(value, str):
        return value.replace("{tmp}", str(tmp))
    if isinstance(value, list):
        return [_fill(item, tmp) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, tmp) for key, item in value.items()}
    return value


def _spec_bytes(names: list[str], fmt: str) -> bytes:
    from cdi.generate.output import render

    return b"".join(render(SPECS[name], fmt) for name in names)


@pytest.fixture(autouse=True)
def _run_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@cases("generate/cli_flags.yaml")
def test_flags(
    case: dict[str, Any], cdi: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = _fill(case, tmp_path)
    args = case["args"]
    stand_in = StandIn(case.get("generator", {"returns": []}), several=args[1] == "intel")
    install_stand_in(monkeypatch, args[1], stand_in)
    for name, content in case.get("before", {}).items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, list):
            path.write_bytes(_spec_bytes(content, "json" if name.endswith(".json") else "yaml"))
        else:
            path.write_text(content)

    result = cdi(*args)

    assert result.exit_code == case["exit"], result.stderr
    if "stdout" in case:
        assert result.stdout == case["stdout"]
    if "stderr" in case:
        assert result.stderr == case["stderr"]
    if "error" in case:  # a usage error: click's usage lines, then the message
        assert result.stderr.startswith(f"Usage: cdi {args[0]} {args[1]} ")
        assert result.stderr.endswith(f"\n\nError: {case['error']}\n")
        assert result.stdout == ""
    if "called" in case:
        assert stand_in.calls == [case["called"]]
    elif case["exit"] == 2:
        assert stand_in.calls == [] or "after_generation" in case
    written = sorted(
        str(path.relative_to(tmp_path))
        for path in tmp_path.rglob("*")
        if path.is_file() and str(path.relative_to(tmp_path)) not in case.get("before", {})
    )
    assert written == sorted(case.get("files", {}))
    for name, described in case.get("files", {}).items():
        expected = described
        if isinstance(described, list):
            expected = {"format": "json" if name.endswith(".json") else "yaml", "specs": described}
        path = tmp_path / name
        assert path.read_bytes() == _spec_bytes(expected["specs"], expected["format"])
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        assert load_spec(path).kind == SPECS[expected["specs"][0]].kind


# --------------------------------------------------------------------------- --watch


@contextmanager
def _polls(count: int, between: Callable[[int], None]) -> Iterator[Callable[[float], bool]]:
    """A wait function that lets the loop poll *count* times, calling *between(i)* after
    poll i (0-based), without sleeping."""
    seen: list[float] = []

    def wait(seconds: float) -> bool:
        seen.append(seconds)
        if len(seen) == count:
            return True
        between(len(seen) - 1)
        return False

    yield wait


def test_watch_writes_on_change_and_survives_an_error(
    cdi: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three polls: the first writes, the second fails (the file stays), the third writes
    the new spec. The fingerprint is a counter moved between the polls."""
    results: list[Any] = [
        SPECS["amd"],
        GenerateError("cannot stat /dev/kfd"),
        SPECS["amd-renumbered"],
    ]

    def generate_amd(**kwargs: Any) -> Spec:
        kwargs["progress"]("found AMD GPU 0000:03:00.0: renderD128")
        result = results.pop(0)
        if isinstance(result, Exception):
            raise result
        assert isinstance(result, Spec)
        return result

    state = [0]
    install_stand_in(monkeypatch, "amd", generate_amd)  # type: ignore[arg-type]
    monkeypatch.setattr("cdi.generate.fingerprint.fingerprint", lambda watched: state[0])

    def between(poll: int) -> None:
        state[0] += 1

    monkeypatch.setattr(generate_common, "stop_signals", lambda: _polls(3, between))
    target = tmp_path / "cdi" / "amd.yaml"

    result = cdi("generate", "amd", "--output", str(target), "--watch", "--interval", "2")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"watching AMD GPUs for {target}: 10 paths, every 2s",
        "found AMD GPU 0000:03:00.0: renderD128",
        f"wrote {target} (amd.com/gpu, 2 devices, cdiVersion 0.5.0)",
        "Error: cannot stat /dev/kfd (the spec files are left as they are; retrying every 2s)",
        "found AMD GPU 0000:03:00.0: renderD128",
        f"wrote {target} (amd.com/gpu, 2 devices, cdiVersion 0.5.0)",
        "stopped",
    ]
    assert target.read_bytes() == _spec_bytes(["amd-renumbered"], "yaml")


def test_watch_with_several_specs_and_output_is_an_error_it_retries(
    cdi: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_stand_in(
        monkeypatch, "intel", StandIn({"returns": ["intel-gpu", "intel-gpu-mei"]}, several=True)
    )
    monkeypatch.setattr(generate_common, "stop_signals", lambda: _polls(2, lambda poll: None))
    target = tmp_path / "gpu.yaml"
    result = cdi("generate", "intel", "gpu", "--output", str(target), "--watch")
    assert result.exit_code == 0
    assert result.stderr.splitlines()[1:] == [
        "Error: 2 specs were generated (intel.com/gpu, intel.com/gpu-mei) and --output takes "
        "one: use --output-dir DIR (the spec files are left as they are; retrying every 5s)",
        "stopped",
    ]
    assert not target.exists()


def test_stop_signals_turn_sigterm_into_a_stop() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with signals.stop_signals() as wait:
        assert wait(0) is False
        os.kill(os.getpid(), signal.SIGTERM)
        assert wait(60) is True  # returns at once: the signal set the flag
    assert signal.getsignal(signal.SIGTERM) is before


# --------------------------------------------------------------------------- help, laziness


def test_generate_help_lists_the_vendors_without_importing_them() -> None:
    code = (
        "import sys; from click.testing import CliRunner; from cdi.cli.main import main; "
        "r = CliRunner().invoke(main, ['generate', '--help']); print(r.output); "
        "print(sorted(m for m in sys.modules if m.startswith('cdi.cli.generate_')"
        " or m in ('cdi.generate.amd', 'cdi.generate.intel', 'cdi.generate.devices')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    for line in (
        "  amd      Generate the CDI spec of this host's AMD GPUs.",
        "  devices  Generate a CDI spec for any character devices.",
        "  intel    Generate the CDI specs of Intel GPUs, Gaudi or NPUs.",
    ):
        assert line in result.stdout
    assert result.stdout.rstrip().endswith("[]")


@pytest.mark.parametrize("command", ["amd", "intel", "devices"])
def test_each_command_has_help(cdi: Invoke, command: str) -> None:
    result = cdi("generate", command, "--help")
    assert result.exit_code == 0
    for flag in ("--output", "--format", "--sysfs-root", "--dev-root", "--compare", "--watch"):
        assert flag in result.stdout


def test_json_lines_are_one_document_each(cdi: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    install_stand_in(
        monkeypatch, "intel", StandIn({"returns": ["intel-gpu", "intel-gpu-mei"]}, several=True)
    )
    result = cdi("generate", "intel", "gpu", "--format", "json")
    documents = [json.loads(line) for line in result.stdout.splitlines()]
    assert [document["kind"] for document in documents] == ["intel.com/gpu", "intel.com/gpu-mei"]


# --------------------------------------------------------------------------- for real

CDI_SCRIPT = Path(sys.executable).parent / "cdi"


def run_script(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user or a systemd unit runs it."""
    return subprocess.run(
        [str(CDI_SCRIPT), *args], capture_output=True, text=True, check=False, **kwargs
    )


@pytest.fixture
def empty_roots(tmp_path: Path) -> tuple[str, str]:
    (tmp_path / "sys").mkdir()
    (tmp_path / "dev").mkdir()
    return str(tmp_path / "sys"), str(tmp_path / "dev")


@pytest.mark.parametrize(
    "words",
    [
        ["amd"],
        ["intel", "gpu"],
        ["devices", "--kind", "example.com/fpga", "--device-glob", "/dev/fpga*"],
    ],
)
def test_script_reports_nothing_found_in_one_line(
    empty_roots: tuple[str, str], tmp_path: Path, words: list[str]
) -> None:
    sysfs, dev = empty_roots
    target = tmp_path / "out.yaml"
    result = run_script(
        "generate", *words, "--sysfs-root", sysfs, "--dev-root", dev, "--output", str(target)
    )
    assert (result.returncode, result.stdout) == (1, "")
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert not target.exists()


def test_script_usage_error_is_status_2() -> None:
    result = run_script("generate", "intel", "cpu")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_script_watch_follows_a_new_node_and_stops_on_sigterm(tmp_path: Path) -> None:
    from generate.fixtures import make_char_device

    dev = tmp_path / "dev"
    make_char_device(dev / "fpga0", 240, 0)
    target = tmp_path / "cdi" / "fpga.yaml"
    process = subprocess.Popen(
        [
            str(CDI_SCRIPT),
            "generate",
            "devices",
            "--kind",
            "example.com/fpga",
            "--device-glob",
            "/dev/fpga*",
            "--dev-root",
            str(dev),
            "--sysfs-root",
            str(tmp_path / "sys"),
            "--output",
            str(target),
            "--watch",
            "--interval",
            "0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(target.exists)
        assert [d.name for d in load_spec(target).devices] == ["0"]
        make_char_device(dev / "fpga1", 240, 1)
        _wait_for(lambda: len(load_spec(target).devices) == 2)
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert stdout == ""
    lines = stderr.splitlines()
    assert lines[-1] == "stopped"
    assert sum(line.startswith(f"wrote {target} ") for line in lines) == 2
    spec = load_spec(target)
    assert [
        (n.path, n.host_path, n.major, n.minor)
        for d in spec.devices
        for n in d.container_edits.device_nodes
    ] == [
        ("/dev/fpga0", str(dev / "fpga0"), 240, 0),
        ("/dev/fpga1", str(dev / "fpga1"), 240, 1),
    ]


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_script_amd_writes_then_compares(tmp_path: Path) -> None:
    from generate.amdtree import AmdTree, gpu_properties

    tree = AmdTree(tmp_path)
    tree.gpu("0000:03:00.0", ["card1", "renderD128"])
    tree.topology_node(gpu_properties(128, "0000:03:00.0"))
    tree.drm_node("card1")
    tree.drm_node("renderD128")
    tree.kfd()
    roots = ["--sysfs-root", str(tree.sysfs), "--dev-root", str(tree.dev)]
    target = tmp_path / "cdi" / "amd.json"

    written = run_script("generate", "amd", *roots, "--output", str(target))
    assert written.returncode == 0, written.stderr
    assert written.stderr.splitlines()[-1] == (
        f"wrote {target} (amd.com/gpu, 2 devices, cdiVersion 0.5.0)"
    )
    assert [device.name for device in load_spec(target).devices] == ["0", "all"]
    current = run_script("generate", "amd", *roots, "--compare", str(target))
    assert (current.returncode, current.stdout) == (0, ""), current.stderr
    assert current.stderr.splitlines()[-1] == f"{target} is current"

    before = target.read_bytes()
    (tree.dev / "dri/renderD128").unlink()
    tree.drm_node("renderD128", minor=129)  # renumbered under the spec's feet
    stale = run_script("generate", "amd", *roots, "--compare", str(target))
    assert stale.returncode == 1
    assert stale.stdout.startswith("--- existing\n+++ generated\n")
    assert "-              minor: 128\n+              minor: 129\n" in stale.stdout
    assert target.read_bytes() == before  # --compare writes nothing


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_script_intel_writes_one_file_per_kind(tmp_path: Path) -> None:
    from generate.inteltree import IntelTree

    tree = IntelTree(tmp_path)
    tree.pci("0000:03:00.0", drm=["card1", "renderD128"], mei=["mei0"])
    directory = tmp_path / "cdi"
    result = run_script(
        "generate",
        "intel",
        "gpu",
        "--sysfs-root",
        str(tree.sys),
        "--dev-root",
        str(tree.dev),
        "--output-dir",
        str(directory),
    )
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in directory.iterdir()) == [
        "intel.com-gpu-mei.yaml",
        "intel.com-gpu.yaml",
    ]
    assert load_spec(directory / "intel.com-gpu.yaml").kind == "intel.com/gpu"
    assert load_spec(directory / "intel.com-gpu-mei.yaml").kind == "intel.com/gpu-mei"


def _wait_for(condition: Callable[[], bool], limit: float = 30.0) -> None:
    """Poll *condition* until true; fail after *limit* seconds (a hang, not a timing)."""
    deadline = time.monotonic() + limit
    while True:
        try:
            if condition():
                return
        except SpecError:
            pass
        if time.monotonic() > deadline:
            pytest.fail("the watched file never reached the expected state")
        time.sleep(0.05)


# --------------------------------------------------------------------------- examples/refresh

REFRESH = Path(__file__).resolve().parents[2] / "examples" / "refresh"
CDI_BINARY = "/usr/local/bin/cdi"
#: The instances the udev rules start of each template unit.
_WANTS = re.compile(r'ENV\{SYSTEMD_WANTS\}\+="([^"]+)"')


def _unit_lines(path: Path, key: str) -> list[str]:
    return [
        line.partition("=")[2]
        for line in path.read_text().splitlines()
        if line.partition("=")[0].strip() == key
    ]


def _wanted_units() -> set[str]:
    return {
        name for rules in REFRESH.rglob("*.rules") for name in _WANTS.findall(rules.read_text())
    }


def _instances(unit: Path) -> list[str]:
    """``%i`` values of a template unit (from the rules that start it); ``[""]`` else."""
    if "@" not in unit.name:
        return [""]
    prefix = unit.name.partition("@")[0] + "@"
    return sorted(
        name.removeprefix(prefix).removesuffix(".service")
        for name in _wanted_units()
        if name.startswith(prefix)
    )


def _command_lines() -> list[tuple[str, list[str]]]:
    found = []
    for unit in sorted(REFRESH.rglob("*.service")):
        for key in ("ExecStartPre", "ExecStart"):
            for line in _unit_lines(unit, key):
                for instance in _instances(unit):
                    text = line.lstrip("-@+!:").replace("%i", instance).replace("%%", "%")
                    found.append((f"{unit.name} {key} {instance}".rstrip(), shlex.split(text)))
    return found


COMMAND_LINES = _command_lines()


def test_every_vendor_has_a_unit_and_a_rule() -> None:
    for vendor in ("nvidia", "amd", "intel", "fpga"):
        assert list((REFRESH / vendor).glob("*.service")), vendor
        assert list((REFRESH / vendor).glob("*.rules")), vendor
    with_commands = {where.split()[0] for where, _ in COMMAND_LINES}
    assert with_commands == {unit.name for unit in REFRESH.rglob("*.service")}
    assert {where.split()[-1] for where, _ in COMMAND_LINES if "intel" in where} == {
        "gpu",
        "gaudi",
        "npu",
    }


@pytest.mark.parametrize(("where", "words"), COMMAND_LINES, ids=[w for w, _ in COMMAND_LINES])
def test_unit_commands_exist_with_their_flags(where: str, words: list[str], cdi: Invoke) -> None:
    assert words[0] == CDI_BINARY, where
    assert words[1:3] == ["generate", words[2]]
    result = cdi(*words[1:], "--help")  # unknown commands and flags fail the parse
    assert result.exit_code == 0, result.stderr
    for word in words[1:]:
        if word.startswith("--"):
            assert word.partition("=")[0] in result.stdout, where
    if "--watch" in words:  # the spec must go to a file that the watch keeps current
        assert "--output" in words or "--output-dir" in words


def test_watch_units_write_the_spec_once_before_they_watch() -> None:
    for unit in REFRESH.rglob("*.service"):
        starts = _unit_lines(unit, "ExecStart")
        if any("--watch" in line for line in starts):
            pre = _unit_lines(unit, "ExecStartPre")
            assert [f"{line.lstrip('-')} --watch --interval 5" for line in pre] == starts, unit.name
            assert _unit_lines(unit, "Type") == ["exec"]


def test_rules_and_path_units_start_units_that_exist() -> None:
    names = {unit.name for unit in REFRESH.rglob("*.service")}
    for wanted in _wanted_units():
        template = re.sub(r"@[^.]+\.service$", "@.service", wanted)
        assert template in names, wanted
    for path_unit in REFRESH.rglob("*.path"):
        assert _unit_lines(path_unit, "Unit") and set(_unit_lines(path_unit, "Unit")) <= names


def test_readme_installs_every_file() -> None:
    readme = (REFRESH / "README.md").read_text()
    for path in REFRESH.rglob("*"):
        if path.is_file() and path.name != "README.md":
            assert str(path.relative_to(REFRESH)) in readme, path.name
