"""A root read as ``chroot`` would see it: cached link resolution and directory listings.

A root is a host directory standing for ``/`` (a driver container's ``/run/nvidia/driver``, a
fake tree in a test, or ``/`` itself). Roots are foreign trees: an absolute link target is
taken relative to the root and ``..`` stops at the root, so nothing outside the root is ever
looked at. :class:`RootView` caches what it reads; inside :func:`shared_views` every user of
a root gets the same view, so one generation reads each directory and link once.
"""

from __future__ import annotations

import errno
import functools
import os
import posixpath
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import BinaryIO

from cdi.globs import compile_pattern, has_magic
from cdi.gopath import clean

#: Links followed in one resolution before giving up (the kernel's own limit).
MAX_LINKS = 40


@functools.lru_cache(maxsize=64)
def normalize_root(root: str) -> str:
    """*root* as an absolute, clean path; empty means ``/``."""
    return clean(posixpath.abspath(root or "/"))


def host_path(root: str, container: str) -> str:
    """The host path of the absolute *container* path under the (normalized) *root*."""
    if root == "/":
        return container
    return root if container == "/" else root + container


def container_path(root: str, host: str) -> str:
    """*host* without the *root* prefix, ``/``-rooted; unchanged when not under *root*."""
    root = normalize_root(root)
    if root == "/" or not host.startswith(root):
        return host
    rest = host[len(root) :]
    if not rest:
        return "/"
    return rest if rest.startswith("/") else host


class RootView:
    """Cached, chroot-style reads of one root: link resolution and sorted directory listings.

    Get one with :func:`view_of`, which hands every locator of one generation (inside
    :func:`shared_views`) the same view of a root, so each directory is read once.
    """

    def __init__(self, root: str) -> None:
        self.root = normalize_root(root)
        self._listings: dict[str, list[tuple[str, bool, bool]]] = {}
        self._names: dict[str, dict[str, tuple[bool, bool]]] = {}
        self._resolved: dict[str, tuple[str, bool]] = {}
        self._stats: dict[str, os.stat_result | None] = {}
        self._globbed: dict[tuple[str, ...], list[tuple[str, str, bool]]] = {}
        self._links: dict[str, str] = {}

    def host(self, container: str) -> str:
        return host_path(self.root, container)

    def resolve(self, path: str) -> tuple[str, bool]:
        """The container path *path* (relative ones start at ``/``) with every link resolved
        inside the root, and whether the host's kernel would have resolved it elsewhere.

        Components that do not exist are kept as spelt. Raises ``OSError(ELOOP)`` after
        :data:`MAX_LINKS` links.
        """
        if ".." in path.split("/"):
            # ".." must climb from where the links before it lead, not lexically.
            return self._walk("/", path.split("/")[::-1])
        key = clean("/" + path)
        known = self._resolved.get(key)
        if known is None:
            parent, name = posixpath.split(key)
            if parent == key:  # "/"
                return "/", False
            base, diverted = self.resolve(parent)
            resolved, more = self._walk(base, [name])
            known = self._resolved[key] = (resolved, diverted or more)
        return known

    def _walk(self, base: str, pending: list[str]) -> tuple[str, bool]:
        """Resolve the components *pending* (reversed order: next one last) below the
        already resolved directory *base*."""
        done = [part for part in base.split("/") if part]
        diverted = False
        links = 0
        while pending:
            part = pending.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if done:
                    done.pop()
                else:
                    diverted = diverted or self.root != "/"
                continue
            current = self.host("/" + "/".join([*done, part]))
            try:
                info = os.lstat(current)
            except OSError:
                done.append(part)
                continue
            if not stat.S_ISLNK(info.st_mode):
                done.append(part)
                continue
            links += 1
            if links > MAX_LINKS:
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), current)
            target = self.readlink(current)
            if target.startswith("/"):
                done = []
                diverted = diverted or self.root != "/"
            pending.extend(reversed(target.split("/")))
        return "/" + "/".join(done), diverted

    def listing(self, directory: str) -> list[tuple[str, bool, bool]]:
        """``(name, is_link, is_dir)`` of the entries of the resolved *directory*, sorted."""
        known = self._listings.get(directory)
        if known is None:
            try:
                with os.scandir(self.host(directory)) as entries:
                    known = [
                        (entry.name, entry.is_symlink(), entry.is_dir(follow_symlinks=False))
                        for entry in entries
                    ]
            except OSError:
                known = []
            known.sort()
            self._listings[directory] = known
        return known

    def entry(self, directory: str, name: str) -> tuple[bool, bool] | None:
        """``(is_link, is_dir)`` of *name* in the resolved *directory*, or ``None``: one
        listing answers every lookup in a directory."""
        names = self._names.get(directory)
        if names is None:
            listing = self.listing(directory)
            names = self._names[directory] = {name: (link, d) for name, link, d in listing}
        return names.get(name)

    def readlink(self, host: str) -> str:
        """The target of the link at host path *host* (``OSError`` when it is none)."""
        target = self._links.get(host)
        if target is None:
            target = self._links[host] = os.readlink(host)
        return target

    def lstat(self, container: str) -> os.stat_result | None:
        if container in self._stats:
            return self._stats[container]
        try:
            info: os.stat_result | None = os.lstat(self.host(container))
        except OSError:
            info = None
        self._stats[container] = info
        return info

    def glob(self, pattern: str) -> list[tuple[str, str, bool]]:
        """Paths matching the container-path *pattern*: ``(as spelt, with the directories
        resolved, diverted)``; the last component is not resolved."""
        parts = tuple(part for part in clean("/" + pattern).split("/") if part)
        if not parts:
            return [("/", "/", False)]
        return self._step(self._directories(parts[:-1]), parts[-1], last=True)

    def _directories(self, parts: tuple[str, ...]) -> list[tuple[str, str, bool]]:
        """The directories matching the components *parts*; memoised, since locators search
        the same directories for many names."""
        known = self._globbed.get(parts)
        if known is None:
            if not parts:
                known = [("", "", False)]
            else:
                known = self._step(self._directories(parts[:-1]), parts[-1], last=False)
            self._globbed[parts] = known
        return known

    def _step(
        self, current: list[tuple[str, str, bool]], part: str, *, last: bool
    ) -> list[tuple[str, str, bool]]:
        """The entries matching component *part* in each of the directories *current*; when
        not *last*, only directories (links to them resolved)."""
        regex = compile_pattern(part) if has_magic(part) else None
        found = []
        for spelt, real, diverted in current:
            if regex is None:
                known = self.entry(real or "/", part)
                if known is None:
                    continue
                entries = [(part, *known)]
            else:
                entries = [e for e in self.listing(real or "/") if regex.fullmatch(e[0])]
            for name, is_link, plain_dir in entries:
                spelt_path, real_path = f"{spelt}/{name}", f"{real}/{name}"
                if last or plain_dir:
                    found.append((spelt_path, real_path, diverted))
                elif is_link:
                    try:
                        real_path, more = self.resolve(real_path)
                    except OSError:
                        continue
                    info = self.lstat(real_path)
                    if info is not None and stat.S_ISDIR(info.st_mode):
                        found.append((spelt_path, real_path, diverted or more))
        return found

    def chain(self, host: str) -> list[str]:
        """*host* and every link it passes through to its final target (host paths)."""
        chain = [host]
        container = container_path(self.root, host)
        if not container.startswith("/"):
            return chain
        parent, name = posixpath.split(clean(container))
        seen = {host}
        try:
            for _ in range(MAX_LINKS):
                parent, _ = self.resolve(parent)
                current = posixpath.join(parent, name)
                link = self.host(current)
                info = self.lstat(current)
                if info is None or not stat.S_ISLNK(info.st_mode):
                    break
                target = self.readlink(link)
                parent, name = posixpath.split(posixpath.join(parent, target))
                if name in ("", ".", ".."):  # a link to a directory: not a library
                    break
                following = self.host(posixpath.join(self.resolve(parent)[0], name))
                if following in seen:
                    break
                seen.add(following)
                chain.append(following)
        except OSError:
            pass
        return chain


