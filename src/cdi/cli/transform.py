"""``cdi transform``: rewrite spec files (``transform root`` as ``nvidia-ctk cdi transform``)."""

from __future__ import annotations

import sys

import click

from cdi.cli.common import fail


@click.group()
def transform() -> None:
    """Transform CDI spec files (as nvidia-ctk cdi transform)."""


@transform.command("root")
@click.option(
    "--from",
    "from_root",
    required=True,
    metavar="DIR",
    help="The root the spec's paths are under now (e.g. /run/nvidia/driver).",
)
@click.option(
    "--to",
    "to_root",
    required=True,
    metavar="DIR",
    help="The root to move them under (e.g. /). The same as --from: nothing changes.",
)
@click.option(
    "--relative-to",
    type=click.Choice(["host", "container"]),
    default="host",
    show_default=True,
    help="Which side's paths move: the host's or the container's.",
)
@click.option(
    "--input",
    "input_path",
    default="-",
    show_default=True,
    metavar="FILE",
    help="The spec to read (JSON or YAML); - for stdin.",
)
@click.option(
    "--output",
    "output_path",
    default="",
    metavar="FILE",
    help="The file to write (atomically, mode 0644); default: stdout. Without a .yaml, .yml "
    "or .json extension, one is added for the format.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["yaml", "json"], case_sensitive=False),
    default=None,
    help="Output format. Default: the --output file's extension, else YAML (always YAML on "
    "stdout unless given). Wins over the extension.",
)
@click.pass_context
def root(
    ctx: click.Context,
    *,
    from_root: str,
    to_root: str,
    relative_to: str,
    input_path: str,
    output_path: str,
    fmt: str | None,
) -> None:
    """Move the paths of a spec from one root directory to another.

    A path moves when it is the --from directory or lies below it (at a component
    boundary: with --from /opt, /optional stays). Relative to the host (the default),
    device node host paths, mount sources and hook programs move, and the arguments of the
    hooks that do not run in the container's view (all but createContainer and
    startContainer); startContainer hook programs stay. Relative to the container, device
    node paths, mount targets, startContainer hook programs and the arguments of
    createContainer and startContainer hooks move. An argument TARGET::LINK moves on both
    sides. The spec is otherwise unchanged; cdiVersion is kept unless the result needs a
    newer one.
    """
    from cdi.cli.views import error_text
    from cdi.errors import CDIError
    from cdi.generate import output
    from cdi.generate.reroot import reroot
    from cdi.spec.load import MAX_SPEC_SIZE, parse_spec, read_spec_bytes

    try:
        if input_path == "-":
            data = sys.stdin.buffer.read(MAX_SPEC_SIZE + 1)  # one byte more shows "too large"
            spec = parse_spec(data)
        else:
            spec = parse_spec(read_spec_bytes(input_path), input_path)
        moved = reroot(spec, from_root, to_root, relative_to)
        if not output_path:
            click.echo(output.render(moved, (fmt or "yaml").lower()), nl=False)
            return
        chosen, warning = output.choose_format(output_path, fmt or "yaml", fmt is not None)
        if warning:
            click.echo(f"Warning: {warning}", err=True)
        output.write_output(moved, output_path, chosen)
    except CDIError as err:
        fail(ctx, error_text(err))
