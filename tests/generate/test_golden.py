"""``cdi generate nvidia`` end to end, byte for byte: nvidia-ctk's golden cases and more.

Each case of ``tests/vectors/generate/golden.yaml`` builds its fixture root (from
``golden_roots.yaml``: real files, links and ``mknod`` character devices), runs the command
line with a fake NVML in place of the real library, and compares stdout with the expected
spec, in which ``{root}`` stands for the fixture root; or compares the error text. Every
generated spec must also load with :func:`cdi.parse_spec`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import cdi
from cdi.cli.main import main
from cdi.generate import hooks as generate_hooks
from cdi.generate import nvml as nvml_module
from generate.fakenvml import FakeNvml
from generate.fixtures import build_rootfs_2
from generate.nvidiaroot import build_nvidia_root
from tables import cases, load_table

ROOTS = {case["name"]: case for case in load_table("generate/golden_roots.yaml")}

#: Fixture builders a case may name instead of a tree (for real ELF objects and caches).
BUILDERS: dict[str, Callable[..., Any]] = {
    "build_nvidia_root": build_nvidia_root,
    "build_rootfs_2": build_rootfs_2,
}


def make_root(base: Path, case: dict[str, Any]) -> Path:
    """The case's fixture root: a tree of ``golden_roots.yaml``, or a builder's with an
    optional tree written over it (``overlay``)."""
    if "builder" not in case:
        return build_root(base, case.get("root", "rootfs-1"))
    arguments = dict(case["builder"])
    root = base / "root"
    BUILDERS[arguments.pop("function")](root, **arguments)
    return add_tree(root, case["overlay"]) if "overlay" in case else root


def build_root(base: Path, name: str) -> Path:
    root = base / name
    root.mkdir()
    return add_tree(root, name)


def add_tree(root: Path, name: str) -> Path:
    """Write tree *name* of ``golden_roots.yaml`` into *root*."""
    tree = ROOTS[name]
    for entry in tree.get("files", []):
        path, content, mode = (entry, "", None) if isinstance(entry, str) else _file_entry(entry)
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        if mode is not None:
            target.chmod(int(mode, 0))
    for path, link in tree.get("links", {}).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).symlink_to(link)
    for path in tree.get("dirs", []):
        (root / path).mkdir(parents=True, exist_ok=True)
    for path, (major, minor, mode_text, gid) in tree.get("devices", {}).items():
        mode = int(mode_text, 0)
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        os.mknod(root / path, 0o020000 | mode, os.makedev(major, minor))
        os.chmod(root / path, mode)  # mknod applies the umask
        os.chown(root / path, 0, gid)
    return root


def _file_entry(entry: dict[str, Any]) -> tuple[str, str, str | None]:
    ((path, value),) = entry.items()
    if isinstance(value, dict):
        return path, value.get("content", ""), value.get("mode")
    return path, value, None


def fake_nvml(spec: dict[str, Any]) -> FakeNvml:
    options = dict(spec)
    count = options.pop("gpus")
    mig = {int(k): [tuple(d) for d in v] for k, v in options.pop("mig", {}).items()}
    return FakeNvml.with_gpus(count, mig=mig, **options)


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of the fixture's device nodes needs root")
@cases("generate/golden.yaml")
def test_generate(case: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_root(tmp_path, case)
    if "nvml" in case:
        fake = fake_nvml(case["nvml"])
        monkeypatch.setattr(nvml_module, "open_nvml", lambda *_args: fake)
    else:
        monkeypatch.setattr(nvml_module, "open_nvml", _no_nvml)
    # The default hook path, whatever this host has installed.
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(generate_hooks, "HOOK_SEARCH_DIRS", ())
    monkeypatch.delenv("XDG_DATA_DIRS", raising=False)  # config files: the default dirs
    args = [
        "generate",
        "nvidia",
        f"--driver-root={root}",
        f"--sysfs-root={root}/sys",
        f"--procfs-root={root}/proc",
        *[arg.replace("{root}", str(root)) for arg in case.get("args", [])],
    ]
    result = CliRunner().invoke(main, args)
    if "error" in case:
        assert result.exit_code == 1, result.output
        assert result.stderr.splitlines()[-1] == f"Error: {case['error']}".replace(
            "{root}", str(root)
        )
        assert result.stdout == ""
        return
    assert result.exit_code == 0, result.stderr
    expected = case["expected"].replace("{root}", str(root))
    if "written" in case:  # --output: the file has the spec, stdout nothing
        written = root / case["written"]
        assert (written.read_text(), result.stdout) == (expected, "")
        assert stat.S_IMODE(written.stat().st_mode) == 0o644
    else:
        assert result.stdout == expected
    assert f"Generated CDI spec with version {case['version']}" in result.stderr
    spec = cdi.parse_spec(expected)
    assert spec.cdi_version == case["version"]
    if "warning" in case:
        assert f"Warning: {case['warning']}".replace("{root}", str(root)) in result.stderr


def _no_nvml(*_args: Any) -> Any:
    raise nvml_module.NvmlError(nvml_module.LIBRARY_NOT_FOUND)


def test_every_golden_spec_takes_the_direct_yaml_writer() -> None:
    """Generated specs are simple documents: the direct writer (not PyYAML's emitter) writes
    them, and its bytes are the emitter's."""
    from cdi.spec.goyaml import dump_document, dump_simple
    from cdi.spec.plain import to_plain

    checked = 0
    for case in load_table("generate/golden.yaml"):
        if not case.get("expected", "").startswith("---\n"):
            continue
        plain = to_plain(cdi.parse_spec(case["expected"].replace("{root}", "/run/root")))
        assert dump_simple(plain) == dump_document(plain, fast=False), case["name"]
        checked += 1
    assert checked >= 20
