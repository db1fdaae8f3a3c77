"""``update-ldcache``: conf files written inside the root, the host's ldconfig chrooted into
it, a clean child, and hostile roots that must not make anything change outside."""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from cdi.generate.ldcache import parse_ldcache
from cdi.hooks import main
from cdi.hooks.errors import HookError
from cdi.hooks.rootfs import ContainerRoot
from cdi.hooks.update_ldcache import (
    CHILD_ENV,
    UpdateLdcacheError,
    in_root_path,
    ldconfig_path,
    run,
    system_dirs,
    write_configuration,
)
from generate.fixtures import LDCONFIG, write_shared_object
from tables import cases

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="ldconfig -r chroots: needs root")
needs_ldconfig = pytest.mark.skipif(LDCONFIG is None, reason="glibc's ldconfig is not installed")
MACHINE = os.uname().machine


def conf_files(root: Path, prefix: str) -> list[Path]:
    directory = root / "etc" / "ld.so.conf.d"
    return sorted(directory.glob(f"{prefix}-cdi-*.conf")) if directory.is_dir() else []


def conf_lines(root: Path, prefix: str) -> list[str]:
    found = conf_files(root, prefix)
    assert len(found) <= 1, found
    if not found:
        return []
    assert stat.S_IMODE(found[0].stat().st_mode) == 0o644
    return found[0].read_text().splitlines()


def cached_paths(root: Path) -> set[str]:
    cache = parse_ldcache((root / "etc" / "ld.so.cache").read_bytes())
    return {entry.value for entry in cache.entries}


def tree(path: Path) -> dict[str, bytes | str | None]:
    """Everything under *path* (file contents, link targets, directories), to compare."""
    result: dict[str, bytes | str | None] = {}
    for item in sorted(path.rglob("*")):
        key = str(item.relative_to(path))
        if item.is_symlink():
            result[key] = "-> " + os.readlink(item)
        elif item.is_file():
            result[key] = item.read_bytes()
        else:
            result[key] = None
    return result


def hook(root: Path, **options: Any) -> None:
    with ContainerRoot(str(root)) as opened:
        run(opened, options)


def fake_ldconfig(directory: Path, body: str, name: str = "ldconfig") -> Path:
    script = directory / name
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return script


# --------------------------------------------------------------------------- conf contents


@cases("hooks/ldconfig_dirs.yaml")
def test_conf_vectors(tmp_path: Path, case: dict[str, Any]) -> None:
    root = tmp_path / "root"
    root.mkdir()
    for name, content in (case.get("files") or {}).items():
        target = root / name.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    if case.get("debian"):
        (root / "etc").mkdir(exist_ok=True)
        (root / "etc" / "debian_version").write_text("12.5\n")
    folders = [in_root_path(folder) for folder in case["folders"]]
    with ContainerRoot(str(root)) as opened:
        write_configuration(opened, folders, "x86_64")
    assert conf_lines(root, "00") == case["first"]
    assert conf_lines(root, "zz") == case["last"]
    if "/etc/ld.so.conf" not in (case.get("files") or {}):
        conf = root / "etc" / "ld.so.conf"
        assert conf.read_text() == "include /etc/ld.so.conf.d/*.conf\n"
        assert stat.S_IMODE(conf.stat().st_mode) == 0o644


@pytest.mark.parametrize(
    ("machine", "debian", "expected"),
    [
        (
            "aarch64",
            True,
            ["/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib", "/usr/lib"],
        ),
        ("aarch64", False, ["/lib", "/usr/lib", "/lib64", "/usr/lib64"]),
        ("x86_64", False, ["/lib", "/usr/lib", "/lib64", "/usr/lib64", "/libx32", "/usr/libx32"]),
    ],
)
def test_system_dirs(machine: str, debian: bool, expected: list[str]) -> None:
    assert system_dirs(debian, machine) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/usr/lib/nvidia", "/usr/lib/nvidia"),
        ("usr/lib/nvidia/", "/usr/lib/nvidia"),
        ("/../../../etc", "/etc"),
        ("/usr/lib/../../..", "/"),
        ("//double", "/double"),
    ],
)
def test_folders_are_clamped_to_the_root(given: str, expected: str) -> None:
    assert in_root_path(given) == expected


