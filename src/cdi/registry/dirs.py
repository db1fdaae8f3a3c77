"""Which directories hold spec files, and in which priority order.

Later directories win: with the defaults, a spec in ``/var/run/cdi`` (written at run time by
device plugins) overrides one in ``/etc/cdi`` (installed with the host).
"""

from __future__ import annotations

import os

from cdi.gopath import clean

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Iterable

STATIC_DIR = "/etc/cdi"
DYNAMIC_DIR = "/var/run/cdi"
DEFAULT_SPEC_DIRS = (STATIC_DIR, DYNAMIC_DIR)
SPEC_DIRS_ENV = "CDI_SPEC_DIRS"


def default_spec_dirs(environ: dict[str, str] | None = None) -> list[str]:
    """``CDI_SPEC_DIRS`` (colon-separated, empty entries ignored) or the two defaults."""
    value = (os.environ if environ is None else environ).get(SPEC_DIRS_ENV, "")
    dirs = [entry for entry in value.split(":") if entry]
    return [clean(entry) for entry in dirs] if dirs else list(DEFAULT_SPEC_DIRS)


def resolve_spec_dirs(
    spec_dirs: Iterable[str | os.PathLike[str]] | str | os.PathLike[str] | None,
) -> list[str]:
    """The cleaned directories, lowest priority first; ``None`` (or none given) means the
    defaults, as in the reference."""
    if isinstance(spec_dirs, str | os.PathLike):
        spec_dirs = [spec_dirs]  # one directory, not a string of one-letter directories
    dirs = [clean(os.fspath(entry)) for entry in spec_dirs or ()]
    return dirs or default_spec_dirs()
