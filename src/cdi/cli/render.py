"""Rendering command results as text, JSON or YAML."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


def emit_data(data: Any, fmt: str) -> None:
    """Print *data* (plain values) as stable, 2-space indented JSON or as YAML."""
    from cdi.ocispec import dump_document

    click.echo(dump_document(data, "json" if fmt == "json" else "yaml"))


def emit_lines(lines: list[str]) -> None:
    """Print text lines."""
    click.echo("\n".join(lines))


def emit_view(fmt: str, text: Callable[[], list[str]], data: Callable[[], Any]) -> None:
    """Print a view as text lines or, for ``json``/``yaml``, as data."""
    if fmt == "text":
        emit_lines(text())
    else:
        emit_data(data(), fmt)
