"""cdi-hook chmod: modes set inside the root only, missing paths skipped, EPERM ignored."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from cdi.hooks import chmod as subcommand
from cdi.hooks.errors import HookError
from cdi.hooks.rootfs import ContainerRoot


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_paths_get_the_mode_unless_they_have_it(root: ContainerRoot) -> None:
    rootdir = Path(root.host_path)
    (rootdir / "dev/dri").mkdir(parents=True)
    (rootdir / "dev/nvidia-caps").mkdir()
    (rootdir / "dev/dri").chmod(0o700)
    (rootdir / "dev/nvidia-caps").chmod(0o755)
    changed = subcommand.chmod_paths(root, 0o755, ["/dev/dri", "/dev/nvidia-caps", "/dev/gone"])
    assert changed == ["/dev/dri"]
    assert mode_of(rootdir / "dev/dri") == 0o755


def test_run_parses_the_flags(root: ContainerRoot) -> None:
    rootdir = Path(root.host_path)
    (rootdir / "dev/dri").mkdir(parents=True)
    subcommand.run(root, {"mode": ["0711"], "path": ["/dev/dri", "dev/dri", "/missing/x"]})
    assert mode_of(rootdir / "dev/dri") == 0o711
    subcommand.run(root, {"mode": ["755"]})  # no paths: nothing to do
    assert subcommand.FLAGS == {"mode": "string", "path": "list"}


@pytest.mark.parametrize("text", ["", "u+x", "9", "0o755", "12345", "-755", "7 55"])
def test_a_mode_that_is_not_octal_is_an_error(text: str) -> None:
    with pytest.raises(HookError) as caught:
        subcommand.parse_mode(text)
    assert str(caught.value) == f'invalid mode "{text}": expected an octal number such as 755'


@pytest.mark.parametrize(("text", "mode"), [("755", 0o755), ("0644", 0o644), ("4755", 0o4755)])
def test_octal_modes(text: str, mode: int) -> None:
    assert subcommand.parse_mode(text) == mode


def test_the_mode_is_required(root: ContainerRoot) -> None:
    with pytest.raises(HookError) as caught:
        subcommand.run(root, {"path": ["/dev/dri"]})
    assert str(caught.value) == "a mode is required (--mode)"


def test_dev_linked_to_the_host_leaves_the_host_alone(root: ContainerRoot, tmp_path: Path) -> None:
    """nvidia-cdi-hook chmods the host directory here; we resolve inside the root."""
    outside = tmp_path / "outside"
    (outside / "dri").mkdir(parents=True)
    (outside / "dri").chmod(0o700)
    rootdir = Path(root.host_path)
    os.symlink(str(outside), rootdir / "dev")
    os.symlink("../" * 10 + str(outside).lstrip("/"), rootdir / "dev2")
    assert subcommand.chmod_paths(root, 0o777, ["/dev/dri", "/dev2/dri", "/dev"]) == []
    assert mode_of(outside / "dri") == 0o700 and mode_of(outside) == 0o755
    inside = rootdir / outside.relative_to("/") / "dri"
    inside.mkdir(parents=True)
    inside.chmod(0o700)
    assert subcommand.chmod_paths(root, 0o777, ["/dev/dri"]) == ["/dev/dri"]
    assert mode_of(inside) == 0o777 and mode_of(outside / "dri") == 0o700


def test_eperm_is_logged_and_ignored(
    root: ContainerRoot, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(path: str, mode: int) -> bool:
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), path)

    monkeypatch.setattr(root, "chmod", refuse)
    assert subcommand.chmod_paths(root, 0o755, ["/dev/dri"]) == []
    assert capsys.readouterr().err == (
        "cdi-hook: chmod: ignoring /dev/dri: Operation not permitted\n"
    )


def test_other_errors_fail(root: ContainerRoot, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(path: str, mode: int) -> bool:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)

    monkeypatch.setattr(root, "chmod", fail)
    with pytest.raises(HookError) as caught:
        subcommand.chmod_paths(root, 0o755, ["/dev/dri"])
    assert str(caught.value) == "cannot change the mode of /dev/dri: Read-only file system"