def test_folder_with_a_newline_is_refused() -> None:
    with pytest.raises(UpdateLdcacheError, match="invalid folder"):
        in_root_path("/usr/lib\ninclude /x")


def test_existing_conf_files_are_not_replaced(tmp_path: Path) -> None:
    root = tmp_path / "root"
    conf = root / "etc" / "ld.so.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("/opt/mine\n")
    with ContainerRoot(str(root)) as opened:
        write_configuration(opened, ["/opt/mine", "/opt/new"], "x86_64")
        write_configuration(opened, ["/opt/new2"], "x86_64")
    assert conf.read_text() == "/opt/mine\n"
    # Each run adds files of its own; none overwrites another's.
    assert len(conf_files(root, "00")) == 2


def test_conf_reader_skips_fifos_and_links_out(tmp_path: Path) -> None:
    outside = tmp_path / "outside.conf"
    outside.write_text("/opt/from-the-host\n")
    root = tmp_path / "root"
    conf_d = root / "etc" / "ld.so.conf.d"
    conf_d.mkdir(parents=True)
    os.mkfifo(conf_d / "fifo.conf")  # a reader that did not check would block here
    (conf_d / "link.conf").symlink_to(outside)
    (conf_d / "dir.conf").mkdir()
    # A link inside the root (as Debian's alternatives make) is read, where it leads.
    (root / "etc" / "alternatives").mkdir()
    (root / "etc" / "alternatives" / "gl.conf").write_text("/opt/gl\n")
    (conf_d / "gl.conf").symlink_to("/etc/alternatives/gl.conf")
    with ContainerRoot(str(root)) as opened:
        write_configuration(opened, ["/opt/from-the-host", "/opt/gl"], "x86_64")
    assert conf_lines(root, "00") == ["/opt/from-the-host"]


# --------------------------------------------------------------------------- ldconfig path


def test_ldconfig_path_must_be_absolute() -> None:
    with pytest.raises(
        UpdateLdcacheError, match=r"^--ldconfig-path must be an absolute path, not 'sbin/ldconfig'$"
    ):
        ldconfig_path("sbin/ldconfig")


def test_ldconfig_real_is_preferred(tmp_path: Path) -> None:
    wrapper = fake_ldconfig(tmp_path, "exit 7\n")
    assert ldconfig_path(str(wrapper)) == str(wrapper)
    real = fake_ldconfig(tmp_path, 'touch "$2/real-ran"\n', "ldconfig.real")
    assert ldconfig_path(str(wrapper)) == str(real)
    root = tmp_path / "root"
    root.mkdir()
    hook(root, folder=["/opt/lib"], **{"ldconfig-path": [str(wrapper)]})
    assert (root / "real-ran").exists()


def test_ldconfig_failure_is_a_hook_error_with_its_stderr(tmp_path: Path) -> None:
    failing = fake_ldconfig(tmp_path, "echo 'ldconfig: something broke' >&2\nexit 3\n")
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(HookError) as caught:
        hook(root, folder=["/opt/lib"], **{"ldconfig-path": [str(failing)]})
    assert str(caught.value) == f"{failing} failed (exit status 3): ldconfig: something broke"


