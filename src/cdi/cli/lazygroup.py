"""Command groups whose commands are imported only when they run.

``cdi --help`` (and ``cdi generate --help``, ``cdi kubelet-plugin --help``) list commands
from a table of names, modules and short helps, without importing a command's module: a
command's module may load a whole library (the generators, grpcio) that listing its name
must not cost.
"""

from __future__ import annotations

import click

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import ClassVar

#: command name -> (module, short help shown by ``--help``); the module defines the command
#: as an attribute named after it, ``-`` read as ``_``.
CommandTable = dict[str, tuple[str, str]]


class LazyCommands(click.Group):
    """A group with the commands of :attr:`lazy` besides those added to it directly;
    :attr:`aliases` are other names for them (not listed)."""

    lazy: ClassVar[CommandTable] = {}
    aliases: ClassVar[dict[str, str]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        name = self.aliases.get(cmd_name, cmd_name)
        entry = self.lazy.get(name)
        if entry is None:
            return None
        module = __import__(entry[0], fromlist=["_"])
        command = getattr(module, name.replace("-", "_"))
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        width = formatter.width - 6 - max(len(name) for name in self.list_commands(ctx))
        rows = [(name, cmd.get_short_help_str(width)) for name, cmd in self.commands.items()]
        rows += [(name, short) for name, (_module, short) in self.lazy.items()]
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))


def lazy_group(table: CommandTable, aliases: dict[str, str] | None = None) -> type[LazyCommands]:
    """A :class:`LazyCommands` class for *table* (pass it as ``click.group(cls=...)``)."""
    return type("LazyCommands", (LazyCommands,), {"lazy": table, "aliases": aliases or {}})
