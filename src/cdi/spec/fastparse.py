"""The common case of parsing a JSON spec, without a Python call per object or number.

The full path (:func:`cdi.spec.load.parse_spec`) reads objects as
:class:`~cdi.spec.pairs.Pairs` (a Python call per object, repeated keys kept), converts every
number with a Python call, decodes and then validates in a second walk. For a document that
is plain and valid, all of it gives the same spec as this: the C parser builds ``dict``s and
Python numbers, and one generated function decodes and checks them
(:func:`cdi.spec.fastdecode.decode_checked`). Whatever it does not vouch for, it gives up
on (``None``), and the full path reads the document again from the start, to accept it or to
word the error as the reference does.

What ``dict`` loses, repeated keys, is found by counting: every key of a JSON object is
followed by a colon that belongs to it alone (its closing quote, maybe whitespace, then the
colon), so a text with as many colons as the decoded objects have keys holds no repeated
key. Colons in strings (paths, URLs) make that count too high; then the count of a closing
quote directly followed by a colon serves instead, where no whitespace comes before a colon.
"""

from __future__ import annotations

from cdi.spec.cjson import NOT_JSON
from cdi.spec.fastdecode import Unusual, decode_checked
from cdi.spec.gojson import json_text, read_plain_json

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from cdi.spec.model import Spec


def no_repeated_keys(text: str, keys: int) -> bool:
    """Whether the JSON *text*, whose objects hold *keys* distinct keys, repeats none.

    ``False`` only means that counting cannot tell.
    """
    colons = text.count(":")
    if colons == keys:
        return True
    # Otherwise each key's colon right after its closing quote, when no colon anywhere has
    # whitespace before it; a string starting with a colon only makes this count too high.
    return (
        colons > keys
        and text.count('":') == keys
        and " :" not in text
        and "\n:" not in text
        and "\t:" not in text
        and "\r:" not in text
    )


def parse_json_spec(data: str | bytes, *, strict: bool = False) -> Spec | None:
    """The valid spec in the JSON document *data*, or ``None``: then only the full path can
    tell (it may still be valid)."""
    text = json_text(data)
    if text is None:
        return None
    try:
        value = read_plain_json(text)
        spec, keys = decode_checked(value)
    except NOT_JSON:
        return None
    except Unusual:
        return None
    if text.count(":") != keys and not no_repeated_keys(text, keys):
        return None
    if strict:
        from cdi.spec.validate import ValidationError, validate_spec_content

        try:
            validate_spec_content(spec, strict=True)
        except ValidationError:
            return None
    return spec