def test_missing_ldconfig(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    missing = tmp_path / "no-ldconfig"
    with pytest.raises(UpdateLdcacheError, match=rf"^cannot run {missing}: No such file"):
        hook(root, folder=["/opt/lib"], **{"ldconfig-path": [str(missing)]})


def test_child_environment_is_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "LD_PRELOAD": str(tmp_path / "evil.so"),
        "LD_LIBRARY_PATH": str(tmp_path),
        "PYTHONPATH": str(tmp_path),
        "PYTHONHOME": str(tmp_path),
        "SOMETHING_ELSE": "x",
    }.items():
        monkeypatch.setenv(name, value)
    dumper = fake_ldconfig(
        tmp_path,
        'env > "$2/env.txt"\n'
        'for arg in "$@"; do printf "%s\\n" "$arg"; done > "$2/argv.txt"\n'
        'readlink /proc/$$/fd/0 > "$2/stdin.txt"\n'
        'fds=$(for fd in /proc/$$/fd/*; do readlink "$fd" || true; done)\n'
        'printf "%s\\n" "$fds" > "$2/fds.txt"\n'
        "exit 0\n",
    )
    root = tmp_path / "root"
    root.mkdir()
    hook(root, folder=["/opt/lib"], **{"ldconfig-path": [str(dumper)]})
    env = dict(line.split("=", 1) for line in (root / "env.txt").read_text().splitlines())
    # The shell itself adds PWD (and some add SHLVL, OLDPWD); nothing else may be there.
    assert set(env) - {"PWD", "SHLVL", "OLDPWD", "_"} == set(CHILD_ENV)
    assert env["PATH"] == "/usr/sbin:/usr/bin:/sbin:/bin"
    assert (root / "argv.txt").read_text().splitlines() == [
        "-r",
        str(root),
        "-f",
        "/etc/ld.so.conf",
        "-C",
        "/etc/ld.so.cache",
    ]
    assert (root / "stdin.txt").read_text().strip() == "/dev/null"
    # No descriptor of ours (the root's O_PATH one, any directory of it) reaches the child.
    assert not [
        fd for fd in (root / "fds.txt").read_text().splitlines() if fd.startswith(str(root))
    ]


def test_through_the_command_line(tmp_path: Path) -> None:
    marker = fake_ldconfig(tmp_path, 'touch "$2/ran"\n')
    root = tmp_path / "root"
    root.mkdir()
    argv = ["update-ldcache", "--ldconfig-path", str(marker), "--folder", "/a", "--folder=/b"]
    state = io.BytesIO(json.dumps({"ociVersion": "1.0.2", "root": str(root)}).encode())
    assert main.run(argv, state, {}) == 0
    assert (root / "ran").exists()
    assert conf_lines(root, "00") == ["/a", "/b"]


# --------------------------------------------------------------------------- real ldconfig


def glibc_root(base: Path, *, debian: bool) -> Path:
    root = base / "root"
    (root / "etc").mkdir(parents=True)
    if debian:
        (root / "etc" / "debian_version").write_text("12.5\n")
    return root


@needs_root
@needs_ldconfig
@pytest.mark.parametrize("debian", [True, False])
def test_real_ldconfig_caches_the_folder(tmp_path: Path, debian: bool) -> None:
    root = glibc_root(tmp_path, debian=debian)
    write_shared_object(root / "usr/lib/nvidia/libfake.so.1.2.3", "libfake.so.1")
    system = system_dirs(debian, MACHINE)[-1]  # /usr/lib or /usr/lib64 (or libx32): cached too
    write_shared_object(root / system.lstrip("/") / "libsys.so.4", "libsys.so.4")
    hook(root, folder=["/usr/lib/nvidia"], **{"ldconfig-path": [LDCONFIG]})
    paths = cached_paths(root)
    assert "/usr/lib/nvidia/libfake.so.1" in paths
    assert f"{system}/libsys.so.4" in paths
    # ldconfig made the soname link inside the root, as it does on a host.
    assert os.readlink(root / "usr/lib/nvidia/libfake.so.1") == "libfake.so.1.2.3"


@needs_root
@needs_ldconfig
def test_folders_come_before_system_dirs(tmp_path: Path) -> None:
    root = glibc_root(tmp_path, debian=False)
    write_shared_object(root / "opt/nvidia/libdup.so.1", "libdup.so.1")
    write_shared_object(root / "usr/lib/libdup.so.1", "libdup.so.1")
    hook(root, folder=["/opt/nvidia"], **{"ldconfig-path": [LDCONFIG]})
    cache = parse_ldcache((root / "etc" / "ld.so.cache").read_bytes())
    first = next(entry for entry in cache.entries if entry.key == "libdup.so.1")
    assert first.value == "/opt/nvidia/libdup.so.1"


# --------------------------------------------------------------------------- musl


