"""The registry's views -- vendors, classes, devices, specs, directories -- as text and data.

Text follows the reference ``cdi`` tool's layout (``CDI vendors found:`` then entries
numbered from 0, ``-v`` dumps as Go's json.MarshalIndent or yaml.v3 write them); data is
what ``-o json|yaml`` prints, with the keys documented in ``docs/cli.md``.
``cdi monitor`` prints the same views after each change.
"""

from __future__ import annotations

import os

from cdi.gotext import quote

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from cdi.errors import CDIError
    from cdi.registry import Registry

VIEWS = ("vendors", "classes", "devices", "specs", "dirs")


def _indent(text: str, level: int) -> list[str]:
    pad = " " * level
    return [pad + line for line in text.splitlines()]


def _dump(value: Any, fmt: str, level: int) -> list[str]:
    """A ``-v`` dump: JSON as the reference's MarshalIndent (two spaces), YAML as its yaml.v3."""
    if fmt == "json":
        from cdi.ocispec import dump_document

        return _indent(dump_document(value, "json"), level)
    from cdi.spec.goyaml import dump

    return _indent(dump(value), level)


def error_data(path: str, error: CDIError) -> dict[str, Any]:
    """An error as data: where (``path``, ``line``, ``column``), ``message``, ``hint``."""
    from cdi.errors import SpecError

    if isinstance(error, SpecError):
        return {
            "path": path,
            "line": error.line,
            "column": error.column,
            "message": error.message,
            "hint": error.hint,
        }
    return {"path": path, "line": None, "column": None, "message": str(error), "hint": None}


def error_text(error: CDIError) -> str:
    from cdi.errors import SpecError

    return error.describe() if isinstance(error, SpecError) else str(error)


# -- vendors ------------------------------------------------------------------------------


def vendors_data(registry: Registry) -> list[dict[str, Any]]:
    return [
        {"name": vendor, "specs": [spec.path for spec in registry.vendor_specs(vendor)]}
        for vendor in registry.list_vendors()
    ]


def vendors_text(registry: Registry) -> list[str]:
    vendors = registry.list_vendors()
    if not vendors:
        return ["No CDI vendors found."]
    lines = ["CDI vendors found:"]
    for index, vendor in enumerate(vendors):  # from 0, as the reference's range index
        count = len(registry.vendor_specs(vendor))
        lines.append(f"  {index}. {quote(vendor)} ({count} CDI Spec Files)")
    return lines


# -- classes ------------------------------------------------------------------------------


def _class_vendors(registry: Registry) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {name: [] for name in registry.list_classes()}
    for vendor in registry.list_vendors():
        for spec in registry.vendor_specs(vendor):
            vendors = found.setdefault(spec.device_class, [])
            if vendor not in vendors:
                vendors.append(vendor)
    return found


def classes_data(registry: Registry) -> list[dict[str, Any]]:
    return [
        {"name": name, "vendors": vendors} for name, vendors in _class_vendors(registry).items()
    ]


def classes_text(registry: Registry) -> list[str]:
    classes = _class_vendors(registry)
    if not classes:
        return ["No CDI device classes found."]
    lines = ["CDI device classes found:"]
    for index, (name, vendors) in enumerate(classes.items()):
        lines.append(f"  {index}. {name} ({len(vendors)} vendors: {', '.join(vendors)})")
    return lines


# -- devices ------------------------------------------------------------------------------


def devices_data(registry: Registry, verbose: bool = False) -> list[dict[str, Any]]:
    result = []
    for name in registry.list_devices():
        found = registry.get_device(name)
        if found is None:  # removed meanwhile (auto-refresh)
            continue
        entry: dict[str, Any] = {
            "name": name,
            "vendor": found.spec.vendor,
            "class": found.spec.device_class,
            "device": name.partition("=")[2],  # without decoding the spec (index)
            "path": found.path,
            "priority": found.priority,
        }
        if verbose:
            from cdi.spec.plain import to_plain

            entry["definition"] = to_plain(found.device, json_style=True)
            entry["specContainerEdits"] = to_plain(found.spec.spec.container_edits, json_style=True)
        result.append(entry)
    return result


def devices_json(registry: Registry) -> str:
    """``-o json`` of :func:`devices_data` (not verbose): the same text as dumping the data,
    written from fragments (what one spec file's devices share is encoded once), because
    this listing runs on start paths and can hold thousands of devices."""
    from _json import encode_basestring as quoted

    parts = []
    shared: dict[int, tuple[str, str]] = {}  # per spec file: the text around the device name
    for name, spec_file in registry.list_device_specs():
        around = shared.get(id(spec_file))
        if around is None:
            around = shared[id(spec_file)] = (
                f',\n    "vendor": {quoted(spec_file.vendor)},\n'
                f'    "class": {quoted(spec_file.device_class)},\n    "device": ',
                f',\n    "path": {quoted(spec_file.path)},\n'
                f'    "priority": {spec_file.priority:d}\n  }}',
            )
        device = quoted(name.partition("=")[2])
        parts.append(f'  {{\n    "name": {quoted(name)}{around[0]}{device}{around[1]}')
    return "[\n" + ",\n".join(parts) + "\n]" if parts else "[]"


def devices_names(registry: Registry) -> list[str]:
    """The qualified names of the devices, sorted (``nvidia-ctk cdi list``'s stdout)."""
    return registry.list_devices()


