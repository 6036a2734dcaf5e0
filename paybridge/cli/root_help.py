"""`paybridge --help`: the root's help drawn with rich's console, panel and table only.

Why not Typer's renderer: ``typer.rich_utils`` imports rich's markdown, syntax, traceback and
pretty-printing (pygments, markdown-it, attrs), three times the cost of Typer itself, for a
screen that is a usage line, four options and the command table. The layout and styles follow
Typer's (same panels, same colours), so the root looks like every command's own help.
"""

from __future__ import annotations

import os
from typing import Any

from rich.console import Console
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text


def _table() -> Table:
    table = Table(highlight=False, show_header=False, expand=True, box=None, pad_edge=False)
    table.padding = (0, 1)
    return table


def _option_rows(group: Any, ctx: Any) -> Table:
    table = _table()
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(style="bold yellow", no_wrap=True)
    table.add_column(ratio=10)
    for param in group.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        names = ", ".join(param.opts)
        kind = param.display_type_rich(ctx) if hasattr(param, "display_type_rich") else ""
        help_text = Text(param.help or "")
        if param.envvar:
            help_text.append(f"\n[env var: {param.envvar}]", style="dim yellow")
        table.add_row(names, kind or "", help_text)
    return table


def _command_rows(group: Any, ctx: Any) -> Table:
    names = group.list_commands(ctx)
    table = _table()
    table.add_column(style="bold cyan", no_wrap=True, width=max(map(len, names), default=0))
    table.add_column("Description", ratio=10)
    for name in names:
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        first_paragraph = (command.short_help or command.help or "").split("\n\n")[0]
        table.add_row(name, Text(" ".join(first_paragraph.split())))
    return table


def print_root_help(group: Any, ctx: Any) -> None:
    """Usage, the root's help text, its options and every command with its one-line help."""
    width = os.environ.get("TERMINAL_WIDTH")
    console = Console(width=int(width) if width else None, highlight=False)
    console.print(Padding(Text(group.get_usage(ctx)), 1), style="bold")
    if group.help:
        console.print(Padding(Text(group.help), (0, 1, 1, 1)))
    console.print(
        Panel(_option_rows(group, ctx), border_style="dim", title="Options", title_align="left")
    )
    console.print(
        Panel(_command_rows(group, ctx), border_style="dim", title="Commands", title_align="left")
    )
