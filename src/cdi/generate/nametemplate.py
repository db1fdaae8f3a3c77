"""Device name templates of the generic generator: ``{index}``, ``gpu{index}``, ``{pci}``.

A template is literal text with fields in braces. The fields are ``{index}`` (the node's
0-based position in the generator's sorted node order), ``{basename}`` (the node's file
name), ``{pci}`` (the PCI address of the node's device) and ``{serial}`` (its serial number
attribute). Braces serve only to name fields: device names cannot hold braces, so there is
no escape for them, and format specifications (``{index:02}``) are not supported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cdi.generate.errors import GenerateError
from cdi.gotext import quote

#: The fields a template may use, in the order error messages list them.
FIELDS = ("index", "basename", "pci", "serial")


class NameTemplateError(GenerateError, ValueError):
    """A name template that cannot be parsed, or uses a field that does not exist."""


@dataclass(frozen=True)
class NameTemplate:
    """A parsed template: literal text and field names, alternating (``None``: no field)."""

    text: str
    parts: tuple[tuple[str, str | None], ...]

    @classmethod
    def parse(cls, text: str) -> NameTemplate:
        if not text:
            raise NameTemplateError("invalid name template: it is empty")
        parts: list[tuple[str, str | None]] = []
        literal_start = 0
        position = 0
        while position < len(text):
            char = text[position]
            if char == "}":
                raise NameTemplateError(
                    f"invalid name template {quote(text)}: '}}' without '{{' at {position}"
                )
            if char != "{":
                position += 1
                continue
            end = text.find("}", position + 1)
            if end < 0:
                raise NameTemplateError(
                    f"invalid name template {quote(text)}: '{{' at {position} is not closed"
                )
            field = text[position + 1 : end]
            if field not in FIELDS:
                known = ", ".join(f"{{{name}}}" for name in FIELDS)
                raise NameTemplateError(
                    f"invalid name template {quote(text)}: unknown field {{{field}}}"
                    f" (known: {known})"
                )
            parts.append((text[literal_start:position], field))
            position = literal_start = end + 1
        if literal_start < len(text):
            parts.append((text[literal_start:], None))
        return cls(text, tuple(parts))

    @property
    def fields(self) -> frozenset[str]:
        """The fields the template uses."""
        return frozenset(field for _, field in self.parts if field is not None)

    def render(self, values: Mapping[str, str]) -> str:
        """The name for *values*, which must hold every field of :attr:`fields`."""
        return "".join(literal + (values[field] if field else "") for literal, field in self.parts)
