"""YAML in the layout of Go's yaml.v3 encoder, for the text views' ``-v`` dumps.

The reference ``cdi`` tool dumps devices and specs with yaml.v3, whose layout differs from
PyYAML's: four spaces per level, sequences indented under their key (PyYAML leaves them
flush), the content of a sequence item two columns in (just past ``- ``) with deeper levels
rounded up to the next multiple of four, strings that would read back as something else in
double quotes, and multi-line strings as literal blocks. Matching it lets the output of the
two tools be compared line by line. Data output (``-o yaml``) keeps the project's own
two-space layout (:func:`cdi.ocispec.dump_document`).
"""

from __future__ import annotations

from typing import Any

import yaml

from cdi.spec.encode import dump_yaml
from cdi.spec.yaml11 import GoYAMLResolver

__all__ = ["dump"]

_INDENT = 4


class _Emitter(yaml.emitter.Emitter):
    # PyYAML's emitter is untyped; these overrides keep its signatures.

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        self.indents.append(self.indent)
        if self.indent is None:
            self.indent = self.best_indent if flow else 0
        elif self.states and self.states[-1] == self.expect_block_sequence_item:
            # A collection that is a sequence item starts right after "- ".
            self.indent += 2
        else:
            self.indent = self.best_indent * ((self.indent + self.best_indent) // self.best_indent)

    def expect_block_sequence(self) -> None:
        # yaml.v3 never writes a sequence flush with its key (no "indentless" sequences).
        self.increase_indent(flow=False)
        self.state = self.expect_first_block_sequence_item

    def choose_scalar_style(self) -> str:
        event = self.event
        if isinstance(event, yaml.ScalarEvent) and not event.style and not self.canonical:
            if self.analysis is None:
                self.analysis = self.analyze_scalar(event.value)
            block = not self.flow_level and not self.simple_key_context
            if "\n" in event.value and block and self.analysis.allow_block:
                return "|"
            if not event.implicit[0]:  # plain would read back as a number, bool, null...
                return '"'
        return str(super().choose_scalar_style())


class _Dumper(
    _Emitter,
    yaml.serializer.Serializer,
    yaml.representer.SafeRepresenter,
    GoYAMLResolver,
):
    def __init__(self, stream: Any) -> None:
        _Emitter.__init__(self, stream, indent=_INDENT, allow_unicode=True, width=1 << 16)
        yaml.serializer.Serializer.__init__(self)
        yaml.representer.SafeRepresenter.__init__(self, default_flow_style=False, sort_keys=False)
        GoYAMLResolver.__init__(self)


def dump(value: Any) -> str:
    """*value* (plain data) as yaml.v3 lays it out, without a final newline."""
    return dump_yaml(value, _Dumper).rstrip("\n")
