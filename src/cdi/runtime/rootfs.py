"""A minimal container root filesystem made of one static busybox.

Nothing in it needs a dynamic loader or a library, so it runs anywhere the host kernel does;
it is what the end-to-end tests, ``cdi run`` and the build executor's scratch stages use.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from cdi.atomicfile import replacing
from cdi.lazylog import LazyLogger
from cdi.runtime.elf import NotAnExecutableError, elf_interpreter
from cdi.runtime.errors import RuntimeSetupError

logger = LazyLogger(__name__)  # logging is imported only to say something

INSTALL_HINT = "install Debian's busybox-static"
_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox", "/sbin/busybox", "/usr/sbin/busybox")
# An applet path as ``busybox --list-full`` prints it: a relative path of plain names.
_APPLET = re.compile(r"^(?:[A-Za-z0-9_.+-]+/)*[A-Za-z0-9_.+\[\]-]+$")

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"

# (path, mode) of the directories every root gets; /tmp is sticky and world-writable.
_DIRECTORIES = (
    ("bin", 0o755),
    ("dev", 0o755),
    ("etc", 0o755),
    ("proc", 0o755),
    ("root", 0o700),
    ("sys", 0o755),
    ("tmp", 0o1777),
)


def _static_problem(path: str) -> str | None:
    """Why *path* cannot serve as a container's busybox, or ``None`` when it can."""
    try:
        interpreter = elf_interpreter(path)
    except NotAnExecutableError as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    if interpreter is not None:
        return f"{path} is dynamically linked (it needs {interpreter})"
    return None


def find_busybox() -> str:
    """The path of a statically linked busybox on this host.

    Looks in ``PATH`` and the usual ``/bin``, ``/usr/bin``; raises :class:`RuntimeSetupError`
    (naming the package to install) when there is none, or only a dynamically linked one.
    """
    candidates: list[str] = []
    found = shutil.which("busybox")
    if found:
        candidates.append(found)
    candidates.extend(c for c in _CANDIDATES if c not in candidates)
    problems: list[str] = []
    seen: set[str] = set()
    for candidate in candidates:
        if not os.path.isfile(candidate):
            continue
        real = os.path.realpath(candidate)
        if real in seen:
            continue
        seen.add(real)
        problem = _static_problem(candidate)
        if problem is None:
            return candidate
        problems.append(problem)
    if problems:
        raise RuntimeSetupError(f"no static busybox found: {'; '.join(problems)}: {INSTALL_HINT}")
    raise RuntimeSetupError(f"no static busybox found: {INSTALL_HINT}")


def _check_busybox(path: str) -> str:
    if not os.path.isfile(path):
        raise RuntimeSetupError(f"busybox {path} does not exist: {INSTALL_HINT}")
    problem = _static_problem(path)
    if problem is not None:
        raise RuntimeSetupError(
            f"cannot use busybox {path} in a container root: {problem}: {INSTALL_HINT}"
        )
    return path


def busybox_applets(busybox: str) -> list[str]:
    """The applet paths of *busybox*, relative to ``/`` (``bin/sh``, ``usr/bin/env``, ...).

    Uses ``--list-full`` for the directory each applet conventionally lives in; a busybox built
    without it gets every applet in ``bin``.
    """
    for option, prefix in (("--list-full", ""), ("--list", "bin/")):
        try:
            result = subprocess.run(
                [busybox, option], capture_output=True, text=True, check=False, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeSetupError(f"cannot run {busybox} {option}: {exc}") from exc
        if result.returncode == 0 and result.stdout.strip():
            applets = []
            for line in result.stdout.split():
                path = prefix + line.strip()
                if _APPLET.match(path) and ".." not in path.split("/"):
                    applets.append(path)
                else:
                    logger.warning("ignoring unexpected busybox applet path %r", line)
            return applets
    raise RuntimeSetupError(f"{busybox} cannot list its applets (neither --list-full nor --list)")


def _real_directory(root: Path, relative: str, mode: int) -> Path:
    """``root/relative`` as a directory, created (with *mode*) where missing.

    No component may be a symbolic link: one pointing out of the root would make us write
    into the host.
    """
    path = root
    for part in relative.split("/"):
        path = path / part
        if path.is_symlink():
            raise RuntimeSetupError(f"refusing to write through symbolic link {path}")
        if not path.exists():
            path.mkdir()
            os.chmod(path, mode)
        elif not path.is_dir():
            raise RuntimeSetupError(f"{path} exists and is not a directory")
    return path


def _install_busybox(source: str, target: Path) -> None:
    if target.is_symlink():
        raise RuntimeSetupError(f"refusing to write through symbolic link {target}")
    src = os.stat(source)
    try:
        dst = target.stat()
        if dst.st_size == src.st_size and dst.st_mtime_ns == src.st_mtime_ns:
            return
    except FileNotFoundError:
        pass
    with open(source, "rb") as original, replacing(target, 0o755) as copy:
        shutil.copyfileobj(original, copy)
    # The same size and time as the source mark a copy that is up to date (see above).
    os.utime(target, ns=(src.st_atime_ns, src.st_mtime_ns))


def _write_if_missing(path: Path, text: str, mode: int = 0o644) -> None:
    if os.path.lexists(path):
        return
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)


def make_busybox_rootfs(dest: str | os.PathLike[str], *, busybox: str | None = None) -> Path:
    """Populate *dest* as a minimal root filesystem and return its path.

    It gets ``/bin/busybox`` (a copy of *busybox*, default :func:`find_busybox`; a dynamically
    linked one is refused), a relative symbolic link per applet where busybox conventionally
    puts it (``/bin/sh``, ``/usr/bin/env``, ...), ``/etc/passwd`` and ``/etc/group`` with
    ``root`` and ``nobody``, ``/tmp`` (1777), ``/root`` and the ``/dev``, ``/proc``, ``/sys``
    mount points; *dest* itself is made 0755 so that non-root users in the container can use it.

    Idempotent: running it again on its own result changes nothing, and files that already
    exist (an edited ``/etc/passwd``, an applet replaced by a real program) are kept. Nothing
    is written through a symbolic link. Raises :class:`RuntimeSetupError` when there is no
    usable busybox or *dest* cannot be written.
    """
    source = _check_busybox(busybox) if busybox is not None else find_busybox()
    root = Path(dest).absolute()
    try:
        _populate(root, source)
    except OSError as exc:
        # A full disk or a read-only or misplaced DIR: say so as a setup problem, with the path.
        raise RuntimeSetupError(
            f"cannot make a root filesystem in {root}: {exc.strerror or exc}"
        ) from exc
    logger.debug("busybox root filesystem ready at %s", root)
    return root


def _populate(root: Path, source: str) -> None:
    if root.is_symlink():
        raise RuntimeSetupError(f"refusing to use symbolic link {root} as a root filesystem")
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    for relative, mode in _DIRECTORIES:
        _real_directory(root, relative, mode)
    os.chmod(root / "tmp", 0o1777)  # whatever the umask made of it

    binary = root / "bin" / "busybox"
    _install_busybox(source, binary)
    for applet in busybox_applets(source):
        if applet == "bin/busybox":
            continue
        directory, _, name = applet.rpartition("/")
        parent = _real_directory(root, directory, 0o755) if directory else root
        link = parent / name
        if os.path.lexists(link):
            continue
        link.symlink_to(os.path.relpath(binary, parent))

    _write_if_missing(root / "etc" / "passwd", PASSWD)
    _write_if_missing(root / "etc" / "group", GROUP)
