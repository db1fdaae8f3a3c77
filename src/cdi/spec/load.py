"""Reading spec files: bytes to a validated :class:`~cdi.spec.model.Spec`, or a SpecError.

JSON documents take the C ``json`` fast path (same results as the YAML path, which every
document can also take); anything ``json`` cannot read, and every error location, goes
through the YAML 1.1 path. Errors read like the reference's and carry file, line and column.
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any

from cdi.errors import FieldPath, SpecError
from cdi.gotext import path_error, quote
from cdi.spec import yaml11
from cdi.spec.decode import DecodeError, decode_spec
from cdi.spec.model import Spec
from cdi.spec.validate import ValidationError, validate_spec_content

#: Spec files larger than this are refused before parsing (the largest generated specs seen
#: in practice are a few hundred KiB).
MAX_SPEC_SIZE = 8 * 1024 * 1024

_INT_MIN, _UINT_MAX = -(2**63), 2**64 - 1


def _json_int(text: str) -> int | float:
    # go-yaml turns integers beyond int64/uint64 into floats; so must the fast path.
    value = int(text)
    return value if _INT_MIN <= value <= _UINT_MAX else float(text)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN/Infinity: let the YAML path decide


def _looks_like_json(data: str | bytes) -> bool:
    head = data[:64].lstrip()
    return head[:1] in ("{", b"{")


def parse_value(data: str | bytes) -> Any:
    """The document as plain values (:class:`~cdi.spec.yaml11.Pairs` for mappings)."""
    if _looks_like_json(data):
        try:
            return json.loads(
                data,
                object_pairs_hook=yaml11.Pairs,
                parse_int=_json_int,
                parse_constant=_no_constants,
            )
        except (ValueError, RecursionError):
            pass
    return yaml11.load(data)


def _parse_failure(
    message: str,
    data: str | bytes,
    path: str | None,
    *,
    field_path: FieldPath = (),
    position: tuple[int | None, int | None] | None = None,
    hint: str | None = None,
) -> SpecError:
    text = f"failed to unmarshal CDI Spec: {message}"
    if path is not None:
        text = f"failed to parse CDI Spec {quote(path)}: {text}"
    if position is None:
        position = yaml11.locate(data, field_path) if field_path else None
    line, column = position or (None, None)
    return SpecError(text, path=path, line=line, column=column, field_path=field_path, hint=hint)


def _too_large(size: int) -> str:
    return f"spec is {size} bytes, larger than the limit of {MAX_SPEC_SIZE} bytes"


def parse_spec(data: str | bytes, path: str | None = None, *, strict: bool = False) -> Spec:
    """Parse and validate a spec document (JSON or YAML; both with YAML 1.1 semantics).

    *path* only labels errors. *strict* adds the Kubernetes annotation rules.
    Raises :class:`~cdi.errors.SpecError`.
    """
    if len(data) > MAX_SPEC_SIZE:
        raise _parse_failure(_too_large(len(data)), data, path)
    try:
        value = parse_value(data)
    except yaml11.YAMLValueError as err:
        raise _parse_failure(err.message, data, path, position=(err.line, err.column)) from None
    if value is None:
        message = "no Spec data"
        if path is not None:
            message = f"failed to parse CDI Spec {quote(path)}, {message}"
        raise SpecError(message, path=path)
    try:
        spec = decode_spec(value)
    except DecodeError as err:
        raise _parse_failure(
            err.message, data, path, field_path=err.field_path, hint=err.hint
        ) from None
    try:
        validate_spec_content(spec, strict=strict)
    except ValidationError as err:
        line, column = yaml11.locate(data, err.field_path) or (None, None)
        raise SpecError(
            f"invalid CDI Spec: {err.message}",
            path=path,
            line=line,
            column=column,
            field_path=err.field_path,
        ) from None
    return spec


def validate_spec(spec: Spec, *, strict: bool = False) -> None:
    """Validate a spec built in code; raises :class:`~cdi.errors.SpecError`."""
    try:
        validate_spec_content(spec, strict=strict)
    except ValidationError as err:
        raise SpecError(f"invalid CDI Spec: {err.message}", field_path=err.field_path) from None


def read_spec_bytes(path: str) -> bytes:
    """The raw bytes of a spec file: regular files only, within the size limit.

    Opened non-blocking and checked with fstat first, so a FIFO or device planted in a spec
    directory can neither block nor flood the reader.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise SpecError(
            f"failed to read CDI Spec {quote(path)}: {path_error(err, 'open', path)}", path=path
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            problem = "not a regular file"
        elif info.st_size > MAX_SPEC_SIZE:
            problem = _too_large(info.st_size)
        else:
            data = _read_all(fd, info.st_size)
            if len(data) <= MAX_SPEC_SIZE:
                return data
            problem = _too_large(len(data))
    except OSError as err:
        problem = path_error(err, "read", path)
    finally:
        os.close(fd)
    raise SpecError(f"failed to read CDI Spec {quote(path)}: {problem}", path=path)


def _read_all(fd: int, expected: int) -> bytes:
    """Read to EOF, but never much more than the size limit (a file may grow meanwhile)."""
    data = os.read(fd, expected + 1)
    if len(data) <= expected:
        return data
    chunks = [data]
    total = len(data)
    while total <= MAX_SPEC_SIZE:
        chunk = os.read(fd, MAX_SPEC_SIZE + 1 - total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def load_spec(path: str | os.PathLike[str], *, strict: bool = False) -> Spec:
    """Read, parse and validate the spec file at *path*."""
    name = os.fspath(path)
    return parse_spec(read_spec_bytes(name), name, strict=strict)
