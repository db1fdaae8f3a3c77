"""Injecting into a bundle that may already have the devices, without doubling them.

Engines with CDI support (podman ``--device``, containerd and CRI-O reading the CRI field or
the same annotations, Docker) inject before the runtime is called, and leave the annotations
in ``config.json``. Injecting the same devices again must change nothing. The library's
edits already replace what has a key -- environment variables by name, mounts by
destination, device nodes by path, additional GIDs by value, network devices by host name --
so a second injection reproduces those. What it appends without a key would come twice:
hooks (a hook would run twice) and the device cgroup rules. So an appended hook or rule equal
to one the spec already had before this injection is dropped. A hook or rule that appears
twice within one injection stays twice, as in the library.
"""

from __future__ import annotations

from cdi.injection import HOOK_LISTS

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import Any

__all__ = ["drop_repeated"]


def _list_at(spec: Any, *keys: str) -> list[Any] | None:
    for key in keys:
        if not isinstance(spec, dict):
            return None
        spec = spec.get(key)
    return spec if isinstance(spec, list) else None


def _without_repeats(before: list[Any] | None, after: list[Any] | None) -> None:
    """Drop from *after* the appended entries (past ``len(before)``) equal to one of
    *before*. Injection only appends to these lists, so *before* is *after*'s start."""
    if not before or not after or after[: len(before)] != before:
        return
    appended = after[len(before) :]
    kept = [entry for entry in appended if entry not in before]
    if len(kept) != len(appended):
        after[len(before) :] = kept


def drop_repeated(original: dict[str, Any], injected: dict[str, Any]) -> dict[str, Any]:
    """*injected* (a copy of *original* with devices injected) without the hooks and device
    rules that *original* already had. Changes and returns *injected*."""
    for name in HOOK_LISTS:
        _without_repeats(_list_at(original, "hooks", name), _list_at(injected, "hooks", name))
    _without_repeats(
        _list_at(original, "linux", "resources", "devices"),
        _list_at(injected, "linux", "resources", "devices"),
    )
    return injected