def test_alpine_appends_to_the_musl_path_and_runs_no_ldconfig(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "alpine-release").write_text("3.20.0\n")
    marker = fake_ldconfig(tmp_path, 'touch "$2/ldconfig-ran"\n')
    options = {"ldconfig-path": [str(marker)]}
    hook(root, folder=["/usr/lib/nvidia", "/usr/lib"], **options)
    arch = {"x86_64": "x86_64", "aarch64": "aarch64"}.get(MACHINE, MACHINE)
    path_file = root / "etc" / f"ld-musl-{arch}.path"
    # Created with musl's default path first, so that /lib and /usr/lib stay searched.
    assert path_file.read_text() == "/lib\n/usr/local/lib\n/usr/lib\n/usr/lib/nvidia\n"
    assert stat.S_IMODE(path_file.stat().st_mode) == 0o644
    hook(root, folder=["/usr/lib/nvidia", "/opt/other"], **options)
    assert path_file.read_text().splitlines()[-2:] == ["/usr/lib/nvidia", "/opt/other"]
    assert not (root / "ldconfig-ran").exists()
    assert not (root / "etc" / "ld.so.conf.d").exists()


def test_alpine_musl_path_link_out_of_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "musl.path").write_text("/host/only\n")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "alpine-release").write_text("3.20.0\n")
    arch = {"x86_64": "x86_64", "aarch64": "aarch64"}.get(MACHINE, MACHINE)
    (root / "etc" / f"ld-musl-{arch}.path").symlink_to(outside / "musl.path")
    before = tree(outside)
    hook(root, folder=["/usr/lib/nvidia"])
    assert tree(outside) == before
    # The link was resolved inside the root (nothing there): the file is ours now.
    path_file = root / "etc" / f"ld-musl-{arch}.path"
    assert not path_file.is_symlink()
    assert path_file.read_text().endswith("/usr/lib/nvidia\n")


