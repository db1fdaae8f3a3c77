"""The trust policy for spec files: who may have written what a registry is about to use.

A spec file is root-equivalent: its hooks run as root in every container that asks for one of
its devices. A file is *trusted* when only root or the running user could have put its content
there, that is when each of these is owned by root or by the effective uid and is writable by
neither its group nor others:

- the file that is read (for a symlink, the file it finally names);
- the spec directory holding it (whoever can write a directory can replace its files);
- for a symlink, every directory that holds a link on the way to the file, and the one that
  holds the file itself, each after resolving its own path (``os.path.realpath``).

Decided along the way:

- the sticky bit does not help: a sticky directory that others can write (``/tmp``) still lets
  them add files, so it is untrusted;
- setuid, setgid and the group a file or directory belongs to do not matter: they grant no
  write access. Group write is untrusted even for group root;
- POSIX ACLs are covered by the mode: an ACL that lets anyone else write sets the group write
  bit (the ACL mask), so such a file counts as group-writable;
- the directories above a spec directory, and above the directory that holds a link's target,
  are not checked: whoever chose the spec directory (or made the link, which only a trusted
  user can) chose them too;
- a hard link needs nothing more: replacing its content needs write permission on the file.

Modes: ``off`` (no check at all, the reference's behaviour), ``warn`` (untrusted files are used,
and reported), ``strict`` (untrusted files are refused: not read, not parsed, no devices).

The checks reuse what the scanner already has: the ``stat`` of each file and one ``fstat`` of
each open spec directory per scan; only symlinks cost more. Nothing costly is imported here
(``cdi-runtime`` runs this on every container start).
"""

from __future__ import annotations

import errno
import os
import stat

from cdi.errors import TrustError, TrustModeError
from cdi.gotext import quote

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = [
    "OFF",
    "STRICT",
    "TRUST_MODES",
    "WARN",
    "TrustCheck",
    "check_spec_file",
    "default_mode",
    "log_warnings",
    "trust_error",
    "trust_mode",
    "untrusted_reasons",
]

OFF = "off"
WARN = "warn"
STRICT = "strict"
#: The valid values of ``Registry(trust=...)`` and of ``--trust``.
TRUST_MODES = (OFF, WARN, STRICT)

#: Write permission for anyone but the owner.
WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH

#: Symlinks followed at most (the kernel's limit): more is a loop.
_MAX_LINKS = 40

_WRITERS = {
    stat.S_IWGRP: "group",
    stat.S_IWOTH: "others",
    WRITABLE_BY_OTHERS: "group and others",
}


def default_mode() -> str:
    """The policy for a process that runs containers: ``strict`` for root, who runs the
    spec files' hooks as root; else ``off`` (the reference's behaviour)."""
    return STRICT if os.geteuid() == 0 else OFF


def trust_mode(value: str) -> str:
    """*value* if it is one of :data:`TRUST_MODES`; else :class:`~cdi.errors.TrustModeError`."""
    if value in TRUST_MODES:
        return value
    shown = quote(value) if isinstance(value, str) else repr(value)
    raise TrustModeError(f"invalid trust mode {shown}: must be one of {', '.join(TRUST_MODES)}")


def untrusted_reasons(info: os.stat_result, *, euid: int | None = None) -> list[str]:
    """Why a file or directory with the status *info* is untrusted (``[]``: it is trusted).

    Each reason is a phrase to follow "is" (``owned by uid 1000, not by root``, ``writable by
    group (mode 0664)``). *euid* is the running user (default: ``os.geteuid()``).
    """
    if euid is None:
        euid = os.geteuid()
    reasons = []
    uid = info.st_uid
    if uid not in (0, euid):
        allowed = "root" if euid == 0 else f"root or uid {euid}"
        reasons.append(f"owned by uid {uid}, not by {allowed}")
    writable = info.st_mode & WRITABLE_BY_OTHERS
    if writable:
        reasons.append(f"writable by {_WRITERS[writable]} (mode {stat.S_IMODE(info.st_mode):04o})")
    return reasons


def trust_error(path: str, reasons: Sequence[str], *, refused: bool) -> TrustError:
    """The error for an untrusted *path*: its refusal, or (``warn`` mode) a warning."""
    lead = "refusing CDI Spec" if refused else "untrusted CDI Spec"
    return TrustError(f"{lead} {quote(path)}: {'; '.join(reasons)}", path, reasons, refused=refused)


def log_warnings(warnings: Iterable[TrustError]) -> None:
    """Log each of *warnings* (logger ``cdi.registry.trust``, level WARNING)."""
    import logging  # only when there is something to say

    logger = logging.getLogger(__name__)
    for warning in warnings:
        logger.warning("%s", warning)


