"""Locating files in a root: libraries (fixed dirs and ld.so.cache), executables, device
nodes, and chroot-style link resolution that never leaves the root."""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cdi.generate.ldcache import LdcacheLocator
from cdi.generate.locate import (
    LIBRARY_SEARCH_PATHS,
    FileLocator,
    Locator,
    RootView,
    char_device_locator,
    container_path,
    executable_locator,
    is_directory,
    is_file_or_socket,
    is_not_directory,
    library_locator,
    resolve_in_root,
    symlink_chain,
)
from generate.fixtures import (
    NVIDIA_MAJOR,
    FixtureRoot,
    build_rootfs_1,
    build_rootfs_2,
    build_rootfs_empty,
    build_rootfs_no_cache_lib64,
    make_char_device,
    make_socket,
    requires_root,
    symlink,
    write_file,
)
from generate.nvidiaroot import build_nvidia_root
from tables import cases

ROOTS: dict[str, Callable[[Path], Any]] = {
    "rootfs-1": build_rootfs_1,
    "rootfs-2": build_rootfs_2,
    "rootfs-empty": build_rootfs_empty,
    "rootfs-no-cache-lib64": build_rootfs_no_cache_lib64,
    "nvidia-minimal": build_nvidia_root,
    "nvidia-full": lambda base: build_nvidia_root(base, library_set="full"),
    "nvidia-usr-local": lambda base: build_nvidia_root(base, lib_dir="/usr/local/nvidia/lib64"),
}
LOCATORS: dict[str, Callable[[str], Locator]] = {
    "library": library_locator,
    "ldcache": LdcacheLocator,
    "fixed": lambda root: FileLocator(root, LIBRARY_SEARCH_PATHS, resolve_symlinks=True),
}


@cases("generate/ldcache_patterns.yaml")
def test_library_patterns(tmp_path: Path, case: dict[str, Any]) -> None:
    root = tmp_path / "root"
    ROOTS[case["root"]](root)
    found = LOCATORS[case["locator"]](str(root)).locate(case["pattern"])
    assert [container_path(str(root), path) for path in found] == case["found"]
    assert all(path.startswith(f"{root}/") for path in found)


# ------------------------------------------------------------------ resolution inside a root


@pytest.mark.parametrize(
    ("root", "host", "container"),
    [
        ("/", "/usr/lib/libcuda.so", "/usr/lib/libcuda.so"),
        ("/run/nvidia/driver", "/run/nvidia/driver/usr/bin/nvidia-smi", "/usr/bin/nvidia-smi"),
        ("/run/nvidia/driver/", "/run/nvidia/driver/usr/bin/nvidia-smi", "/usr/bin/nvidia-smi"),
        ("/run/nvidia/driver", "/run/nvidia/driver", "/"),
        ("/run/nvidia/driver", "/run/nvidia/driver-2/lib", "/run/nvidia/driver-2/lib"),
        ("/run/nvidia/driver", "/usr/lib/libcuda.so", "/usr/lib/libcuda.so"),
        ("", "/dev/nvidia0", "/dev/nvidia0"),
    ],
)
def test_container_path(root: str, host: str, container: str) -> None:
    assert container_path(root, host) == container


def test_absolute_link_is_relative_to_the_root(tmp_path: Path) -> None:
    write_file(tmp_path / "usr/lib64/libcuda.so.999")
    symlink(tmp_path / "lib64", "/usr/lib64")
    symlink(tmp_path / "usr/lib64/libcuda.so.1", "/lib64/libcuda.so.999")
    assert resolve_in_root(str(tmp_path), "/lib64/libcuda.so.1") == str(
        tmp_path / "usr/lib64/libcuda.so.999"
    )


def test_dotdot_stops_at_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_file(tmp_path / "secret.so")  # outside the root
    symlink(root / "lib/libx.so", "../../../../secret.so")
    assert resolve_in_root(str(root), "lib/libx.so") == str(root / "secret.so")
    assert resolve_in_root(str(root), "/../../secret.so") == str(root / "secret.so")


