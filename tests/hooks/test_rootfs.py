"""ContainerRoot: every path resolved inside a hostile root, with both resolvers.

Each test runs twice: with the kernel's openat2 (skipped where it does not work) and with
the descriptor walk forced, and both must agree. "Outside" directories are made in
tmp_path next to the root; the hostile cases check they stay exactly as they were.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import random
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cdi.hooks import resolve
from cdi.hooks.rootfs import ContainerRoot


@pytest.fixture(params=["openat2", "walk"])
def kernel(request: pytest.FixtureRequest) -> bool:
    if request.param == "openat2" and not resolve.openat2_works():
        pytest.skip("openat2 does not work on this kernel")
    return bool(request.param == "openat2")


@pytest.fixture
def rootdir(tmp_path: Path) -> Path:
    (tmp_path / "root").mkdir()
    return tmp_path / "root"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    (tmp_path / "outside").mkdir()
    return tmp_path / "outside"


@pytest.fixture
def root(rootdir: Path, kernel: bool) -> Iterator[ContainerRoot]:
    with ContainerRoot(str(rootdir), use_openat2=kernel) as opened:
        assert opened.uses_openat2 is kernel
        yield opened


def snapshot(directory: Path) -> list[tuple[str, int, bytes]]:
    """Every entry under *directory* with its mode and (for files) content."""
    found = [(".", directory.lstat().st_mode, b"")]
    for path in sorted(directory.rglob("*")):
        status = path.lstat()
        content = path.read_bytes() if stat.S_ISREG(status.st_mode) else b""
        found.append((str(path.relative_to(directory)), status.st_mode, content))
    return found


def same_object(fd: int, path: Path) -> bool:
    mine, theirs = os.fstat(fd), path.lstat()
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


# -- resolution ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("links", "path", "expected"),
    [
        ({}, "/b/file", "b/file"),
        ({}, "b/file", "b/file"),
        ({}, "/../../../b/./file", "b/file"),
        ({"a": "/b"}, "/a/file", "b/file"),
        ({"a": "b"}, "/a/file", "b/file"),
        ({"up": "../../../.."}, "/up/up/b/file", "b/file"),
        ({"b/sub/link": "../../b/file"}, "/b/sub/link", "b/file"),
        ({"b/sub/link": "../file"}, "/b/sub/link", "b/file"),
        ({"b/sub/abs": "/b"}, "/b/sub/abs/sub/../file", "b/file"),
        ({"x": "/b/sub/.."}, "/x/file", "b/file"),
    ],
)
def test_links_and_dotdot_resolve_inside_the_root(
    root: ContainerRoot, rootdir: Path, links: dict[str, str], path: str, expected: str
) -> None:
    (rootdir / "b/sub").mkdir(parents=True)
    (rootdir / "b/file").write_text("x")
    for link, target in links.items():
        os.symlink(target, rootdir / link)
    with root.opened(path) as fd:
        assert same_object(fd, rootdir / expected)


def test_an_absolute_link_to_a_host_directory_is_rooted(
    root: ContainerRoot, rootdir: Path, outside: Path
) -> None:
    (outside / "file").write_text("host")
    os.symlink(str(outside), rootdir / "lib")
    with pytest.raises(FileNotFoundError) as caught:
        root.resolve("/lib/file")
    assert "'/lib/file'" in str(caught.value) and str(outside) not in str(caught.value)
    (rootdir / outside.relative_to("/")).mkdir(parents=True)
    (rootdir / outside.relative_to("/") / "file").write_text("container")
    assert root.read_file("/lib/file", 100) == b"container"


def test_the_final_link_is_kept_when_asked(root: ContainerRoot, rootdir: Path) -> None:
    os.symlink("/nowhere", rootdir / "dangling")
    with root.opened("dangling", follow_last=False) as fd:
        assert same_object(fd, rootdir / "dangling")
    with pytest.raises(FileNotFoundError):
        root.resolve("dangling")


@pytest.mark.parametrize("length", [1, 40])
def test_link_chains_up_to_the_kernel_limit_resolve(
    root: ContainerRoot, rootdir: Path, length: int
) -> None:
    (rootdir / "end").write_text("x")
    for index in range(length):
        os.symlink(f"/l{index + 1}" if index + 1 < length else "/end", rootdir / f"l{index}")
    with root.opened("l0") as fd:
        assert same_object(fd, rootdir / "end")


@pytest.mark.parametrize(
    "links",
    [{"loop": "loop"}, {"a": "b", "b": "/a"}, {f"l{i}": f"l{i + 1}" for i in range(41)}],
    ids=["self", "pair", "chain-of-41"],
)
def test_loops_fail_with_eloop(root: ContainerRoot, rootdir: Path, links: dict[str, str]) -> None:
    (rootdir / "l41").write_text("x")
    for link, target in links.items():
        os.symlink(target, rootdir / link)
    with pytest.raises(OSError) as caught:
        root.resolve(next(iter(links)))
    assert caught.value.errno == errno.ELOOP
    assert caught.value.filename == next(iter(links))


def test_missing_and_not_a_directory(root: ContainerRoot, rootdir: Path) -> None:
    (rootdir / "file").write_text("x")
    with pytest.raises(FileNotFoundError):
        root.resolve("/missing/x")
    with pytest.raises(NotADirectoryError) as caught:
        root.resolve("/file/x")
    assert caught.value.filename == "/file/x"
    with pytest.raises(NotADirectoryError):
        root.resolve("/file/..")


def test_queries(root: ContainerRoot, rootdir: Path) -> None:
    (rootdir / "dir").mkdir()
    (rootdir / "dir/file").write_text("x")
    os.symlink("/dir/file", rootdir / "link")
    os.symlink("/nowhere", rootdir / "dangling")
    lstat, status = root.lstat("link"), root.stat("link")
    assert lstat is not None and stat.S_ISLNK(lstat.st_mode)
    assert status is not None and stat.S_ISREG(status.st_mode)
    assert root.stat("dangling") is None and root.lstat("dangling") is not None
    assert root.lstat("/dir/file/x") is None
    assert root.readlink("link") == "/dir/file"
    assert root.readlink("dir") is None and root.readlink("missing") is None
    assert root.is_regular_file("link") and not root.is_regular_file("dir")
    assert root.exists("dir") and not root.exists("dangling")
    assert root.exists("dangling", follow_symlinks=False)
    assert root.listdir("/") == ["dangling", "dir", "link"]
    entries = dict(root.entries("/"))
    assert stat.S_ISLNK(entries["link"].st_mode) and stat.S_ISDIR(entries["dir"].st_mode)
    with pytest.raises(NotADirectoryError):
        root.listdir("/dir/file")


def test_a_nul_byte_is_refused(root: ContainerRoot) -> None:
    with pytest.raises(OSError) as caught:
        root.resolve("/a\0b")
    assert caught.value.errno == errno.EINVAL


# -- makedirs -----------------------------------------------------------------------------


def test_makedirs_creates_each_missing_directory_with_the_mode(
    root: ContainerRoot, rootdir: Path
) -> None:
    old = os.umask(0o077)
    try:
        fd = root.makedirs("/etc/nvidia/profiles", 0o555)
    finally:
        os.umask(old)
    try:
        assert fcntl.fcntl(fd, fcntl.F_GETFL) & (os.O_ACCMODE | os.O_PATH) == os.O_RDONLY
        assert same_object(fd, rootdir / "etc/nvidia/profiles")
    finally:
        os.close(fd)
    for name in ("etc", "etc/nvidia", "etc/nvidia/profiles"):
        assert stat.S_IMODE((rootdir / name).stat().st_mode) == 0o555
    os.close(root.makedirs("/etc/nvidia", 0o700))  # existing: mode left alone
    assert stat.S_IMODE((rootdir / "etc/nvidia").stat().st_mode) == 0o555


def test_makedirs_follows_a_dangling_link_inside_the_root(
    root: ContainerRoot, rootdir: Path, outside: Path
) -> None:
    os.symlink("/usr/lib", rootdir / "lib")
    (rootdir / "usr/lib").mkdir(parents=True)
    os.symlink(str(outside / "x86_64-linux-gnu"), rootdir / "usr/lib/x86_64-linux-gnu")
    os.close(root.makedirs("/lib/x86_64-linux-gnu/nvidia"))
    assert (rootdir / outside.relative_to("/") / "x86_64-linux-gnu/nvidia").is_dir()
    assert snapshot(outside) == [(".", outside.lstat().st_mode, b"")]


def test_makedirs_over_a_file_fails(root: ContainerRoot, rootdir: Path) -> None:
    (rootdir / "etc").write_text("x")
    with pytest.raises(NotADirectoryError) as caught:
        root.makedirs("/etc/nvidia")
    assert caught.value.filename == "/etc/nvidia"


# -- replace_symlink ----------------------------------------------------------------------


def test_replace_symlink(root: ContainerRoot, rootdir: Path) -> None:
    assert root.replace_symlink("/usr/lib/libcuda.so", "libcuda.so.1") is True
    link = rootdir / "usr/lib/libcuda.so"
    assert os.readlink(link) == "libcuda.so.1"
    assert stat.S_IMODE((rootdir / "usr").stat().st_mode) == 0o755
    inode = link.lstat().st_ino
    assert root.replace_symlink("/usr/lib/libcuda.so", "libcuda.so.1") is False
    assert link.lstat().st_ino == inode
    assert root.replace_symlink("/usr/lib/libcuda.so", "../lib64/libcuda.so.2") is True
    assert os.readlink(link) == "../lib64/libcuda.so.2"
    link.unlink()
    link.write_text("a file")
    assert root.replace_symlink("/usr/lib/libcuda.so", "/abs/target") is True
    assert os.readlink(link) == "/abs/target"
    assert sorted(os.listdir(rootdir / "usr/lib")) == ["libcuda.so"]  # no temporaries left


def test_replace_symlink_refuses_a_directory(root: ContainerRoot, rootdir: Path) -> None:
    (rootdir / "usr/lib/libcuda.so").mkdir(parents=True)
    with pytest.raises(IsADirectoryError) as caught:
        root.replace_symlink("/usr/lib/libcuda.so", "x")
    assert str(caught.value) == (
        "[Errno 21] is a directory; refusing to replace it: '/usr/lib/libcuda.so'"
    )
    assert os.listdir(rootdir / "usr/lib") == ["libcuda.so"]


def test_replace_symlink_replaces_a_link_to_the_host_not_its_target(
    root: ContainerRoot, rootdir: Path, outside: Path
) -> None:
    (outside / "victim").write_text("host")
    before = snapshot(outside)
    os.symlink(str(outside / "victim"), rootdir / "victim")
    assert root.replace_symlink("/victim", "libfoo.so") is True
    assert os.readlink(rootdir / "victim") == "libfoo.so"
    assert snapshot(outside) == before


# -- files --------------------------------------------------------------------------------


def test_write_file(root: ContainerRoot, rootdir: Path) -> None:
    root.write_file("/etc/ld.so.conf.d/00-x.conf", b"/usr/lib/x\n", 0o644)
    target = rootdir / "etc/ld.so.conf.d/00-x.conf"
    assert target.read_bytes() == b"/usr/lib/x\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    root.write_file("/etc/ld.so.conf.d/00-x.conf", b"new", 0o444)
    assert target.read_bytes() == b"new" and stat.S_IMODE(target.stat().st_mode) == 0o444
    assert os.listdir(target.parent) == ["00-x.conf"]
    with pytest.raises(FileExistsError):
        root.write_file("/etc/ld.so.conf.d/00-x.conf", b"other", 0o644, exclusive=True)
    assert target.read_bytes() == b"new" and os.listdir(target.parent) == ["00-x.conf"]
    root.write_file("/etc/fresh", b"1", 0o600, exclusive=True)
    assert (rootdir / "etc/fresh").read_bytes() == b"1"


def test_write_file_never_writes_through_a_link(
    root: ContainerRoot, rootdir: Path, outside: Path
) -> None:
    (outside / "passwd").write_text("host")
    before = snapshot(outside)
    os.symlink(str(outside / "passwd"), rootdir / "passwd")
    os.symlink(str(outside / "new"), rootdir / "dangling")
    with pytest.raises(FileExistsError):
        root.write_file("/dangling", b"x", 0o644, exclusive=True)
    root.write_file("/passwd", b"container", 0o644)
    root.write_file("/dangling", b"container", 0o644)
    assert (rootdir / "passwd").read_bytes() == b"container"
    assert not (rootdir / "dangling").is_symlink()
    assert snapshot(outside) == before


def test_append_file(root: ContainerRoot, rootdir: Path) -> None:
    root.append_file("/etc/ld-musl-x86_64.path", b"/usr/lib/nvidia\n")
    path = rootdir / "etc/ld-musl-x86_64.path"
    assert path.read_bytes() == b"/usr/lib/nvidia\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    path.write_bytes(b"/lib:/usr/lib")
    path.chmod(0o640)
    root.append_file("/etc/ld-musl-x86_64.path", b"/opt\n")
    assert path.read_bytes() == b"/lib:/usr/lib\n/opt\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_read_file(root: ContainerRoot, rootdir: Path, outside: Path) -> None:
    (rootdir / "etc").mkdir()
    (rootdir / "etc/os-release").write_bytes(b"ID=test\n")
    assert root.read_file("/etc/os-release", 8) == b"ID=test\n"
    with pytest.raises(OSError) as caught:
        root.read_file("/etc/os-release", 7)
    assert caught.value.errno == errno.EFBIG
    (outside / "secret").write_text("host secret")
    os.symlink(str(outside / "secret"), rootdir / "etc/secret")
    with pytest.raises(OSError) as caught:
        root.read_file("/etc/secret", 100)
    assert caught.value.errno == errno.ELOOP
    os.mkfifo(rootdir / "etc/fifo")  # opening it for reading would block: refused first
    with pytest.raises(OSError) as caught:
        root.read_file("/etc/fifo", 100)
    assert caught.value.errno == errno.EINVAL
    with pytest.raises(OSError):
        root.read_file("/etc", 100)


# -- chmod --------------------------------------------------------------------------------


def test_chmod(root: ContainerRoot, rootdir: Path) -> None:
    (rootdir / "dev/dri").mkdir(parents=True)
    (rootdir / "dev/dri/card0").write_text("")
    (rootdir / "dev/dri/card0").chmod(0o600)
    os.symlink("card0", rootdir / "dev/dri/card-link")
    assert root.chmod("/dev/dri", 0o755) is False
    assert root.chmod("/dev/dri", 0o700) is True
    assert stat.S_IMODE((rootdir / "dev/dri").stat().st_mode) == 0o700
    assert root.chmod("/dev/dri/card-link", 0o666) is True  # the target, inside the root
    assert stat.S_IMODE((rootdir / "dev/dri/card0").stat().st_mode) == 0o666
    assert root.chmod("/dev/dri/card0", 0o666) is False
    with pytest.raises(FileNotFoundError):
        root.chmod("/dev/missing", 0o755)


def test_chmod_through_a_link_to_the_host_stays_inside(
    root: ContainerRoot, rootdir: Path, outside: Path
) -> None:
    (outside / "dri").mkdir()
    before = snapshot(outside)
    os.symlink(str(outside), rootdir / "dev")
    with pytest.raises(FileNotFoundError):
        root.chmod("/dev/dri", 0o777)
    with pytest.raises(FileNotFoundError):
        root.chmod("/dev", 0o777)
    assert snapshot(outside) == before


# -- hostile roots ------------------------------------------------------------------------


def test_etc_linked_to_the_hosts_etc_fails_without_touching_it(
    root: ContainerRoot, rootdir: Path
) -> None:
    os.symlink("/etc", rootdir / "etc")
    name = f"cdi-hook-test-{os.getpid()}.conf"
    with pytest.raises(OSError) as caught:
        root.write_file(f"/etc/ld.so.conf.d/{name}", b"x", 0o644)
    assert caught.value.errno == errno.ELOOP  # /etc -> /etc, rooted: a loop
    with pytest.raises(OSError):
        root.replace_symlink(f"/etc/{name}", "x")
    assert not os.path.lexists(f"/etc/ld.so.conf.d/{name}")
    assert not os.path.lexists(f"/etc/{name}")


def test_lib_dir_linked_out_of_the_root_is_rooted(
    root: ContainerRoot, rootdir: Path, outside: Path
) -> None:
    (rootdir / "usr/lib").mkdir(parents=True)
    os.symlink(str(outside), rootdir / "usr/lib/x86_64-linux-gnu")
    os.symlink("../../../../../../..", rootdir / "usr/lib/up")
    root.replace_symlink("/usr/lib/x86_64-linux-gnu/libcuda.so", "libcuda.so.1")
    root.write_file("/usr/lib/x86_64-linux-gnu/libcuda.so.1", b"ELF", 0o755)
    root.write_file(f"/usr/lib/up{outside}/marker", b"x", 0o644)
    root.chmod("/usr/lib/x86_64-linux-gnu", 0o700)
    inside = rootdir / outside.relative_to("/")
    assert sorted(os.listdir(inside)) == ["libcuda.so", "libcuda.so.1", "marker"]
    assert stat.S_IMODE(inside.stat().st_mode) == 0o700
    assert snapshot(outside) == [(".", outside.lstat().st_mode, b"")]


def exchanger() -> Callable[[Path, Path], None]:
    """renameat2(RENAME_EXCHANGE): swap two names atomically (what an attacker would use)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "renameat2"):
        pytest.skip("no renameat2 in this C library")

    def exchange(first: Path, second: Path) -> None:
        at_fdcwd, rename_exchange = -100, 2
        if libc.renameat2(at_fdcwd, bytes(first), at_fdcwd, bytes(second), rename_exchange):
            raise OSError(ctypes.get_errno(), "renameat2", str(first))

    return exchange


