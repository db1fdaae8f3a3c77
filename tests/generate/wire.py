"""Model objects from and to CDI wire form (spec-file keys), for the generator vector tables."""

from __future__ import annotations

from typing import Any

from cdi.spec.decode import decode_spec
from cdi.spec.model import ContainerEdits, Device, Spec
from cdi.spec.pairs import Pairs
from cdi.spec.plain import to_plain


def _pairs(value: Any) -> Any:
    """Plain data as the decoder takes it (mappings as :class:`Pairs`)."""
    if isinstance(value, dict):
        return Pairs((str(key), _pairs(item)) for key, item in value.items())
    if isinstance(value, list):
        return [_pairs(item) for item in value]
    return value


def spec_from_wire(document: dict[str, Any]) -> Spec:
    """A spec from its wire form, decoded but not validated (tables hold partial specs)."""
    return decode_spec(_pairs({"cdiVersion": "1.1.0", "kind": "example.com/device", **document}))


def edits_from_wire(edits: dict[str, Any] | None) -> ContainerEdits:
    return spec_from_wire({"containerEdits": edits or {}}).container_edits


def devices_from_wire(devices: list[dict[str, Any]]) -> tuple[Device, ...]:
    return spec_from_wire({"devices": devices}).devices


def wire(obj: Any) -> Any:
    """A model object (or a sequence of them) in wire form, empty fields left out."""
    if isinstance(obj, tuple | list):
        return [to_plain(item) for item in obj]
    return to_plain(obj)


def fill_root(value: Any, root: object, placeholder: str = "{root}") -> Any:
    """*value* (an expectation from a table or a test) with *placeholder* replaced by *root*
    in every string."""
    if isinstance(value, str):
        return value.replace(placeholder, str(root))
    if isinstance(value, list):
        return [fill_root(item, root, placeholder) for item in value]
    if isinstance(value, dict):
        return {key: fill_root(item, root, placeholder) for key, item in value.items()}
    return value
