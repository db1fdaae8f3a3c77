"""make_busybox_rootfs and find_busybox: contents, idempotence, refusals, messages."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cdi.runtime import RuntimeSetupError, find_busybox, make_busybox_rootfs
from cdi.runtime import rootfs as rootfs_module
from cdi.runtime.elf import elf_interpreter


def dynamic_executable() -> str:
    for candidate in (os.path.realpath(sys.executable), shutil.which("ls") or "/bin/ls"):
        try:
            if elf_interpreter(candidate) is not None:
                return candidate
        except (OSError, ValueError):
            continue
    pytest.skip("no dynamically linked executable on this host")


def snapshot(root: Path) -> dict[str, tuple[int, int, str | None, int]]:
    """path -> (mode, size, link target, mtime) for everything under *root*."""
    result = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
            result[os.path.relpath(path, root)] = (st.st_mode, st.st_size, target, st.st_mtime_ns)
    return result


def test_contents(busybox_rootfs: Path, require_busybox: str) -> None:
    root = busybox_rootfs
    binary = root / "bin" / "busybox"
    assert binary.is_file() and not binary.is_symlink()
    assert os.access(binary, os.X_OK)
    assert elf_interpreter(binary) is None
    assert binary.read_bytes() == Path(require_busybox).read_bytes()

    assert (root / "bin" / "sh").is_symlink()
    assert (root / "bin" / "sh").resolve() == binary.resolve()
    # links are relative, so they resolve inside the root, seen from the host or the container
    assert not os.readlink(root / "usr" / "bin" / "env").startswith("/")
    assert (root / "usr" / "bin" / "env").resolve() == binary.resolve()

    listed = subprocess.run(
        [require_busybox, "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    present = {p.name for p in root.rglob("*") if p.is_symlink()}
    assert set(listed) - {"busybox"} <= present

    assert stat.S_IMODE((root / "tmp").stat().st_mode) == 0o1777
    assert stat.S_IMODE(root.stat().st_mode) == 0o755
    for directory in ("dev", "proc", "sys", "root", "etc"):
        assert (root / directory).is_dir()
    assert (root / "etc" / "passwd").read_text().startswith("root:x:0:0:root:/root:/bin/sh\n")
    assert "root:x:0:" in (root / "etc" / "group").read_text().splitlines()


def test_idempotent_and_keeps_existing_files(tmp_path: Path, require_busybox: str) -> None:
    root = make_busybox_rootfs(tmp_path / "rootfs")
    assert root == tmp_path / "rootfs"
    before = snapshot(root)
    assert make_busybox_rootfs(root) == root
    assert snapshot(root) == before

    (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/ash\n")
    (root / "bin" / "ls").unlink()
    make_busybox_rootfs(root)
    assert (root / "etc" / "passwd").read_text() == "root:x:0:0::/root:/bin/ash\n"
    assert (root / "bin" / "ls").is_symlink()  # a missing applet is put back


def test_creates_missing_parents(tmp_path: Path, require_busybox: str) -> None:
    root = make_busybox_rootfs(tmp_path / "a" / "b" / "rootfs")
    assert (root / "bin" / "busybox").is_file()


def test_refuses_dynamic_busybox(tmp_path: Path) -> None:
    dynamic = dynamic_executable()
    with pytest.raises(RuntimeSetupError) as info:
        make_busybox_rootfs(tmp_path / "rootfs", busybox=dynamic)
    message = str(info.value)
    assert f"{dynamic} is dynamically linked" in message
    assert message.endswith("install Debian's busybox-static")
    assert not (tmp_path / "rootfs").exists()


def test_refuses_non_elf_busybox(tmp_path: Path) -> None:
    script = tmp_path / "busybox"
    script.write_text("#!/bin/sh\n" + "#" * 100 + "\n")
    script.chmod(0o755)
    with pytest.raises(RuntimeSetupError, match="is not an ELF file"):
        make_busybox_rootfs(tmp_path / "rootfs", busybox=str(script))


def test_missing_busybox(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(RuntimeSetupError) as info:
        make_busybox_rootfs(tmp_path / "rootfs", busybox=str(missing))
    assert str(info.value) == f"busybox {missing} does not exist: install Debian's busybox-static"


def test_never_writes_through_symlinks(tmp_path: Path, require_busybox: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "rootfs"
    root.mkdir()
    (root / "bin").symlink_to(outside)
    with pytest.raises(RuntimeSetupError, match="refusing to write through symbolic link"):
        make_busybox_rootfs(root)
    assert list(outside.iterdir()) == []


def test_find_busybox_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    monkeypatch.setattr(rootfs_module, "_CANDIDATES", ("/nonexistent/busybox",))
    with pytest.raises(RuntimeSetupError) as info:
        find_busybox()
    assert str(info.value) == "no static busybox found: install Debian's busybox-static"


def test_find_busybox_only_dynamic(monkeypatch: pytest.MonkeyPatch) -> None:
    dynamic = dynamic_executable()
    monkeypatch.setattr(shutil, "which", lambda *a, **k: dynamic)
    monkeypatch.setattr(rootfs_module, "_CANDIDATES", ())
    with pytest.raises(RuntimeSetupError) as info:
        find_busybox()
    message = str(info.value)
    assert message.startswith(f"no static busybox found: {dynamic} is dynamically linked")
    assert message.endswith(": install Debian's busybox-static")


def test_find_busybox_skips_dynamic_for_static(
    monkeypatch: pytest.MonkeyPatch, require_busybox: str
) -> None:
    dynamic = dynamic_executable()
    monkeypatch.setattr(shutil, "which", lambda *a, **k: dynamic)
    monkeypatch.setattr(rootfs_module, "_CANDIDATES", (require_busybox,))
    assert find_busybox() == require_busybox


def test_unwritable_destination_is_a_setup_error(require_busybox: str, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RuntimeSetupError) as info:
        make_busybox_rootfs(blocker / "rootfs", busybox=require_busybox)
    assert str(info.value) == (
        f"cannot make a root filesystem in {blocker / 'rootfs'}: Not a directory"
    )
