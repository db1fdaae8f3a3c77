"""Replacing a file atomically, without leaving partial files behind.

The new content goes to a uniquely named file next to the target, which is renamed over the
target only once it is complete; on any failure it is removed. Two writers of one target
never share a temporary file, and a reader sees the old file or the new one, never half.
(Spec files have their own writer, :func:`cdi.producer.write_spec`, which also cleans up
after writers that were killed.)
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def replacing(target: str | os.PathLike[str], mode: int | None = None) -> Iterator[IO[bytes]]:
    """A binary file to write; when the block ends it replaces *target* (with *mode*)."""
    target = Path(target)
    fd, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".partial", dir=target.parent
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
