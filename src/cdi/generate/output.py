"""Where and how a generated spec is written: ``--output`` and ``--format``.

The bytes are the Go reference writer's (:func:`cdi.spec.goencode.encode_go`), so that a
spec written here diffs clean against one ``nvidia-ctk`` writes. Files are written through
the producer: validated first, atomically (a temporary file in the same directory, synced,
renamed), mode 0644, the directory created 0755 when missing.

Two deliberate differences from ``nvidia-ctk`` (docs/compatibility.md):

* ``--format`` wins over the extension of ``--output`` when given explicitly, as
  ``nvidia-ctk`` documents; ``nvidia-ctk`` itself warns and then writes what the extension
  says (``--output x.yaml --format json`` gives YAML).
* Printing to stdout encodes the spec in memory. ``nvidia-ctk`` goes through a temporary
  spec cache in ``$TMPDIR``, which reads every file there and can fail on an unrelated one.
"""

from __future__ import annotations

import os
import posixpath

from cdi.generate.errors import GenerateError
from cdi.gopath import clean
from cdi.producer import write_spec_file
from cdi.spec.goencode import encode_go
from cdi.spec.load import validate_spec
from cdi.spec.model import Spec

__all__ = [
    "FORMATS",
    "OutputFormatError",
    "choose_format",
    "format_from_path",
    "output_path",
    "render",
    "write_output",
]

#: The formats a spec can be written in; the first is the default.
FORMATS = ("yaml", "json")
_EXTENSION_FORMATS = {".json": "json", ".yaml": "yaml", ".yml": "yaml"}


class OutputFormatError(GenerateError, ValueError):
    """A format that specs are not written in."""


def format_from_path(path: str) -> str | None:
    """The format the extension of *path* names (``.json``, ``.yaml``, ``.yml``), if any."""
    return _EXTENSION_FORMATS.get(posixpath.splitext(path)[1])


def choose_format(
    output_path: str, fmt_flag: str = "yaml", fmt_explicit: bool = False
) -> tuple[str, str | None]:
    """``(format, warning)`` for ``--output`` *output_path* and ``--format`` *fmt_flag*.

    An explicitly given format (*fmt_explicit*) wins; otherwise the extension of the output
    file decides, else *fmt_flag* (whose default is YAML). When an explicit format and the
    extension disagree, the warning says so. Formats are case-insensitive, as in
    ``nvidia-ctk``.
    """
    fmt = fmt_flag.lower()
    if fmt not in FORMATS:
        raise OutputFormatError(f"invalid output format: {fmt}")
    implied = format_from_path(output_path) if output_path else None
    if implied is None or implied == fmt:
        return fmt, None
    if not fmt_explicit:
        return implied, None
    return fmt, (
        f'Requested output format "{fmt}" does not match format implied by output file '
        f'name: "{implied}"; writing {fmt} as requested'
    )


def output_path(path: str, fmt: str, cwd: str | None = None) -> str:
    """The file ``--output`` *path* names for a spec in *fmt*: absolute (relative to *cwd*,
    default the working directory) and with ``.yaml``/``.json`` appended unless it has a
    spec extension already (``.json``, ``.yaml``, ``.yml``)."""
    if format_from_path(path) is None:
        path = f"{path}.{fmt}"
    if not posixpath.isabs(path):
        path = posixpath.join(cwd if cwd is not None else os.getcwd(), path)
    return clean(path)


def render(spec: Spec, fmt: str) -> bytes:
    """*spec* validated and encoded in *fmt* as the reference writes it (for stdout)."""
    validate_spec(spec)
    return encode_go(spec, fmt)


def write_output(spec: Spec, path: str, fmt: str) -> str:
    """Validate *spec* and write it in *fmt* to the file ``--output`` *path* names
    (:func:`output_path`); returns that file's path. Raises
    :class:`~cdi.errors.SpecError` or :class:`~cdi.errors.SpecWriteError`."""
    target = output_path(path, fmt)
    return write_spec_file(spec, target, encode_go(spec, fmt))
