"""A validated spec as the index stores it: its normalised JSON, decoded without validation.

The normalised form is the spec's wire form (:func:`cdi.spec.plain.to_plain`, JSON style), which
reads back to an equal spec; decoding it skips validation because the spec was validated when
its file was parsed, and the index is only trusted when no one else can have written it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from cdi.spec.model import Spec


def encode_spec(spec: Spec) -> bytes:
    """The normalised JSON of *spec*."""
    from cdi.jsonout import dumps_compact
    from cdi.spec.plain import to_plain

    return dumps_compact(to_plain(spec, json_style=True)).encode("utf-8", "surrogateescape")


def decode_spec(blob: bytes | memoryview) -> Spec:
    """The spec *blob* (from :func:`encode_spec`) holds."""
    from cdi.spec import fastdecode
    from cdi.spec.gojson import read_plain_json

    value = read_plain_json(str(blob, "utf-8", "surrogateescape"))
    try:  # the common case, without loading the full decoder
        return fastdecode.decode_plain(value)
    except fastdecode.Unusual:
        from cdi.spec.decode import decode_spec as decode_value

        return decode_value(value)