def _link_directories(path: str) -> list[str]:
    """The real directories holding each step of the symlink *path* after the first: the
    links it leads through, then the file it finally names."""
    found = []
    current = path
    for _ in range(_MAX_LINKS):
        joined = os.path.join(os.path.dirname(current), os.readlink(current))
        parent, name = os.path.split(joined)
        if name in ("", ".", ".."):  # names a directory: no file to read, nothing more to follow
            found.append(os.path.realpath(joined))
            return found
        parent = os.path.realpath(parent)
        found.append(parent)
        current = os.path.join(parent, name)
        if not os.path.islink(current):
            return found
    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)


class TrustCheck:
    """The policy as a scanner applies it: the running user, and what one scan learnt about
    the directories symlinks lead to (so that many links into one directory cost one stat).

    Call :meth:`start` before each scan, :meth:`directory_reasons` once per spec directory,
    and :meth:`file_reasons` for each file that is suspect: in an untrusted directory, a
    symlink, or whose own status is (``st_mode & WRITABLE_BY_OTHERS``, or ``st_uid`` not in
    :attr:`owners`). The scanner makes that test inline: it is its hot path.
    """

    __slots__ = ("_dirs", "_euid", "_spec_dir", "owners", "refuse")

    def __init__(self, mode: str) -> None:
        #: Whether untrusted files are refused (``strict``) or only reported (``warn``).
        self.refuse = mode == STRICT
        self.owners: tuple[int, int] = (0, 0)
        self._euid = 0
        # real directory -> its identity (device, inode) and its reasons, for this scan
        self._dirs: dict[str, tuple[tuple[int, int] | None, list[str]]] = {}
        self._spec_dir: tuple[int, int] | None = None  # the spec directory being scanned

    def start(self) -> None:
        """Begin a scan: the running user now, nothing known about link directories."""
        self._euid = os.geteuid()
        self.owners = (0, self._euid)
        self._dirs = {}

    def directory_reasons(self, info: os.stat_result, directory: str) -> list[str]:
        """Why spec directory *directory* (whose status is *info*) is untrusted, as phrases
        naming it; its files will not need it checked again."""
        self._spec_dir = (info.st_dev, info.st_ino)
        reasons = untrusted_reasons(info, euid=self._euid)
        return [f"directory {quote(directory)} is {reason}" for reason in reasons]

    def file_reasons(
        self, path: str, info: os.stat_result, is_link: bool, directory: Sequence[str]
    ) -> list[str]:
        """Why *path* is untrusted: *info* is the status of the file it names, *is_link*
        whether *path* itself is a symlink, *directory* what :meth:`directory_reasons` said."""
        target = None
        link_reasons: list[str] = []
        if is_link:
            try:
                holders = _link_directories(path)
            except OSError as err:  # it changed under us: nothing can vouch for it
                return [*directory, f"its symlink cannot be followed: {err.strerror or err}"]
            target = os.path.realpath(path)
            for holder in holders:
                link_reasons += self._link_directory_reasons(holder)
        own = untrusted_reasons(info, euid=self._euid)
        if target is not None:
            own = [f"its target {quote(target)} is {reason}" for reason in own]
        return [*own, *directory, *link_reasons]

    def _link_directory_reasons(self, directory: str) -> list[str]:
        found = self._dirs.get(directory)
        if found is None:
            try:
                info = os.stat(directory)
            except OSError as err:
                found = (None, [f"directory {quote(directory)} cannot be checked: {err.strerror}"])
            else:
                phrases = untrusted_reasons(info, euid=self._euid)
                found = (
                    (info.st_dev, info.st_ino),
                    [f"directory {quote(directory)} is {reason}" for reason in phrases],
                )
            self._dirs[directory] = found
        identity, reasons = found
        return [] if identity == self._spec_dir else reasons  # the spec directory: said already


def check_spec_file(path: str, directory: str | None = None) -> list[str]:
    """Why the spec file *path* of the spec directory *directory* (default: the directory
    that holds *path*) is untrusted, as a registry would say it (``[]``: it is trusted).

    For commands that look at files without a registry (``cdi validate``, ``cdi doctor``).
    Raises :class:`OSError` when *path* or *directory* cannot be examined.
    """
    if directory is None:
        directory = os.path.dirname(path) or "."
    check = TrustCheck(STRICT)
    check.start()
    reasons = check.directory_reasons(os.stat(directory), directory)
    info = os.stat(path)
    return check.file_reasons(path, info, os.path.islink(path), reasons)
