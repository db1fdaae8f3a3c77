"""Rendering command results as text, JSON or YAML."""

from __future__ import annotations

import json
from typing import Any

import click


def emit_data(data: Any, fmt: str) -> None:
    """Print *data* (plain values) as stable, indented JSON or as YAML."""
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        import yaml

        click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip("\n"))
