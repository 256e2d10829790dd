"""One place that decides how the terminal looks: colour, width, box style."""

from __future__ import annotations

import os
import sys

DEFAULT_WIDTH = 120  # piped output and files, unless COLUMNS says otherwise


def plain_output() -> bool:
    """True when output is piped or NO_COLOR is set: no colour, ASCII-safe boxes."""
    return bool(os.environ.get("NO_COLOR")) or not sys.stdout.isatty()


def env_width(default: int = DEFAULT_WIDTH) -> int:
    """``COLUMNS`` when it is a sensible number, else ``default``."""
    try:
        width = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        return default
    return max(20, min(width, 1000)) if width > 0 else default


def make_console(width: int | None = None, file=None, plain: bool | None = None):
    """A rich Console: plain (no colour, fixed width from COLUMNS or 120) when piped,
    when NO_COLOR is set, or when ``plain=True`` (files)."""
    from rich.console import Console

    plain = plain_output() if plain is None else plain
    on_terminal = file is None and sys.stdout.isatty()  # NO_COLOR on a terminal keeps its real width
    return Console(file=file, width=width or (env_width() if plain and not on_terminal else None),
                   no_color=plain, color_system=None if plain else "auto",
                   highlight=False, emoji=False, soft_wrap=False,
                   force_terminal=False if plain else None)


def simple_table(columns, title: str | None = None, numeric: tuple[str, ...] = (), plain: bool | None = None):
    from rich import box
    from rich.table import Table

    plain = plain_output() if plain is None else plain
    table = Table(title=title, box=box.ASCII2 if plain else box.SIMPLE_HEAD,
                  show_edge=False, pad_edge=False, header_style=None if plain else "bold")
    for column in columns:
        table.add_column(column, justify="right" if column in numeric else "left",
                         no_wrap=column in numeric, overflow="fold")
    return table


#: colours of the verdict marks and words on a terminal
STATUS_STYLES = {"✓": "green", "match": "green", "✗": "red", "mismatch": "red", "!": "red", "failed": "red",
                 "?": "yellow", "unsupported": "yellow", "no-formula": "yellow"}


def status_colours(renderable):
    """``renderable`` with verdict marks (``✓ ✗ ? !``) and words coloured: a mark at the end
    of a cell, a word filling one (terminal output only; plain output stays plain)."""
    import re

    from rich.segment import Segment
    from rich.style import Style

    words = "mismatch|match|failed|unsupported|no-formula|skipped"
    pattern = re.compile(rf"(?:(?<=\s)|^)([✓✗?!]|{words})(?=\s*$|\s+(?:{words})\s*$)")

    class Coloured:
        def __rich_console__(self, console, options):
            for seg in console.render(renderable, options):
                if seg.control or not pattern.search(seg.text):
                    yield seg
                    continue
                at = 0
                for found in pattern.finditer(seg.text):
                    style = STATUS_STYLES.get(found.group(1))
                    if style is None:
                        continue
                    yield Segment(seg.text[at:found.start(1)], seg.style)
                    yield Segment(found.group(1), (seg.style or Style()) + Style.parse(style))
                    at = found.end(1)
                yield Segment(seg.text[at:], seg.style)

    return Coloured()