def test_dotdot_after_a_link_climbs_from_its_target(tmp_path: Path) -> None:
    (tmp_path / "usr/lib/x86_64-linux-gnu").mkdir(parents=True)
    symlink(tmp_path / "lib", "usr/lib/x86_64-linux-gnu")
    assert resolve_in_root(str(tmp_path), "/lib/../libcuda.so") == str(
        tmp_path / "usr/lib/libcuda.so"
    )


def test_missing_components_are_kept(tmp_path: Path) -> None:
    symlink(tmp_path / "lib", "usr/lib")
    assert resolve_in_root(str(tmp_path), "/lib/nothing/here") == str(
        tmp_path / "usr/lib/nothing/here"
    )


def test_link_loop_is_eloop(tmp_path: Path) -> None:
    symlink(tmp_path / "a", "b")
    symlink(tmp_path / "b", "/a")
    with pytest.raises(OSError) as caught:
        resolve_in_root(str(tmp_path), "/a")
    assert caught.value.errno == errno.ELOOP


def test_forty_links_are_followed_not_more(tmp_path: Path) -> None:
    write_file(tmp_path / "end")
    symlink(tmp_path / "l40", "end")
    for index in range(40, 0, -1):
        symlink(tmp_path / f"l{index - 1}", f"l{index}")
    assert resolve_in_root(str(tmp_path), "l1") == str(tmp_path / "end")  # 40 links
    with pytest.raises(OSError):
        resolve_in_root(str(tmp_path), "l0")  # 41


def test_symlink_chain(tmp_path: Path) -> None:
    libs = tmp_path / "lib/x86_64-linux-gnu"
    write_file(tmp_path / "usr/lib/x86_64-linux-gnu/libcuda.so.999.88.77")
    symlink(tmp_path / "usr/lib/x86_64-linux-gnu/libcuda.so.1", "libcuda.so.999.88.77")
    symlink(libs / "libcuda.so", "/usr/lib/x86_64-linux-gnu/libcuda.so.1")
    chain = symlink_chain(str(tmp_path), str(libs / "libcuda.so"))
    assert chain == [
        str(libs / "libcuda.so"),
        str(tmp_path / "usr/lib/x86_64-linux-gnu/libcuda.so.1"),
        str(tmp_path / "usr/lib/x86_64-linux-gnu/libcuda.so.999.88.77"),
    ]
    plain = str(tmp_path / "usr/lib/x86_64-linux-gnu/libcuda.so.999.88.77")
    assert symlink_chain(str(tmp_path), plain) == [plain]
    assert symlink_chain(str(tmp_path), "/elsewhere/libcuda.so") == ["/elsewhere/libcuda.so"]


def test_symlink_chain_stops_at_a_cycle_and_a_dangling_link(tmp_path: Path) -> None:
    symlink(tmp_path / "a.so", "b.so")
    symlink(tmp_path / "b.so", "a.so")
    assert symlink_chain(str(tmp_path), str(tmp_path / "a.so")) == [
        str(tmp_path / "a.so"),
        str(tmp_path / "b.so"),
    ]
    symlink(tmp_path / "c.so", "missing.so")
    assert symlink_chain(str(tmp_path), str(tmp_path / "c.so")) == [
        str(tmp_path / "c.so"),
        str(tmp_path / "missing.so"),
    ]


# ------------------------------------------------------------------ the file locator


def test_order_filters_and_count(tmp_path: Path) -> None:
    for name in ("libb.so.1", "liba.so.1", "libC.so.1"):
        write_file(tmp_path / "usr/lib" / name)
    (tmp_path / "usr/lib/libdir.so.1").mkdir()
    write_file(tmp_path / "opt/lib/liba.so.1")
    locator = FileLocator(str(tmp_path), ("/usr/lib", "/opt/lib", "/missing"))
    found = [container_path(str(tmp_path), p) for p in locator.locate("lib*.so.1")]
    assert found == [
        "/usr/lib/libC.so.1",
        "/usr/lib/liba.so.1",
        "/usr/lib/libb.so.1",
        "/opt/lib/liba.so.1",
    ]
    first = FileLocator(str(tmp_path), ("/usr/lib", "/opt/lib"), count=1)
    assert first.locate("liba.so.1") == [str(tmp_path / "usr/lib/liba.so.1")]
    dirs = FileLocator(str(tmp_path), ("/usr/lib",), accept=is_directory)
    assert dirs.locate("lib*") == [str(tmp_path / "usr/lib/libdir.so.1")]
    assert FileLocator(str(tmp_path)).locate("usr/lib/nothing*") == []


