"""Which hook binary generated specs name by default (cdi.generate.hooks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdi.generate import hooks


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


@pytest.fixture(autouse=True)
def no_host_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hooks, "HOOK_SEARCH_DIRS", ())


def test_given_path_wins(tmp_path: Path) -> None:
    executable(tmp_path / "a/cdi-hook")
    assert hooks.resolve_hook_path("/opt/hook", str(tmp_path / "a")) == "/opt/hook"


def test_ours_before_nvidias_whatever_the_path_order(tmp_path: Path) -> None:
    nvidia = executable(tmp_path / "a/nvidia-cdi-hook")
    ours = executable(tmp_path / "b/cdi-hook")
    assert hooks.resolve_hook_path("", f"{nvidia.parent}:{ours.parent}") == str(ours)


def test_nvidias_without_ours_then_the_default(tmp_path: Path) -> None:
    nvidia = executable(tmp_path / "a/nvidia-cdi-hook")
    (tmp_path / "b").mkdir()
    (tmp_path / "b/cdi-hook").write_text("not executable\n")
    assert hooks.resolve_hook_path("", f"{tmp_path / 'b'}:{nvidia.parent}") == str(nvidia)
    assert hooks.resolve_hook_path("", str(tmp_path / "b")) == "/usr/bin/nvidia-cdi-hook"


def test_relative_path_entries_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `PATH=.venv/bin:...` must not put a relative hook path into a spec: runtimes run hooks
    # from another directory, and OCI requires hook paths to be absolute.
    executable(tmp_path / "rel/cdi-hook")
    nvidia = executable(tmp_path / "abs/nvidia-cdi-hook")
    monkeypatch.chdir(tmp_path)
    assert hooks.resolve_hook_path("", f"rel:{nvidia.parent}") == str(nvidia)
    assert hooks.resolve_hook_path("", "rel") == "/usr/bin/nvidia-cdi-hook"
