"""``quick_edits``: a few devices' edits from the index, the same as a registry's or none.

Every case compares with ``Registry.resolve_edits`` on the same directories: the quick path
may decline (``None``), never differ.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from cdi.errors import UnresolvableDevicesError
from cdi.registry import Registry, quick_edits
from cdi.registry.scan import RACY_WINDOW_NS
from cdi.spec.model import ContainerEdits


def _spec(kind: str, devices: dict[str, str], own_env: str | None = None) -> str:
    document: dict[str, Any] = {
        "cdiVersion": "0.6.0",
        "kind": kind,
        "devices": [
            {"name": name, "containerEdits": {"env": [env]}} for name, env in devices.items()
        ],
    }
    if own_env is not None:
        document["containerEdits"] = {
            "env": [own_env],
            "hooks": [{"hookName": "createRuntime", "path": "/bin/true"}],
        }
    return json.dumps(document)


@pytest.fixture
def dirs(tmp_path: Path) -> list[Path]:
    low, high = tmp_path / "etc", tmp_path / "run"
    low.mkdir()
    high.mkdir()
    (low / "a.json").write_text(_spec("alpha.com/gpu", {"0": "A=0", "1": "A=1"}, "ALPHA=1"))
    (high / "b.json").write_text(_spec("beta.com/fpga", {"x": "B=high", "y": "B=y"}))
    (high / "c.yaml").write_text(
        "cdiVersion: 0.6.0\nkind: gamma.com/nic\ndevices:\n- name: eth0\n"
        "  containerEdits:\n    env: [C=eth0]\n"
    )
    return [low, high]


def _age() -> None:
    """Let the files get older than the racy window, as spec files on a host are."""
    time.sleep((RACY_WINDOW_NS + 20_000_000) / 1e9)


def _warm(dirs: list[Path], trust: str = "off") -> Registry:
    _age()
    return Registry(dirs, trust=trust)  # scans, and writes the index


REQUESTS = [
    ["alpha.com/gpu=0"],
    ["alpha.com/gpu=1", "alpha.com/gpu=0"],
    ["beta.com/fpga=x"],
    ["beta.com/fpga=y", "gamma.com/nic=eth0", "alpha.com/gpu=1"],
    ["alpha.com/gpu=0", "alpha.com/gpu=0"],
]


@pytest.mark.parametrize("devices", REQUESTS, ids=",".join)
def test_same_edits_as_the_registry(dirs: list[Path], devices: list[str]) -> None:
    registry = _warm(dirs)
    found = quick_edits(devices, dirs)
    assert isinstance(found, ContainerEdits)
    assert found == registry.resolve_edits(devices)


def test_no_index_no_answer(dirs: list[Path], tmp_path: Path) -> None:
    assert quick_edits(["alpha.com/gpu=0"], dirs) is None
    assert quick_edits(["alpha.com/gpu=0"], dirs, index=tmp_path / "elsewhere") is None


def test_index_turned_off(dirs: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _warm(dirs)
    monkeypatch.setenv("CDI_INDEX", "0")
    assert quick_edits(["alpha.com/gpu=0"], dirs) is None


def test_unknown_device_is_left_to_the_registry(dirs: list[Path]) -> None:
    registry = _warm(dirs)
    assert quick_edits(["alpha.com/gpu=9"], dirs) is None
    with pytest.raises(UnresolvableDevicesError):
        registry.resolve_edits(["alpha.com/gpu=9"])


def _changes(dirs: list[Path]) -> dict[str, Any]:
    low, high = dirs

    def rewrite() -> None:
        (low / "a.json").write_text(_spec("alpha.com/gpu", {"0": "A=changed"}))

    def add() -> None:
        (high / "d.json").write_text(_spec("delta.com/x", {"d": "D=1"}))

    def add_shadowing() -> None:
        (high / "a2.json").write_text(_spec("alpha.com/gpu", {"0": "A=shadow"}))

    def remove() -> None:
        (high / "c.yaml").unlink()

    def touch() -> None:
        os.utime(low / "a.json")

    def chmod() -> None:
        (low / "a.json").chmod(0o600)

    def replace_same_bytes() -> None:
        data = (low / "a.json").read_bytes()
        (low / "a.json").unlink()
        (low / "a.json").write_bytes(data)

    return {f.__name__: f for f in (rewrite, add, add_shadowing, remove, touch, chmod,
                                     replace_same_bytes)}  # fmt: skip


@pytest.mark.parametrize(
    "change",
    ["rewrite", "add", "add_shadowing", "remove", "touch", "chmod", "replace_same_bytes"],
)
def test_any_change_declines_until_a_registry_scanned(dirs: list[Path], change: str) -> None:
    _warm(dirs)
    _changes(dirs)[change]()
    assert quick_edits(["alpha.com/gpu=0"], dirs) is None
    registry = _warm(dirs)  # rescans, rewrites the index
    found = quick_edits(["alpha.com/gpu=0"], dirs)
    assert found is not None and found == registry.resolve_edits(["alpha.com/gpu=0"])


def test_racy_index_declines(dirs: list[Path]) -> None:
    Registry(dirs)  # files just written: their index entries are racy
    assert quick_edits(["alpha.com/gpu=0"], dirs) is None


@pytest.mark.parametrize("device", ["beta.com/fpga=x", "alpha.com/gpu=1"])
def test_a_shadowed_name_is_answered_as_the_registry_does(dirs: list[Path], device: str) -> None:
    # /etc/cdi and /var/run/cdi defining the same device (an NVIDIA host with a generated
    # spec in both): the index keeps which definition is in use.
    low, _ = dirs
    (low / "b.json").write_text(_spec("beta.com/fpga", {"x": "B=low"}))
    registry = _warm(dirs)
    assert registry.definitions()  # the name is defined twice
    found = quick_edits([device], dirs)
    assert found is not None and found == registry.resolve_edits([device])
    assert found.env == (("B=high",) if device.startswith("beta") else ("ALPHA=1", "A=1"))


def test_a_conflicting_name_is_left_to_the_registry(dirs: list[Path]) -> None:
    low, _ = dirs
    (low / "a-again.json").write_text(_spec("alpha.com/gpu", {"0": "A=again"}))
    registry = _warm(dirs)  # two files of one directory define alpha.com/gpu=0
    assert quick_edits(["alpha.com/gpu=0"], dirs) is None  # unresolvable: the registry says why
    with pytest.raises(UnresolvableDevicesError):
        registry.resolve_edits(["alpha.com/gpu=0"])
    found = quick_edits(["alpha.com/gpu=1"], dirs)  # the file's other devices still resolve
    assert found is not None and found == registry.resolve_edits(["alpha.com/gpu=1"])


def test_damaged_blob_declines(dirs: list[Path], index_dir: Path) -> None:
    _warm(dirs)
    (path,) = index_dir.glob("specs-*.idx")
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01  # inside the last blob, which the header digest does not cover
    path.write_bytes(bytes(data))
    path.chmod(0o600)
    devices = ["beta.com/fpga=x", "gamma.com/nic=eth0", "alpha.com/gpu=0"]
    found = quick_edits(devices, dirs)
    # Either the damaged blob was not needed, or the answer is None: never a wrong one.
    assert found is None or found == Registry(dirs, index=False).resolve_edits(devices)


@pytest.mark.parametrize("trust", ["warn", "strict"])
def test_untrusted_file_declines(dirs: list[Path], trust: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to own files as another user")
    low, _ = dirs
    _warm(dirs)
    (low / "a.json").chmod(0o666)
    assert quick_edits(["gamma.com/nic=eth0"], dirs, trust=trust) is None  # not even asked for
    _warm(dirs)
    assert quick_edits(["gamma.com/nic=eth0"], dirs) is not None  # trust off: no objection


def test_trusted_files_pass_strict(dirs: list[Path]) -> None:
    registry = _warm(dirs, trust="strict")
    found = quick_edits(["gamma.com/nic=eth0"], dirs, trust="strict")
    assert found is not None and found == registry.resolve_edits(["gamma.com/nic=eth0"])


def test_invalid_trust_mode(dirs: list[Path]) -> None:
    from cdi.errors import TrustModeError

    with pytest.raises(TrustModeError):
        quick_edits(["alpha.com/gpu=0"], dirs, trust="paranoid")
