"""Which error the reference reports for a spec document that does not decode.

The reference reads a spec in three phases, and the first phase that fails decides the
message and its wrapper:

1. go-yaml reads the YAML, strictly: every repeated key anywhere in the document is
   reported, one ``line N: key "x" already set in map`` each
   (``error converting YAML to JSON: yaml: unmarshal errors:``...);
2. the value is turned into JSON: a NaN or an infinity anywhere but where a string is
   expected cannot be written (``error converting YAML to JSON: json: unsupported value:
   +Inf``);
3. ``encoding/json`` decodes that JSON. Its objects come out of a Go map, so their keys are
   *sorted*, and the first error in that order is reported (``error unmarshaling JSON:
   while decoding JSON: json: ...``).

The decoder stops at the first problem in document order, which costs nothing for the
documents that decode; only when it fails is the reference's error worked out here.
"""

from __future__ import annotations

import math
from operator import itemgetter

from cdi.gotext import format_float64
from cdi.spec.decode import DecodeError, decode_spec
from cdi.spec.model import Spec
from cdi.spec.pairs import Pairs
from cdi.spec.record import record
from cdi.spec.schema import FIELDS, Field, Kind, field_for_key

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, Protocol

    from cdi.errors import FieldPath
    from cdi.spec.yaml11 import Duplicate

    class Document(Protocol):
        """A parsed spec document: read by a YAML reader or by the JSON path."""

        value: Any

        @property
        def duplicates(self) -> Sequence[Duplicate]:
            """Every repeated key, in the order go-yaml reports them."""

        @property
        def non_finite(self) -> bool:
            """Whether the value may hold a NaN or an infinity."""

        def locate(self, field_path: FieldPath) -> tuple[int, int] | None:
            """The 1-based position of the node at *field_path* (or of an ancestor), or
            ``None`` from a reader that keeps no positions."""


#: The wrappers of the two phases (sigs.k8s.io/yaml's words).
YAML_PHASE = "error converting YAML to JSON: "
JSON_PHASE = "error unmarshaling JSON: while decoding JSON: "


@record
class Failure:
    """The reference's message for a document, and where in the document the problem is."""

    message: str
    field_path: FieldPath = ()
    position: tuple[int, int] | None = None
    hint: str | None = None


def duplicate_keys(duplicates: Sequence[Duplicate]) -> Failure:
    """go-yaml's report of repeated keys; the position is the first repeated key's."""
    lines = "\n  ".join(duplicate.message for duplicate in duplicates)
    first = duplicates[0]
    return Failure(
        f"{YAML_PHASE}yaml: unmarshal errors:\n  {lines}", position=(first.line, first.column)
    )


def decode_failure(document: Document, error: DecodeError) -> Failure:
    """The reference's error for *document*, whose value the decoder refused with *error*."""
    duplicates = document.duplicates
    if duplicates:  # a JSON document's are looked for only now
        return duplicate_keys(duplicates)
    value = document.value
    unsupported = _unsupported_number(value) if document.non_finite else None
    if unsupported is not None:
        path, number = unsupported
        return Failure(f"{YAML_PHASE}json: unsupported value: {format_float64(number)}", path)
    try:
        decode_spec(_in_go_order(value))
    except DecodeError as first:
        error = first
    return Failure(JSON_PHASE + error.message, error.field_path, hint=error.hint)


def _in_go_order(value: Any) -> Any:
    """A copy of *value* with every mapping's keys sorted, as Go's JSON encoder writes them."""
    root = value
    if type(value) is Pairs:
        root = Pairs(sorted(value, key=itemgetter(0)))
    elif type(value) is list:
        root = list(value)
    pending = [root] if root is not value else []
    while pending:
        node = pending.pop()
        for index, entry in enumerate(node):
            item = entry[1] if type(node) is Pairs else entry
            if type(item) is Pairs:
                copied: Any = Pairs(sorted(item, key=itemgetter(0)))
            elif type(item) is list:
                copied = list(item)
            else:
                continue
            node[index] = (entry[0], copied) if type(node) is Pairs else copied
            pending.append(copied)
    return root


# What the JSON conversion expects at a place: a model type (an object of its fields),
# _TEXT (a string), _TEXTS (a map or list of strings), _LIST_OF + a target, or None (no
# string: a number, a bool, or a key the spec does not have).
_TEXT = "string"
_TEXTS = "strings"


def _field_target(field: Field) -> Any:
    kind = field.kind
    if kind is Kind.STRING:
        return _TEXT
    if kind in (Kind.STRINGS, Kind.STRINGS_OR_NULL, Kind.STRING_MAP):
        return _TEXTS
    if kind is Kind.STRUCTS:
        return ("list", field.model)
    if kind in (Kind.STRUCT, Kind.STRUCT_PTR):
        return field.model
    return None


def _unsupported_number(value: Any) -> tuple[FieldPath, float] | None:
    """The first NaN or infinity (in Go's key order) where no string is expected, if any.

    Only there does it survive the conversion as a number, which JSON cannot write.
    """
    pending: list[tuple[Any, Any, FieldPath]] = [(value, Spec, ())]
    while pending:
        node, target, path = pending.pop()
        kind = type(node)
        if kind is float:
            if (math.isnan(node) or math.isinf(node)) and target != _TEXT:
                return path, node
            continue
        if kind is Pairs:
            entries = sorted(node, key=itemgetter(0))
        elif kind is list:
            entries = list(enumerate(node))
        else:
            continue
        pending.extend(
            (item, _child_target(target, step), (*path, step)) for step, item in reversed(entries)
        )
    return None


def _child_target(target: Any, step: str | int) -> Any:
    """What the conversion expects at *step* inside a place where it expects *target*."""
    if target == _TEXTS:
        return _TEXT
    if isinstance(step, int):
        return target[1] if type(target) is tuple else None
    if target in FIELDS:
        field = field_for_key(target, step)
        return _field_target(field) if field is not None else None
    return None