# --------------------------------------------------------------------------- hostile roots


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A host directory the container's links point at, holding things ldconfig would
    change if it ever worked there: a library without its soname link, a cache, a conf."""
    path = tmp_path / "outside"
    write_shared_object(path / "libout.so.1.0", "libout.so.1")
    (path / "cache").write_bytes(b"precious cache")
    (path / "ld.so.conf").write_text("/outside/dir\n")
    return path


@needs_root
@pytest.mark.parametrize("target", ["/etc", "../../../../../../etc", "/"])
def test_etc_link_to_the_host_etc(tmp_path: Path, target: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "etc").symlink_to(target)
    host_etc = tree(Path("/etc/ld.so.conf.d")) if Path("/etc/ld.so.conf.d").is_dir() else {}
    cache = Path("/etc/ld.so.cache")
    cache_before = cache.read_bytes() if cache.exists() else None
    try:
        hook(root, folder=["/usr/lib/nvidia"], **{"ldconfig-path": [LDCONFIG or "/sbin/ldconfig"]})
    except (HookError, OSError):
        pass  # refusing is fine; what matters is that the host did not change
    else:
        # "/" inside the root is the root itself: then the files are the root's own (read
        # them without the link, which the host would follow to its own "/").
        assert target == "/"
        written = [p.read_text() for p in (root / "ld.so.conf.d").glob("00-cdi-*.conf")]
        assert written == ["/usr/lib/nvidia\n"]
        assert (root / "ld.so.cache").is_file()
    for name in ("ld.so.conf", "ld.so.conf.d", "ld.so.cache"):
        assert not Path("/", name).exists()
    if Path("/etc/ld.so.conf.d").is_dir():
        assert tree(Path("/etc/ld.so.conf.d")) == host_etc
    assert (cache.read_bytes() if cache.exists() else None) == cache_before


@needs_root
@needs_ldconfig
def test_cache_link_out_of_the_root(tmp_path: Path, outside: Path) -> None:
    root = glibc_root(tmp_path, debian=True)
    write_shared_object(root / "usr/lib/nvidia/libfake.so.1", "libfake.so.1")
    (root / "etc" / "ld.so.cache").symlink_to(outside / "cache")
    before = tree(outside)
    hook(root, folder=["/usr/lib/nvidia"], **{"ldconfig-path": [LDCONFIG]})
    assert tree(outside) == before
    assert not (root / "etc" / "ld.so.cache").is_symlink()
    assert "/usr/lib/nvidia/libfake.so.1" in cached_paths(root)


@needs_root
@needs_ldconfig
def test_conf_dir_link_out_of_the_root(tmp_path: Path, outside: Path) -> None:
    root = glibc_root(tmp_path, debian=True)
    write_shared_object(root / "usr/lib/nvidia/libfake.so.1", "libfake.so.1")
    (root / "etc" / "ld.so.conf.d").symlink_to(outside)
    before = tree(outside)
    hook(root, folder=["/usr/lib/nvidia"], **{"ldconfig-path": [LDCONFIG]})
    assert tree(outside) == before
    # The link resolved inside the root: the conf files are under ROOT/<outside>.
    inner = root / str(outside).lstrip("/")
    assert [p.read_text() for p in inner.glob("00-cdi-*.conf")] == ["/usr/lib/nvidia\n"]
    assert "/usr/lib/nvidia/libfake.so.1" in cached_paths(root)


@needs_root
@needs_ldconfig
def test_conf_link_out_of_the_root_is_neither_read_nor_written(
    tmp_path: Path, outside: Path
) -> None:
    root = glibc_root(tmp_path, debian=False)
    (root / "etc" / "ld.so.conf").symlink_to(outside / "ld.so.conf")
    before = tree(outside)
    hook(root, folder=["/outside/dir"], **{"ldconfig-path": [LDCONFIG]})
    assert tree(outside) == before
    # The host file's "/outside/dir" did not count as configured.
    assert conf_lines(root, "00") == ["/outside/dir"]
    assert (root / "etc" / "ld.so.conf").read_text() == "include /etc/ld.so.conf.d/*.conf\n"


@needs_root
@needs_ldconfig
def test_library_dir_link_out_of_the_root(tmp_path: Path, outside: Path) -> None:
    root = glibc_root(tmp_path, debian=True)
    triplet_dir = system_dirs(True, MACHINE)[1]  # /usr/lib/<triplet>
    (root / triplet_dir.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    (root / triplet_dir.lstrip("/")).symlink_to(outside)
    before = tree(outside)
    hook(root, folder=[triplet_dir, str(outside)], **{"ldconfig-path": [LDCONFIG]})
    assert tree(outside) == before  # no libout.so.1 link made there
    assert not [path for path in cached_paths(root) if "libout" in path]


@needs_root
@needs_ldconfig
def test_dotdot_in_folder_stays_in_the_root(tmp_path: Path, outside: Path) -> None:
    root = glibc_root(tmp_path, debian=False)
    escape = "/usr/lib/../../../../../../../.." + str(outside)
    before = tree(outside)
    hook(root, folder=[escape], **{"ldconfig-path": [LDCONFIG]})
    assert tree(outside) == before
    assert conf_lines(root, "00") == [str(outside)]
    assert not [path for path in cached_paths(root) if "libout" in path]


@needs_root
def test_conf_dir_swapped_for_a_link_while_the_hook_runs(tmp_path: Path, outside: Path) -> None:
    root = glibc_root(tmp_path, debian=True)
    conf_d = root / "etc" / "ld.so.conf.d"
    away = root / "etc" / "conf.d-away"
    conf_d.mkdir()
    before = tree(outside)
    stop = threading.Event()

    def flip() -> None:
        # Directory -> link to the host directory -> directory, as fast as it goes.
        while not stop.is_set():
            try:
                os.rename(conf_d, away)
                os.symlink(outside, conf_d)
                os.unlink(conf_d)
                os.rename(away, conf_d)
            except OSError:
                pass

    flipper = threading.Thread(target=flip)
    flipper.start()
    ldconfig = LDCONFIG or str(fake_ldconfig(tmp_path, "exit 0\n"))
    try:
        for _ in range(40):
            # Failing is allowed; writing outside is not.
            with contextlib.suppress(HookError, OSError):
                hook(root, folder=["/usr/lib/nvidia"], **{"ldconfig-path": [ldconfig]})
    finally:
        stop.set()
        flipper.join()
    assert tree(outside) == before