def test_magic_in_directories(tmp_path: Path) -> None:
    write_file(tmp_path / "lib/firmware/nvidia/580.95.05/gsp_ga10x.bin")
    write_file(tmp_path / "lib/firmware/nvidia/580.95.05/gsp_tu10x.bin")
    write_file(tmp_path / "lib/firmware/nvidia/570.1/gsp_ga10x.bin")
    locator = FileLocator(str(tmp_path), ("/lib/firmware",))
    assert [container_path(str(tmp_path), p) for p in locator.locate("nvidia/5*/gsp*.bin")] == [
        "/lib/firmware/nvidia/570.1/gsp_ga10x.bin",
        "/lib/firmware/nvidia/580.95.05/gsp_ga10x.bin",
        "/lib/firmware/nvidia/580.95.05/gsp_tu10x.bin",
    ]


def test_relative_directory_link_keeps_its_spelling(tmp_path: Path) -> None:
    """As nvidia-ctk: the path is returned as searched, through a link inside the root."""
    write_file(tmp_path / "usr/bin/nvidia-smi", mode=0o755)
    symlink(tmp_path / "bin", "usr/bin")
    locator = FileLocator(str(tmp_path), ("/bin",))
    assert locator.locate("nvidia-smi") == [str(tmp_path / "bin/nvidia-smi")]
    resolving = FileLocator(str(tmp_path), ("/bin",), resolve_symlinks=True)
    assert resolving.locate("nvidia-smi") == [str(tmp_path / "usr/bin/nvidia-smi")]


def test_absolute_link_gives_the_path_inside_the_root(tmp_path: Path) -> None:
    """The host's kernel would follow ``{root}/bin -> /usr/bin`` to the host's /usr/bin, so
    the path resolved inside the root is returned instead."""
    write_file(tmp_path / "usr/bin/nvidia-smi", mode=0o755)
    symlink(tmp_path / "bin", "/usr/bin")
    write_file(tmp_path / "usr/share/real.json")
    symlink(tmp_path / "etc/vulkan/icd.d/nvidia_icd.json", "/usr/share/real.json")
    assert FileLocator(str(tmp_path), ("/bin",)).locate("nvidia-smi") == [
        str(tmp_path / "usr/bin/nvidia-smi")
    ]
    assert FileLocator(str(tmp_path), ("/etc",)).locate("vulkan/icd.d/nvidia_icd.json") == [
        str(tmp_path / "usr/share/real.json")
    ]


def test_absolute_links_under_the_host_root_keep_their_spelling() -> None:
    """Under ``/`` the host's view is the root's view: nothing to correct."""
    found = FileLocator("/", ("/",), accept=is_not_directory).locate("proc/self/exe")
    assert found == ["/proc/self/exe"]


def test_link_out_of_the_root_finds_nothing_outside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_file(tmp_path / "outside/libcuda.so.999.88.77")
    symlink(root / "lib64/libcuda.so.1", str(tmp_path / "outside/libcuda.so.999.88.77"))
    symlink(root / "lib64/libcuda.so.2", "../../outside/libcuda.so.999.88.77")
    symlink(root / "usr/lib64", str(tmp_path / "outside"))
    assert library_locator(str(root)).locate("libcuda.so.*") == []
    write_file(root / str(tmp_path / "outside/libcuda.so.999.88.77").lstrip("/"))
    assert library_locator(str(root)).locate("libcuda.so.*") == [
        str(root) + str(tmp_path / "outside/libcuda.so.999.88.77")
    ]


def test_ldcache_entry_linking_out_of_the_root(tmp_path: Path) -> None:
    build_rootfs_1(tmp_path)
    libs = tmp_path / "lib/x86_64-linux-gnu"
    (libs / "libcuda.so.1").unlink()
    symlink(libs / "libcuda.so.1", "/../../../../etc/hostname")
    assert LdcacheLocator(str(tmp_path)).locate("libcuda.so.1") == []


