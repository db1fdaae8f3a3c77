"""Registering cdi-runtime with an engine (cdi.shim.engines): the vectors, and what holds for
every change: it parses as the engine's format with the values asked for, an addition keeps
the file's bytes, and registering again changes nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest

from cdi.shim.engines import (
    DEFAULT_CONFIG,
    ENGINES,
    EngineConfigError,
    Registration,
    RuntimeOptions,
    register,
)
from tables import cases, load_table

TABLE = "shim/engines.yaml"
DEFAULT_PATH = "/usr/local/bin/cdi-runtime"
CRI_PLUGINS = {1: "cri", 2: "io.containerd.grpc.v1.cri", 3: "io.containerd.cri.v1.runtime"}


def _existing(case: dict[str, Any]) -> bytes | None:
    existing = case["existing"]
    return existing.encode() if isinstance(existing, str) else existing


def _options(case: dict[str, Any]) -> RuntimeOptions:
    given = case.get("options", {})
    return RuntimeOptions(
        given.get("path", DEFAULT_PATH), given.get("name", "cdi"), given.get("set_default", False)
    )


def _register(case: dict[str, Any]) -> Registration:
    file = case.get("file") or DEFAULT_CONFIG.get(case["engine"], "/etc/unknown.conf")
    return register(case["engine"], file, _existing(case), _options(case))


def _changes() -> list[dict[str, Any]]:
    return [case for case in load_table(TABLE) if "expected" in case]


@cases(TABLE)
def test_vector(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(EngineConfigError) as caught:
            _register(case)
        assert str(caught.value) == case["error"]
        return
    expected = case["expected"]
    change = _register(case)
    assert (change.engine, change.needed, change.append) == (
        case["engine"],
        expected["needed"],
        expected["append"],
    )
    assert change.content == expected["content"]
    if not change.needed:
        assert change.new_bytes is None
    elif change.append:
        assert change.new_bytes == expected["new"].encode()
    else:
        assert change.new_bytes == expected["content"].encode()


def test_the_table_covers_every_engine_and_both_kinds_of_change() -> None:
    table = load_table(TABLE)
    for engine in ENGINES:
        mine = [case for case in table if case["engine"] == engine]
        assert any("error" in case for case in mine), engine
        assert any(case.get("expected", {}).get("needed") is False for case in mine), engine
        assert any(case.get("expected", {}).get("needed") is True for case in mine), engine


def _after(case: dict[str, Any]) -> bytes:
    change = _register(case)
    after = change.new_bytes if change.new_bytes is not None else _existing(case)
    assert after is not None
    return after


def _read(engine: str, data: bytes) -> dict[str, Any]:
    """The document as the engine reads it: JSON for docker, TOML for the others."""
    if engine == "docker":
        document = json.loads(data.decode("utf-8-sig"))
    else:
        document = tomllib.loads(data.decode())
    assert isinstance(document, dict)
    return document


@pytest.mark.parametrize("case", _changes(), ids=[case["name"] for case in _changes()])
def test_every_result_parses_and_says_what_was_asked(case: dict[str, Any]) -> None:
    options = _options(case)
    document = _read(case["engine"], _after(case))
    name, path = options.name, options.path
    if case["engine"] == "docker":
        assert document["runtimes"][name] == {"path": path}
        default = document.get("default-runtime")
    elif case["engine"] == "podman":
        assert document["engine"]["runtimes"][name] == [path]
        default = document["engine"].get("runtime")
    elif case["engine"] == "crio":
        runtime = document["crio"]["runtime"]
        assert runtime["runtimes"][name] == {"runtime_path": path, "runtime_type": "oci"}
        default = runtime.get("default_runtime")
    else:
        plugin = CRI_PLUGINS[document.get("version", 1)]
        containerd = document["plugins"][plugin]["containerd"]
        runtime = containerd["runtimes"][name]
        assert runtime["runtime_type"] == "io.containerd.runc.v2"
        assert runtime["container_annotations"] == ["cdi.k8s.io/*"]
        assert runtime["options"]["BinaryName"] == path
        default = containerd.get("default_runtime_name")
    if options.set_default:
        assert default == name


@pytest.mark.parametrize("case", _changes(), ids=[case["name"] for case in _changes()])
def test_the_snippet_parses_on_its_own(case: dict[str, Any]) -> None:
    _read(case["engine"], _register(case).content.encode())


@pytest.mark.parametrize("case", _changes(), ids=[case["name"] for case in _changes()])
def test_an_addition_keeps_the_file_byte_for_byte(case: dict[str, Any]) -> None:
    change = _register(case)
    existing = _existing(case)
    if change.append and change.new_bytes is not None:
        assert existing is not None
        assert change.new_bytes.startswith(existing)
        assert change.new_bytes.endswith(change.content.encode())


@pytest.mark.parametrize("case", _changes(), ids=[case["name"] for case in _changes()])
def test_registering_again_changes_nothing(case: dict[str, Any]) -> None:
    again = {**case, "existing": _after(case)}
    assert _register(again).needed is False


def test_other_keys_keep_their_values() -> None:
    existing = {"a": {"b": [1, 2.5, None, "x"]}, "runtimes": {"crun": {"path": "/c"}}, "z": 0}
    change = register("docker", "f", json.dumps(existing).encode(), RuntimeOptions("/r"))
    assert change.new_bytes is not None
    after = json.loads(change.new_bytes)
    assert list(after) == ["a", "runtimes", "z"]
    assert after["runtimes"] == {"crun": {"path": "/c"}, "cdi": {"path": "/r"}}
    assert {key: value for key, value in after.items() if key != "runtimes"} == {
        "a": {"b": [1, 2.5, None, "x"]},
        "z": 0,
    }


# -- containerd itself reads what we write ------------------------------------------------------


@pytest.mark.skipif(shutil.which("containerd") is None, reason="containerd is not installed")
@pytest.mark.parametrize(
    "existing",
    [None, b"version = 1\n", "default"],
    ids=["new file", "version 1", "containerd's default config"],
)
def test_containerd_reads_the_runtime(tmp_path: Path, existing: bytes | str | None) -> None:
    """containerd 1.6 (Debian's) merges the file into its config as we mean it."""
    if existing == "default":
        dumped = subprocess.run(
            ["containerd", "config", "default"], capture_output=True, check=True
        )
        existing = dumped.stdout
    assert not isinstance(existing, str)
    config = tmp_path / "config.toml"
    change = register("containerd", str(config), existing, RuntimeOptions("/opt/cdi-runtime"))
    assert change.new_bytes is not None
    config.write_bytes(change.new_bytes)
    dumped = subprocess.run(
        ["containerd", "--config", str(config), "config", "dump"],
        capture_output=True,
        check=True,
    )
    # containerd 1.6 dumps every config as version 2.
    cri = tomllib.loads(dumped.stdout.decode())["plugins"]["io.containerd.grpc.v1.cri"]
    runtime = cri["containerd"]["runtimes"]["cdi"]
    assert runtime["runtime_type"] == "io.containerd.runc.v2"
    assert runtime["container_annotations"] == ["cdi.k8s.io/*"]
    assert runtime["options"]["BinaryName"] == "/opt/cdi-runtime"
    assert cri["containerd"]["default_runtime_name"] == "runc"


@pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed")
def test_podman_reads_the_runtime(tmp_path: Path) -> None:
    """podman (Debian's 4.3) takes the drop-in's runtime, as default and by name."""
    # podman refuses a runroot of more than 50 characters.
    short = Path(tempfile.mkdtemp(prefix="cdi-podman-"))
    try:
        _podman_info(tmp_path, short)
    finally:
        shutil.rmtree(short)


def _podman_info(tmp_path: Path, short: Path) -> None:
    config = tmp_path / "containers.conf"
    options = RuntimeOptions(shutil.which("runc") or "/usr/sbin/runc", set_default=True)
    change = register("podman", str(config), None, options)
    assert change.new_bytes is not None
    config.write_bytes(change.new_bytes)
    podman = ["podman", "--root", str(tmp_path / "root"), "--runroot", str(short / "run")]
    # Private paths for everything podman would otherwise create on the host.
    podman += ["--storage-driver", "vfs", "--tmpdir", str(short / "tmp")]
    podman += ["--network-config-dir", str(tmp_path / "networks"), "--events-backend", "none"]
    shown = "{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Path}}"
    for global_options in ([], ["--runtime", "cdi"]):
        info = subprocess.run(
            [*podman, *global_options, "info", "--format", shown],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "CONTAINERS_CONF": str(config)},
        )
        assert info.stdout == f"cdi {options.path}\n"
