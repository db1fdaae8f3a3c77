"""Reading spec files: bytes to a validated :class:`~cdi.spec.model.Spec`, or a SpecError.

JSON documents take the C ``json`` fast path when it gives what the reference's YAML reader
would (no surrogate escapes, valid UTF-8, no number beyond what Go reads as a number);
anything else goes through the YAML 1.1 path: block-style YAML as tools write it through a
reader of that subset (:mod:`cdi.spec.yamlblock`), the rest through PyYAML's parser. A plain,
valid JSON spec takes a shorter path still (:mod:`cdi.spec.fastparse`), which gives up on
anything else. Errors carry the
reference's text, with its wrappers (see :mod:`cdi.spec.failure`), and file, line and
column. Positions come from the one parse: the YAML path keeps them, the JSON path finds
them in the text when needed; a reader that keeps none has the document read again by the
YAML path that does, for the error only.
"""

from __future__ import annotations

import os
import stat

from cdi.errors import FieldPath, SpecError
from cdi.gotext import path_error, quote
from cdi.spec import failure
from cdi.spec.decode import DecodeError, decode_spec
from cdi.spec.fastparse import parse_json_spec
from cdi.spec.gojson import read_json
from cdi.spec.jsonlocate import JSONDocument
from cdi.spec.validate import ValidationError, validate_spec_content

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from cdi.spec.failure import Document
    from cdi.spec.model import Spec

#: Spec files larger than this are refused before parsing. The largest real spec known is
#: 172 kB (968 MIG devices); at this size even the slowest document to parse (the most
#: nodes per byte, YAML) loads or fails within about a second (bench/limits.py).
MAX_SPEC_SIZE = 1024 * 1024


def _looks_like_json(data: str | bytes) -> bool:
    head = data[:64].lstrip()
    return head[:1] in ("{", b"{")


def parse_document(data: str | bytes) -> Document:
    """The document as plain values (:class:`~cdi.spec.pairs.Pairs` for mappings).

    Raises :class:`~cdi.spec.yaml11.YAMLValueError` when it is not YAML.
    """
    if _looks_like_json(data):
        read = read_json(data)
        if read is not None:
            return JSONDocument(*read)
    from cdi.spec.yamlblock import read_block

    block = read_block(data)  # the block style tools write, without PyYAML
    if block is not None:
        return block
    from cdi.spec import yaml11  # PyYAML: only for the rest of YAML

    return yaml11.parse(data)


def parse_value(data: str | bytes) -> Any:
    """The plain value of the document in *data* (repeated keys kept as pairs)."""
    return parse_document(data).value


def _parse_failure(
    message: str,
    path: str | None,
    *,
    field_path: FieldPath = (),
    position: tuple[int | None, int | None] | None = None,
    hint: str | None = None,
) -> SpecError:
    text = f"failed to unmarshal CDI Spec: {message}"
    if path is not None:
        text = f"failed to parse CDI Spec {quote(path)}: {text}"
    line, column = position or (None, None)
    return SpecError(text, path=path, line=line, column=column, field_path=field_path, hint=hint)


def _reported(problem: failure.Failure, document: Document, path: str | None) -> SpecError:
    position = problem.position or document.locate(problem.field_path)
    return _parse_failure(
        problem.message, path, field_path=problem.field_path, position=position, hint=problem.hint
    )


def _too_large(size: int) -> str:
    return f"spec is {size} bytes, larger than the limit of {MAX_SPEC_SIZE} bytes"


def parse_spec(data: str | bytes, path: str | None = None, *, strict: bool = False) -> Spec:
    """Parse and validate a spec document (JSON or YAML; both with YAML 1.1 semantics).

    *path* only labels errors. *strict* adds the Kubernetes annotation rules.
    Raises :class:`~cdi.errors.SpecError`.
    """
    if len(data) > MAX_SPEC_SIZE:
        raise _parse_failure(_too_large(len(data)), path)
    if _looks_like_json(data):
        spec = parse_json_spec(data, strict=strict)
        if spec is not None:
            return spec
    document = _document(parse_document, data, path)
    try:
        return _spec_of(document, path, strict)
    except SpecError:
        if document.value is None or document.locate(()) is not None:
            raise
    # A reader that keeps no positions: the error is reported from the YAML path's reading.
    from cdi.spec import yaml11

    return _spec_of(_document(yaml11.parse, data, path), path, strict)


def _document(
    parse: Callable[[str | bytes], Document], data: str | bytes, path: str | None
) -> Document:
    try:
        return parse(data)
    except ValueError as err:
        from cdi.spec.yaml11 import YAMLValueError  # the only ValueError a parser raises

        if not isinstance(err, YAMLValueError):
            raise
        raise _parse_failure(
            failure.YAML_PHASE + err.message, path, position=(err.line, err.column)
        ) from None


def _spec_of(document: Document, path: str | None, strict: bool) -> Spec:
    """The valid spec *document* holds; raises :class:`~cdi.errors.SpecError`."""
    if not isinstance(document, JSONDocument) and document.duplicates:
        # go-yaml refuses repeated keys whatever else the document holds. A JSON document's
        # are looked for only if decoding fails, which they make it do.
        raise _reported(failure.duplicate_keys(document.duplicates), document, path)
    if document.value is None:
        message = "no Spec data"
        if path is not None:
            message = f"failed to parse CDI Spec {quote(path)}, {message}"
        raise SpecError(message, path=path)
    try:
        spec = decode_spec(document.value)
    except DecodeError as err:
        raise _reported(failure.decode_failure(document, err), document, path) from None
    try:
        validate_spec_content(spec, strict=strict)
    except ValidationError as err:
        line, column = document.locate(err.field_path) or (None, None)
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