def test_socket_filter(tmp_path: Path) -> None:
    make_socket(tmp_path / "run/nvidia-persistenced/socket")
    (tmp_path / "tmp/nvidia-mps").mkdir(parents=True)
    ipc = FileLocator(str(tmp_path), ("/run", "/var/run"), accept=is_file_or_socket, count=1)
    assert ipc.locate("nvidia-persistenced/socket") == [
        str(tmp_path / "run/nvidia-persistenced/socket")
    ]
    assert FileLocator(str(tmp_path)).locate("run/nvidia-persistenced/socket") == []
    assert FileLocator(str(tmp_path), accept=is_not_directory).locate("tmp/nvidia-mps") == []


def test_malformed_pattern_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_file(tmp_path / "lib/libcuda.so.1")
    with caplog.at_level(logging.WARNING, logger="cdi.generate"):
        assert FileLocator(str(tmp_path)).locate("lib/libcuda[") == []
        assert LdcacheLocator(str(tmp_path)).locate("libcuda[") == []
    assert "syntax error in pattern" in caplog.text


def test_locator_reads_the_cache_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_rootfs_2(tmp_path)
    calls = []
    from cdi.generate import ldcache

    real = ldcache.read_ldcache
    monkeypatch.setattr(ldcache, "read_ldcache", lambda root: calls.append(root) or real(root))
    locator = library_locator(str(tmp_path))
    for pattern in ("libcuda.so.1", "libcuda.so.*.*", "libnvidia-ml.so.*", "libcuda.so.1"):
        locator.locate(pattern)
    assert calls == [str(tmp_path)]


def test_explicit_search_paths_are_host_paths(tmp_path: Path) -> None:
    write_file(tmp_path / "drivers/libcuda.so.580.95.05")
    symlink(tmp_path / "drivers/libcuda.so.1", "libcuda.so.580.95.05")
    locator = library_locator("/nonexistent-root", [str(tmp_path / "drivers")])
    assert locator.locate("libcuda.so.1") == [str(tmp_path / "drivers/libcuda.so.580.95.05")]


def test_shared_view_between_locators(tmp_path: Path) -> None:
    write_file(tmp_path / "usr/lib64/libcuda.so.1")
    view = RootView(str(tmp_path))
    first = FileLocator(str(tmp_path), ("/usr/lib64",), view=view)
    assert first.locate("libcuda.so.*") == [str(tmp_path / "usr/lib64/libcuda.so.1")]
    write_file(tmp_path / "usr/lib64/libcuda.so.2")
    second = FileLocator(str(tmp_path), ("/usr/lib64",), view=view)
    assert len(second.locate("libcuda.so.*")) == 1  # the listing was cached
    assert len(FileLocator(str(tmp_path), ("/usr/lib64",)).locate("libcuda.so.*")) == 2


# ------------------------------------------------------------------ executables, devices


def test_executables(tmp_path: Path) -> None:
    write_file(tmp_path / "usr/bin/nvidia-smi", "#!/bin/sh\n", 0o755)
    write_file(tmp_path / "opt/bin/nvidia-smi", "#!/bin/sh\n", 0o755)
    write_file(tmp_path / "sbin/nvidia-smi", "not executable\n", 0o644)
    write_file(tmp_path / "usr/local/bin/nvidia-debugdump", "", 0o100)
    locator = executable_locator(str(tmp_path), "/sbin:/opt/bin::relative")
    assert locator.locate("nvidia-smi") == [str(tmp_path / "opt/bin/nvidia-smi")]
    assert executable_locator(str(tmp_path), "").locate("nvidia-smi") == [
        str(tmp_path / "usr/bin/nvidia-smi")
    ]
    assert executable_locator(str(tmp_path), "").locate("nvidia-debugdump") == [
        str(tmp_path / "usr/local/bin/nvidia-debugdump")
    ]


def test_executables_are_not_looked_up_on_the_host(tmp_path: Path) -> None:
    """nvidia-ctk falls back to the host's own ``$PATH`` directories for a root other than
    ``/``; we never read outside the root."""
    host_bin = tmp_path / "host-bin"
    write_file(host_bin / "nvidia-smi", "#!/bin/sh\n", 0o755)
    root = tmp_path / "root"
    root.mkdir()
    assert executable_locator(str(root), str(host_bin)).locate("nvidia-smi") == []
    assert executable_locator("/", str(host_bin)).locate("nvidia-smi") == [
        str(host_bin / "nvidia-smi")
    ]


