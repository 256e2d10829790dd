"""One place that decides how the terminal looks: colour, width, box style."""

from __future__ import annotations

import os
import sys


def plain_output() -> bool:
    """True when output is piped or NO_COLOR is set: no colour, ASCII-safe boxes."""
    return bool(os.environ.get("NO_COLOR")) or not sys.stdout.isatty()


def make_console(width: int | None = None, file=None):
    from rich.console import Console

    plain = plain_output()
    return Console(file=file, width=width or (None if not plain else int(os.environ.get("COLUMNS", 120))),
                   no_color=plain, color_system=None if plain else "auto",
                   highlight=False, emoji=False, soft_wrap=False)


def simple_table(columns, title: str | None = None, numeric: tuple[str, ...] = ()):
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.ASCII2 if plain_output() else box.SIMPLE_HEAD,
                  show_edge=False, pad_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column, justify="right" if column in numeric else "left", overflow="fold")
    return table