def hook_actions(root: ContainerRoot, index: int) -> list[Callable[[], object]]:
    """What hooks do under ``/d``, varied a little with *index*."""
    return [
        lambda: root.write_file("/d/f", b"%d" % index, 0o644),
        lambda: root.replace_symlink("/d/l", f"t{index % 2}"),
        lambda: root.chmod("/d/x", 0o644 if index % 2 else 0o755),
        lambda: os.close(root.makedirs("/d/sub")),
        lambda: root.append_file("/d/x", b"y"),
    ]


@pytest.mark.parametrize("link", ["absolute", "climbing"])
def test_a_directory_swapped_for_a_link_meanwhile_never_leads_outside(
    root: ContainerRoot, rootdir: Path, outside: Path, link: str
) -> None:
    """A thread atomically swaps ``/d`` between a real directory and a link out of the root
    while the hook writes, links, chmods and creates under it: whatever wins each race,
    nothing outside the root appears or changes."""
    exchange = exchanger()
    (outside / "x").write_text("host")
    (outside / "x").chmod(0o600)
    before = snapshot(outside)
    target = str(outside) if link == "absolute" else "../" * 20 + str(outside).lstrip("/")
    (rootdir / "d").mkdir()
    (rootdir / "d/x").write_text("container")
    os.symlink(target, rootdir / "swap")
    stop = threading.Event()
    flips = 0

    def flip() -> None:
        nonlocal flips
        while not stop.is_set():
            exchange(rootdir / "d", rootdir / "swap")
            flips += 1

    flipper = threading.Thread(target=flip)
    flipper.start()
    outcomes = {"done": 0, "failed": 0}
    try:
        for index in range(200):
            for action in hook_actions(root, index):
                try:
                    action()
                    outcomes["done"] += 1
                except OSError:
                    outcomes["failed"] += 1  # the race made it fail cleanly: allowed
    finally:
        stop.set()
        flipper.join()
    assert flipper.is_alive() is False and flips > 0
    assert snapshot(outside) == before
    assert outcomes["done"] > 0