def test_path_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_file(tmp_path / "custom/tool", "#!/bin/sh\n", 0o755)
    monkeypatch.setenv("PATH", "/custom")
    assert executable_locator(str(tmp_path)).locate("tool") == [str(tmp_path / "custom/tool")]


@requires_root
def test_char_devices(tmp_path: Path) -> None:
    make_char_device(tmp_path / "dev/nvidia0", NVIDIA_MAJOR, 0)
    make_char_device(tmp_path / "dev/nvidiactl", NVIDIA_MAJOR, 255)
    write_file(tmp_path / "dev/nvidia-fake")  # a regular file is not a device
    make_char_device(tmp_path / "dev/real/nvidia-uvm", 510, 0)
    symlink(tmp_path / "dev/nvidia-uvm", "real/nvidia-uvm")  # counts, by its own name
    symlink(tmp_path / "dev/nvidia-null", "/dev/null")  # the root's /dev/null: absent
    locator = char_device_locator(str(tmp_path))
    assert [container_path(str(tmp_path), p) for p in locator.locate("/dev/nvidia*")] == [
        "/dev/nvidia-uvm",
        "/dev/nvidia0",
        "/dev/nvidiactl",
    ]
    assert locator.locate("/dev/nvidia-caps/nvidia-cap*") == []


@requires_root
def test_fixture_root_devices(tmp_path: Path) -> None:
    info = build_nvidia_root(tmp_path, gpus=2)
    nodes = char_device_locator(info.dev_root).locate("/dev/dri/*")
    assert [container_path(info.dev_root, p) for p in nodes] == [
        "/dev/dri/card1",
        "/dev/dri/card2",
        "/dev/dri/renderD128",
        "/dev/dri/renderD129",
    ]
    st = os.stat(nodes[0])
    assert (os.major(st.st_rdev), os.minor(st.st_rdev), st.st_gid) == (226, 1, 44)


def test_fixture_roots_report_nodes(tmp_path: Path) -> None:
    assert build_rootfs_empty(tmp_path / "e") == FixtureRoot(str(tmp_path / "e"))
    assert build_rootfs_1(tmp_path / "one").has_device_nodes == (os.geteuid() == 0)


def test_resolve_plain_path(tmp_path: Path) -> None:
    assert resolve_in_root(str(tmp_path), "/dev/nvidia0") == f"{tmp_path}/dev/nvidia0"
    assert resolve_in_root(str(tmp_path), "dev//./nvidia0") == f"{tmp_path}/dev/nvidia0"
    assert resolve_in_root(str(tmp_path), "/") == str(tmp_path)
    assert resolve_in_root("/", "/dev/null") == "/dev/null"


def test_resolve_clamps_dotdot_at_the_root(tmp_path: Path) -> None:
    assert resolve_in_root(str(tmp_path), "/../../etc/passwd") == f"{tmp_path}/etc/passwd"
    assert resolve_in_root(str(tmp_path), "/a/../../b") == f"{tmp_path}/b"


def test_resolve_absolute_link_starts_at_the_root(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "dev").symlink_to("/real")
    assert resolve_in_root(str(tmp_path), "/dev/nvidia0") == f"{tmp_path}/real/nvidia0"


def test_resolve_relative_link_cannot_climb_out(tmp_path: Path) -> None:
    (tmp_path / "dev").symlink_to("../../../../etc")
    assert resolve_in_root(str(tmp_path), "/dev/passwd") == f"{tmp_path}/etc/passwd"


def test_resolve_follows_chains_and_the_last_component(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "node").write_text("")
    (tmp_path / "b").symlink_to("a")
    (tmp_path / "a" / "link").symlink_to("/b/node")
    assert resolve_in_root(str(tmp_path), "/b/link") == f"{tmp_path}/a/node"
    assert resolve_in_root(str(tmp_path), "/b/link", follow_last=False) == f"{tmp_path}/a/link"


def test_resolve_keeps_missing_components(tmp_path: Path) -> None:
    assert resolve_in_root(str(tmp_path), "/no/such/x") == f"{tmp_path}/no/such/x"


def test_resolve_reports_a_loop(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        resolve_in_root(str(tmp_path), "/a/x")
