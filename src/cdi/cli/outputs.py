"""What ``cdi devices`` and ``cdi inject`` print, without the command-line framework.

Both the click commands and the fast entry point (:mod:`cdi.cli.fast`) call these, so the
two print the same by construction; each reports the errors its own way.
"""

from __future__ import annotations

from cdi.cli import views

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from cdi.registry import Registry


def devices_listing(registry: Registry, fmt: str) -> tuple[str, str | None]:
    """``cdi devices -o FMT`` (not verbose): the text for stdout (lines ending in newlines)
    and the line for stderr, if any (``names`` counts the devices there, as nvidia-ctk)."""
    if fmt == "names":
        names = views.devices_names(registry)
        return "".join(name + "\n" for name in names), views.devices_found_line(names)
    if fmt == "text":
        return "\n".join(views.devices_text(registry)) + "\n", None
    if fmt == "json":
        return views.devices_json(registry) + "\n", None
    from cdi.ocispec import dump_document

    return dump_document(views.devices_data(registry), fmt) + "\n", None


def inject_devices(registry: Registry, spec: Any, patterns: Sequence[str]) -> dict[str, Any]:
    """*spec* with the devices *patterns* select injected once each, in sorted order.

    Raises :class:`~cdi.globs.PatternError` for a malformed pattern,
    :class:`~cdi.errors.UnresolvableDevicesError` naming the patterns that match nothing,
    and what :meth:`Registry.inject <cdi.registry.Registry.inject>` raises.
    """
    from cdi.errors import UnresolvableDevicesError
    from cdi.globs import expand

    selected = expand(patterns, registry.list_devices())
    if selected.unmatched:
        raise UnresolvableDevicesError(selected.unmatched)
    return registry.inject(spec, selected.names)
