"""The model to JSON or YAML, as the reference writes it.

Keys come in Go's struct order and empty values are left out where the Go field says
``omitempty``. Two details follow the reference's encoders: JSON always carries the spec's
``containerEdits`` (Go's JSON encoder never omits a struct) while YAML leaves it out when
empty, and YAML starts with ``---``. One deliberate difference: ``intelRdt.schemata: []`` is
written as ``[]`` instead of being dropped, so that writing and reading back gives the same
spec (and the same minimum version).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

from yaml.representer import SafeRepresenter

from cdi.errors import SpecError
from cdi.gotext import quote
from cdi.spec.model import ContainerEdits, Spec
from cdi.spec.plain import to_plain
from cdi.spec.yaml11 import GoYAMLResolver

try:  # libyaml's emitter (it serializes too) when available
    from yaml._yaml import CEmitter as _Emitter
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml.emitter import Emitter
    from yaml.serializer import Serializer

    class _Emitter(Emitter, Serializer):  # type: ignore[no-redef]
        def __init__(self, stream: Any, *, allow_unicode: bool, width: int, explicit_start: bool):
            Emitter.__init__(self, stream, allow_unicode=allow_unicode, width=width)
            Serializer.__init__(self, explicit_start=explicit_start)


class GoQuotingDumper(_Emitter, SafeRepresenter, GoYAMLResolver):
    """PyYAML's safe dumper, quoting every string the reference would read as non-string."""

    def __init__(self, stream: Any, *, explicit_start: bool = False) -> None:
        _Emitter.__init__(
            self, stream, allow_unicode=True, width=1 << 16, explicit_start=explicit_start
        )
        SafeRepresenter.__init__(self, default_flow_style=False, sort_keys=False)
        GoYAMLResolver.__init__(self)


def dump_yaml(value: Any, dumper: Callable[..., Any] = GoQuotingDumper, **options: Any) -> str:
    """Plain data as YAML text, written by *dumper* (made with the stream and *options*)."""
    stream = io.StringIO()
    emitter = dumper(stream, **options)
    try:
        emitter.open()
        emitter.represent(value)
        emitter.close()
    finally:
        emitter.dispose()
    return stream.getvalue()


def encode_yaml(spec: Spec) -> bytes:
    """The spec as YAML, starting with ``---``."""
    return dump_yaml(to_plain(spec), explicit_start=True).encode()


def encode_json(spec: Spec) -> bytes:
    """The spec as compact JSON (``containerEdits`` always present)."""
    return json.dumps(
        to_plain(spec, json_style=True), separators=(",", ":"), ensure_ascii=False
    ).encode()


def encode(spec: Spec, fmt: str) -> bytes:
    """Encode as ``"yaml"`` or ``"json"``; a spec holding text that is not Unicode (a lone
    surrogate, from undecodable input) raises :class:`~cdi.errors.SpecError`."""
    if fmt not in ("json", "yaml"):
        raise ValueError(f"unknown spec format {fmt!r} (want yaml or json)")
    try:
        return encode_json(spec) if fmt == "json" else encode_yaml(spec)
    except UnicodeEncodeError as err:
        text = err.object if isinstance(err.object, str) else ""
        raise SpecError(f"invalid CDI Spec: {quote(text)} is not valid UTF-8 text") from None


def edits_to_plain(edits: ContainerEdits) -> dict[str, Any]:
    """Container edits in wire form (used to show merged edits)."""
    return to_plain(edits)
