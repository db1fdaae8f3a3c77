"""Rendering command results as text, JSON or YAML."""

from __future__ import annotations

from typing import Any

import click


def emit_data(data: Any, fmt: str) -> None:
    """Print *data* (plain values) as stable, 2-space indented JSON or as YAML."""
    from cdi.ocispec import dump_document

    click.echo(dump_document(data, "json" if fmt == "json" else "yaml"))


def emit_lines(lines: list[str]) -> None:
    """Print text lines."""
    click.echo("\n".join(lines))
