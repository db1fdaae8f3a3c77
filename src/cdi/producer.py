"""Writing and removing spec files, atomically, and naming them.

Readers (other processes, our own registry) never see a half-written file: the spec goes to a
``*.tmp`` file in the target directory (ignored by scanners and watchers), is synced, and is
renamed into place. Files are 0644 so that unprivileged tools can read them (the reference
writes 0600; upstream issue #224).

A writer killed between creating its temporary file and renaming it leaves the file behind,
and nobody else would ever remove it. So temporary files are named ``.cdi-spec.<pid>.<16 hex
digits>.tmp`` — hidden, ending in ``.tmp``, and recognisably ours — and each write removes
files of exactly that name that have not been modified for :data:`STALE_TEMPORARY_SECONDS`.
A live write takes milliseconds, so the age leaves a wide margin for one still in progress;
a writer stalled for longer finds its file gone and fails with ``rename failed: ...`` rather
than installing anything. Files of any other name (the reference's own ``spec.*.tmp``
included) are never touched.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import time

from cdi.errors import SpecError, SpecWriteError
from cdi.gotext import path_error, quote
from cdi.names import parse_qualifier
from cdi.spec.encode import encode
from cdi.spec.load import validate_spec
from cdi.spec.model import Spec

SPEC_EXTENSIONS = {".json": "json", ".yaml": "yaml"}
SPEC_FILE_MODE = 0o644

#: A temporary file of ours that has not changed for this long belongs to a dead writer.
STALE_TEMPORARY_SECONDS = 300.0

_TEMPORARY_PREFIX = ".cdi-spec."
_TEMPORARY_SUFFIX = ".tmp"
_TEMPORARY_NAME = re.compile(r"\.cdi-spec\.[0-9]+\.[0-9a-f]{16}\.tmp")

_log = logging.getLogger(__name__)


def spec_name(vendor: str, cls: str) -> str:
    """The conventional file name (without extension) for a vendor's class."""
    return f"{vendor}-{cls}"


def transient_spec_name(vendor: str, cls: str, transient_id: str) -> str:
    """A file name for a short-lived spec, e.g. one per container (``/`` in *id* becomes ``_``)."""
    return f"{vendor}-{cls}_{transient_id.replace('/', '_')}"


def _vendor_class(spec: Spec) -> tuple[str, str]:
    vendor, cls = parse_qualifier(spec.kind)
    if not vendor:
        raise SpecError(f"invalid vendor/class {quote(spec.kind)} in Spec")
    return vendor, cls


def name_for_spec(spec: Spec) -> str:
    """:func:`spec_name` for the spec's own kind."""
    return spec_name(*_vendor_class(spec))


def name_for_transient_spec(spec: Spec, transient_id: str) -> str:
    """:func:`transient_spec_name` for the spec's own kind."""
    return transient_spec_name(*_vendor_class(spec), transient_id)


def spec_file_name(name: str, fmt: str | None = None) -> tuple[str, str]:
    """``(file name, format)``: ``.json``/``.yaml`` names keep theirs, others get one added.

    A name that is not a plain file name (a path separator, ``.``, ``..``) is refused, so a
    spec can never be written outside its directory.
    """
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise SpecWriteError(f"invalid Spec file name {quote(name)}: must be a plain file name")
    extension = os.path.splitext(name)[1]
    if extension in SPEC_EXTENSIONS:
        if fmt is not None and fmt != SPEC_EXTENSIONS[extension]:
            raise SpecWriteError(f"Spec file name {quote(name)} does not match format {fmt}")
        return name, SPEC_EXTENSIONS[extension]
    fmt = fmt or "yaml"
    if fmt not in SPEC_EXTENSIONS.values():
        raise SpecWriteError(f"unknown Spec format {quote(fmt)} (want yaml or json)")
    return f"{name}.{fmt}", fmt


def write_spec(
    spec: Spec,
    directory: str | os.PathLike[str],
    name: str | None = None,
    *,
    fmt: str | None = None,
    overwrite: bool = True,
) -> str:
    """Validate *spec* and write it atomically into *directory*; returns the file's path.

    *name* defaults to :func:`name_for_spec`; the format follows its extension, else *fmt*,
    else YAML. With ``overwrite=False`` an existing file is an error.
    """
    validate_spec(spec)
    file_name, fmt = spec_file_name(name or name_for_spec(spec), fmt)
    directory = os.fspath(directory)
    return _write_bytes(directory, os.path.join(directory, file_name), encode(spec, fmt), overwrite)