def devices_found_line(names: Sequence[str]) -> str:
    """``nvidia-ctk cdi list``'s count, which it logs on stderr."""
    return f"Found {len(names)} CDI devices"


def devices_text(registry: Registry, verbose: bool = False) -> list[str]:
    from cdi.ocispec import choose_format
    from cdi.spec.plain import to_plain

    names = registry.list_devices()
    if not names:
        return ["No CDI devices found."]
    lines = ["CDI devices found:"]
    for index, name in enumerate(names):
        found = registry.get_device(name)
        if found is None:
            continue
        if not verbose:
            lines.append(f"  {index}. {name}")
            continue
        fmt = choose_format(None, found.path)  # as the reference: the file's own format
        lines.append(f"  {name} ({found.path})")
        lines += _dump(to_plain(found.device), fmt, 4)
        edits = found.spec.spec.container_edits
        if not edits.is_empty():
            lines.append("    global Spec containerEdits:")
            lines += _dump(to_plain(edits), fmt, 6)
    return lines


# -- specs --------------------------------------------------------------------------------


def _selected_specs(registry: Registry, vendors: Sequence[str]) -> list[Any]:
    if not vendors:
        return registry.specs()
    wanted = set(vendors)
    return [spec for spec in registry.specs() if spec.vendor in wanted]


def specs_data(
    registry: Registry, vendors: Sequence[str] = (), verbose: bool = False
) -> dict[str, Any]:
    from cdi.spec.plain import to_plain

    specs = []
    for spec_file in _selected_specs(registry, vendors):
        entry: dict[str, Any] = {
            "path": spec_file.path,
            "priority": spec_file.priority,
            "kind": spec_file.kind,
            "vendor": spec_file.vendor,
            "class": spec_file.device_class,
            "cdiVersion": spec_file.spec.cdi_version,
            "devices": spec_file.spec.qualified_names(),
        }
        if verbose:
            entry["spec"] = to_plain(spec_file.spec, json_style=True)
        specs.append(entry)
    errors = [
        error_data(path, error) for path, found in registry.errors().items() for error in found
    ]
    return {"specs": specs, "errors": errors}


def specs_text(registry: Registry, vendors: Sequence[str] = (), verbose: bool = False) -> list[str]:
    from cdi.ocispec import choose_format
    from cdi.spec.plain import to_plain

    by_vendor: dict[str, list[Any]] = {}
    for spec_file in _selected_specs(registry, vendors):
        by_vendor.setdefault(spec_file.vendor, []).append(spec_file)
    lines = ["CDI Specs found:"] if by_vendor else ["No CDI Specs found."]
    for vendor in sorted(by_vendor):
        lines.append(f"Vendor {vendor}:")
        for spec_file in by_vendor[vendor]:
            lines.append(f"  Spec File {spec_file.path}")
            if verbose:
                lines += _dump(to_plain(spec_file.spec), choose_format(None, spec_file.path), 4)
    for path, errors in registry.errors().items():
        lines.append(f"  {path} has {len(errors)} errors:")
        lines += [f"    {index}. {error_text(error)}" for index, error in enumerate(errors)]
    return lines


# -- dirs ---------------------------------------------------------------------------------


def _dir_errors(registry: Registry) -> dict[str, list[tuple[str, CDIError]]]:
    """For each directory, its own errors and those of the files directly in it."""
    dirs = registry.spec_dirs()
    found: dict[str, list[tuple[str, CDIError]]] = {directory: [] for directory in dirs}
    for path, errors in registry.errors().items():
        directory = path if path in found else os.path.dirname(path)
        if directory in found:
            found[directory] += [(path, error) for error in errors]
    return found


def dirs_data(registry: Registry) -> list[dict[str, Any]]:
    errors = _dir_errors(registry)
    return [
        {
            "path": directory,
            "priority": priority,
            "exists": os.path.isdir(directory),
            "errors": [error_data(path, error) for path, error in errors[directory]],
        }
        for priority, directory in enumerate(registry.spec_dirs())
    ]


def dirs_text(registry: Registry) -> list[str]:
    errors = _dir_errors(registry)
    lines = ["CDI Spec directories in use:"]
    for priority, directory in enumerate(registry.spec_dirs()):
        missing = "" if os.path.isdir(directory) else ", does not exist"
        lines.append(f"  {directory} (priority {priority}{missing})")
        lines += [f"    - has error {error_text(error)}" for _, error in errors[directory]]
    return lines


# -- any view -----------------------------------------------------------------------------


def view_data(registry: Registry, view: str) -> Any:
    """The data of *view* (one of :data:`VIEWS`) with default options."""
    if view == "vendors":
        return vendors_data(registry)
    if view == "classes":
        return classes_data(registry)
    if view == "devices":
        return devices_data(registry)
    if view == "specs":
        return specs_data(registry)
    return dirs_data(registry)


def view_text(registry: Registry, view: str) -> list[str]:
    """The text of *view* (one of :data:`VIEWS`) with default options."""
    if view == "vendors":
        return vendors_text(registry)
    if view == "classes":
        return classes_text(registry)
    if view == "devices":
        return devices_text(registry)
    if view == "specs":
        return specs_text(registry)
    return dirs_text(registry)