_SHARED_VIEWS: ContextVar[dict[str, RootView] | None] = ContextVar("shared_views", default=None)


@contextmanager
def shared_views() -> Iterator[None]:
    """Within the block, :func:`view_of` gives one view per root: a generation reads each
    directory and link once. Outside it every call gets a fresh view (no stale reads)."""
    token = _SHARED_VIEWS.set({})
    try:
        yield
    finally:
        _SHARED_VIEWS.reset(token)


def view_of(root: str) -> RootView:
    """A view of *root*: the shared one inside :func:`shared_views`, else a new one."""
    views = _SHARED_VIEWS.get()
    if views is None:
        return RootView(root)
    key = normalize_root(root)
    view = views.get(key)
    if view is None:
        view = views[key] = RootView(key)
    return view


def resolve_in_root(root: str, path: str, *, follow_last: bool = True) -> str:
    """The host path of the container path *path* with its links resolved inside *root*, as
    if *root* were ``/``: an absolute link target starts again at *root* and ``..`` stops
    there. With *follow_last* false the last component is left as it is (to ``lstat`` or
    ``readlink`` it). Missing components are kept as given. Raises ``OSError(ELOOP)`` after
    :data:`MAX_LINKS` links.
    """
    view = view_of(root)
    if follow_last:
        return view.host(view.resolve(path)[0])
    parent, name = posixpath.split(clean("/" + path))
    if not name:
        return view.host("/")
    return view.host(posixpath.join(view.resolve(parent)[0], name))


def symlink_chain(root: str, host: str) -> list[str]:
    """*host* and every link it passes through to its final target, inside *root*; at most
    :data:`MAX_LINKS` links, stopping at a cycle."""
    return view_of(root).chain(host)


def open_in_root(root: str, path: str) -> BinaryIO:
    """The regular file at container *path* of *root*, open for reading (links followed inside
    the root). Never blocks on a FIFO planted there, and a link swapped in after the
    resolution is not followed. Raises :class:`OSError`."""
    host = resolve_in_root(root, path)
    fd = os.open(host, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", host)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