def write_spec_file(
    spec: Spec, path: str | os.PathLike[str], data: bytes, *, overwrite: bool = True
) -> str:
    """Validate *spec* and write *data*, its encoding, atomically to *path* as named.

    For writers with their own encoding or file naming (``cdi generate``'s ``--output``);
    otherwise the same as :func:`write_spec`: the directory is created (0755), the file is
    0644. Returns *path*.
    """
    validate_spec(spec)
    path = os.fspath(path)
    return _write_bytes(os.path.dirname(path) or ".", path, data, overwrite)


def _write_bytes(directory: str, target: str, data: bytes, overwrite: bool) -> str:
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
    except OSError as err:
        raise SpecWriteError(
            f"failed to create Spec dir: {path_error(err, 'mkdir', directory)}"
        ) from None
    remove_stale_temporaries(directory)
    try:
        fd, temporary = _create_temporary(directory)
    except OSError as err:
        raise SpecWriteError(
            f"failed to create Spec file: {path_error(err, 'open', directory)}"
        ) from None
    try:
        try:
            with open(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fchmod(handle.fileno(), SPEC_FILE_MODE)
                os.fsync(handle.fileno())
        except OSError as err:
            raise SpecWriteError(
                f"failed to write Spec file: {path_error(err, 'write', temporary)}"
            ) from None
        _install(temporary, target, overwrite)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    _sync_directory(directory)
    return target


def _temporary_name() -> str:
    return f"{_TEMPORARY_PREFIX}{os.getpid()}.{os.urandom(8).hex()}{_TEMPORARY_SUFFIX}"


def _create_temporary(directory: str) -> tuple[int, str]:
    """A new, empty temporary file of ours in *directory*, open for writing (mode 0600 until
    the data is complete)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(9):  # a clash of 64 random bits: next to impossible, but not an error
        path = os.path.join(directory, _temporary_name())
        with contextlib.suppress(FileExistsError):
            return os.open(path, flags, 0o600), path
    path = os.path.join(directory, _temporary_name())
    return os.open(path, flags, 0o600), path


def is_temporary_name(name: str) -> bool:
    """Whether *name* is the name of one of our temporary spec files."""
    return _TEMPORARY_NAME.fullmatch(name) is not None


def remove_stale_temporaries(
    directory: str | os.PathLike[str], older_than: float = STALE_TEMPORARY_SECONDS
) -> list[str]:
    """Remove our temporary files in *directory* unchanged for *older_than* seconds, left by
    writers that were killed; returns their paths. Never raises: this is housekeeping.

    Only regular files whose name is exactly ours are removed; anything else (another
    tool's temporary files, links, directories) is left alone.
    """
    removed: list[str] = []
    deadline = time.time() - older_than
    try:
        listing = os.scandir(directory)
    except OSError:
        return removed
    with listing:
        for entry in listing:
            if not is_temporary_name(entry.name):
                continue
            try:
                info = entry.stat(follow_symlinks=False)
                if not stat.S_ISREG(info.st_mode) or info.st_mtime > deadline:
                    continue  # not a file we made, or a writer may still be at work
                os.unlink(entry.path)
            except FileNotFoundError:
                continue  # another writer cleaned it up first
            except OSError as err:
                _log.debug("cannot remove stale temporary spec file %s: %s", entry.path, err)
                continue
            _log.info("removed stale temporary spec file %s", entry.path)
            removed.append(entry.path)
    return removed


def _install(temporary: str, target: str, overwrite: bool) -> None:
    try:
        if overwrite:
            os.replace(temporary, target)
        else:
            os.link(temporary, target)  # atomic, and fails if the target exists
    except OSError as err:
        raise SpecWriteError(f"rename failed: {path_error(err, 'rename', target)}") from None


def _sync_directory(directory: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_spec(directory: str | os.PathLike[str], name: str) -> None:
    """Remove spec file *name* (extension optional, as when writing); a missing file is fine."""
    file_name, _ = spec_file_name(name)
    target = os.path.join(os.fspath(directory), file_name)
    try:
        os.unlink(target)
    except FileNotFoundError:
        pass
    except OSError as err:
        raise SpecWriteError(
            f"failed to remove Spec file: {path_error(err, 'remove', target)}"
        ) from None