def test_the_walk_is_used_when_forced(rootdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> tuple[int, int]:
        raise AssertionError("openat2 called")

    monkeypatch.setattr(resolve, "openat2", broken)
    with ContainerRoot(str(rootdir), use_openat2=False) as root:
        os.close(root.makedirs("/a/b"))
        assert root.exists("/a/b")


def test_persistent_eagain_falls_back_to_the_walk(
    rootdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resolve, "openat2", lambda *args: (-1, errno.EAGAIN))
    (rootdir / "a").mkdir()
    with ContainerRoot(str(rootdir), use_openat2=True) as root, root.opened("/a") as fd:
        assert same_object(fd, rootdir / "a")


def test_other_openat2_errors_name_the_container_path(
    rootdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resolve, "openat2", lambda *args: (-1, errno.EXDEV))
    with ContainerRoot(str(rootdir), use_openat2=True) as root, pytest.raises(OSError) as caught:
        root.resolve("/a")
    assert (caught.value.errno, caught.value.filename) == (errno.EXDEV, "/a")


def test_proc_fd_path(root: ContainerRoot) -> None:
    assert root.proc_fd_path(7) == "/proc/self/fd/7"


def test_openat2_refused_by_the_kernel_means_the_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    for number in (errno.ENOSYS, errno.EPERM):
        resolve.openat2_works.cache_clear()
        monkeypatch.setattr(resolve, "openat2", lambda *args, n=number: (-1, n))
        try:
            assert resolve.openat2_works() is False
        finally:
            resolve.openat2_works.cache_clear()
    monkeypatch.undo()
    resolve.openat2_works()  # probed again for the other tests


def outcome(root: ContainerRoot, path: str, follow_last: bool) -> tuple[int, int] | str:
    try:
        fd = root.resolve(path, follow_last=follow_last)
    except OSError as exc:
        return errno.errorcode[exc.errno or 0]
    try:
        status = os.fstat(fd)
        return status.st_dev, status.st_ino
    finally:
        os.close(fd)


def test_the_walk_agrees_with_the_kernel_on_random_trees(tmp_path: Path) -> None:
    """Differential check: random directories, files and links (relative, absolute, with
    ``..``, dangling, looping) and random paths resolve to the same object, or fail with the
    same error, through openat2 and through the walk."""
    if not resolve.openat2_works():
        pytest.skip("openat2 does not work on this kernel")
    rng = random.Random(10)
    names = ["a", "b", "c", "..", "."]
    rootdir = tmp_path / "root"
    rootdir.mkdir()
    dirs = [rootdir]
    for index in range(60):
        parent = rng.choice(dirs)
        path = parent / f"n{index}"
        kind = rng.random()
        if kind < 0.35:
            path.mkdir()
            dirs.append(path)
        elif kind < 0.5:
            path.write_text("")
        else:
            parts = [rng.choice([*names, *(f"n{i}" for i in range(index))]) for _ in range(3)]
            os.symlink(("/" if rng.random() < 0.4 else "") + "/".join(parts), path)
    every = [p.relative_to(rootdir) for p in rootdir.rglob("*")]
    with (
        ContainerRoot(str(rootdir), use_openat2=True) as kernel_root,
        ContainerRoot(str(rootdir), use_openat2=False) as walk_root,
    ):
        for _ in range(400):
            path = "/".join(
                rng.choice([str(rng.choice(every)), *names]) for _ in range(rng.randint(1, 4))
            )
            for follow in (True, False):
                expected = outcome(kernel_root, path, follow)
                assert outcome(walk_root, path, follow) == expected, (path, follow)
