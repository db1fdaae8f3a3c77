"""``cdi monitor``: print registry views, and again whenever the spec directories change."""

from __future__ import annotations

import threading
from typing import Any

import click

from cdi.cli.common import open_registry
from cdi.cli.main import output_format, output_option
from cdi.cli.signals import stop_on_signals

#: What may be asked for (singular forms too, as in the reference), and what ``all`` is.
ASPECTS = {
    "vendors": ("vendors",),
    "classes": ("classes",),
    "devices": ("devices",),
    "specs": ("specs",),
    "dirs": ("dirs",),
    "all": ("vendors", "classes", "devices", "specs"),
}
SINGULAR = {
    "vendor": "vendors",
    "class": "classes",
    "device": "devices",
    "spec": "specs",
    "dir": "dirs",
}
#: Quiet time after the last change before printing (a producer writes several files).
DEBOUNCE_SECONDS = 0.2
#: How often to look again even without a notification (covers a watcher that failed).
POLL_SECONDS = 1.0


def _views(aspects: tuple[str, ...]) -> list[str]:
    selected: list[str] = []
    for aspect in aspects or ("all",):
        name = SINGULAR.get(aspect.lower(), aspect.lower())
        if name not in ASPECTS:
            raise click.BadParameter(
                f"{aspect!r} is not one of {', '.join(ASPECTS)} (or a singular form)",
                param_hint="'[ASPECT]...'",
            )
        selected += [view for view in ASPECTS[name] if view not in selected]
    return selected


def _render(registry: Any, views: list[str], fmt: str) -> str:
    from cdi.cli import views as render

    if fmt == "text":
        return "\n".join(line for view in views for line in render.view_text(registry, view))
    data = {view: render.view_data(registry, view) for view in views}
    if fmt == "json":
        import json

        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    from cdi.ocispec import dump_document

    return "---\n" + dump_document(data, "yaml")


@click.command()
@output_option
@click.argument("aspects", nargs=-1, metavar="[ASPECT]...")
@click.pass_context
def monitor(ctx: click.Context, output: str | None, aspects: tuple[str, ...]) -> None:
    """Print the ASPECTs of the spec directories, then again after every change, until
    interrupted (Ctrl-C).

    ASPECT is vendors, classes, devices, specs, dirs or all (the default: vendors,
    classes, devices and specs). Changes are picked up with inotify and printed once
    they settle; an update that leaves the output unchanged prints nothing. Text updates
    are separated by a blank line; -o json prints one JSON object per line (keys: the
    aspects), -o yaml one YAML document per update.
    """
    views = _views(aspects)
    fmt = output_format(ctx, output)
    changed = threading.Event()
    registry = open_registry(
        ctx, auto_refresh=True, on_change=lambda _: changed.set(), debounce=DEBOUNCE_SECONDS
    )
    last: str | None = None
    try:
        with stop_on_signals():
            while True:
                changed.clear()
                text = _render(registry, views, fmt)
                if text != last:
                    if last is not None and fmt == "text":
                        click.echo("")
                    click.echo(text)
                    last = text
                changed.wait(POLL_SECONDS)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # the reader went away (| head): nothing more to say
        pass
    finally:
        registry.close()
