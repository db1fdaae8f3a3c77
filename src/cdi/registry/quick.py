"""The edits for a few devices straight from the persistent index, when nothing changed.

A container start (the runtime shim, a hook) asks for one or two devices. A
:class:`~cdi.registry.core.Registry` answers by first building an object for every file of
every spec directory -- right for a registry that lives on, but most of the work when a
process asks one question and exits. :func:`quick_edits` checks what a registry's scan would
check -- every directory listed, every spec file ``stat``-ed and compared with the identity
the index recorded for it, the trust policy applied to each -- and only when every file is
exactly one the index holds (same identity, not racy, same order) and the index kept the
resolved device table, it looks the names up there and decodes just the specs that define
them. Otherwise it answers ``None`` and the caller uses a registry, which scans, reports
what is wrong, and writes a fresh index for the next process.

So it never answers differently from a registry: only sooner, or not at all.
"""

from __future__ import annotations

import os
from bisect import bisect_left

from cdi.registry.dirs import resolve_spec_dirs
from cdi.registry.index import INDEX_ENV, IndexStore, LoadedIndex, default_index_dir
from cdi.registry.listing import file_key, spec_names
from cdi.registry.trust import OFF, WRITABLE_BY_OTHERS, TrustCheck, trust_mode

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from cdi.spec.model import ContainerEdits, Spec

__all__ = ["quick_edits"]


def _unchanged(dirs: Sequence[str], index: LoadedIndex, trust: TrustCheck | None) -> bool:
    """Whether the directories hold exactly the files *index* records, in its order, none
    of them racy or (with a trust policy) untrusted."""
    expected = index.order
    position = 0
    for directory in dirs:
        try:
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        except OSError:
            return False
        try:
            links: set[str] = set()
            names = spec_names(fd, links)
            prefix = directory if directory.endswith("/") else directory + "/"
            dir_reasons: list[str] = []
            if trust is not None:
                dir_reasons = trust.directory_reasons(os.fstat(fd), directory)
            for name in names:
                path = prefix + name
                if position >= len(expected) or expected[position] != path:
                    return False
                position += 1
                info = os.stat(name, dir_fd=fd)
                if not index.unchanged(path, file_key(info)):
                    return False
                if (
                    trust is not None
                    and (
                        dir_reasons
                        or info.st_mode & WRITABLE_BY_OTHERS
                        or info.st_uid not in trust.owners
                        or name in links
                    )
                    and trust.file_reasons(path, info, name in links, dir_reasons)
                ):
                    return False  # the registry refuses it, or warns about it
        except OSError:
            return False
        finally:
            os.close(fd)
    return position == len(expected)


def quick_edits(
    devices: Iterable[str],
    spec_dirs: Iterable[str | os.PathLike[str]] | str | os.PathLike[str] | None = None,
    *,
    trust: str = OFF,
    index: str | os.PathLike[str] | None = None,
) -> ContainerEdits | None:
    """What ``Registry(spec_dirs, trust=trust).resolve_edits(devices)`` returns, from the
    index alone; ``None`` when that cannot be known without a registry (something changed,
    a device is unknown, there is no usable index, ...). *index* is the index directory
    (default: the registry's)."""
    trust_mode(trust)
    if index is None and os.environ.get(INDEX_ENV) == "0":
        return None
    dirs = resolve_spec_dirs(spec_dirs)
    loaded = IndexStore(default_index_dir() if index is None else os.fspath(index), dirs).load()
    if loaded is None or loaded.table is None:
        return None
    check = None
    if trust != OFF:
        check = TrustCheck(trust)
        check.start()
    if not _unchanged(dirs, loaded, check):
        return None
    names, file_numbers, positions = loaded.table
    specs: dict[int, Spec] = {}
    edits: list[ContainerEdits] = []
    for device in devices:
        at = bisect_left(names, device)
        if at == len(names) or names[at] != device:
            return None  # unresolvable: the registry says so, with the files' problems
        number = file_numbers[at]
        spec = specs.get(number)
        if spec is None:
            spec = _decode(loaded, loaded.order[number])
            if spec is None:
                return None
            specs[number] = spec
            edits.append(spec.container_edits)
        position = positions[at]
        if not 0 <= position < len(spec.devices) or (
            f"{spec.kind}={spec.devices[position].name}" != device
        ):
            return None  # the table does not fit the spec: a damaged index
        edits.append(spec.devices[position].container_edits)
    from cdi.injection import merge_edits

    return merge_edits(edits)


def _decode(loaded: LoadedIndex, path: str) -> Spec | None:
    from cdi.registry.indexcodec import decode_spec

    entry = loaded.entry(path)
    blob = entry.intact_blob() if entry is not None else None
    if blob is None:
        return None
    try:
        return decode_spec(blob)
    except Exception:  # a damaged index is no index
        return None
