"""Terminal bar charts: unicode blocks (eighths) on a terminal, ``#`` when plain."""

from __future__ import annotations

from dataclasses import dataclass

_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(value: int, maximum: int, width: int, plain: bool) -> str:
    """A left-aligned bar of ``width`` cells for ``value / maximum`` (never empty for value > 0)."""
    if width <= 0 or maximum <= 0 or value <= 0:
        return ""
    fraction = min(value / maximum, 1.0)
    if plain:
        cells = max(1, round(fraction * width))
        return "#" * cells
    eighths = max(1, round(fraction * width * 8))
    full, rest = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[rest] if rest else "")


@dataclass
class BarRow:
    label: str
    value: int
    text: str  # the number as printed next to the bar
    share: str = ""  # "(85.1%)"


def bar_chart(title: str, sections: list[tuple[str, list[BarRow]]], *, width: int, plain: bool):
    """One chart: sections (one per target) of labelled bars, all on one scale.

    Bars share one maximum across every section, so lengths compare across
    targets; the share column says how much of its own target each row is.
    """
    from rich.console import Group as RichGroup
    from rich.table import Table
    from rich.text import Text

    from paramscope.render.units import cell_width

    rows = [r for _, sec in sections for r in sec]
    maximum = max((r.value for r in rows), default=0)
    indent = "    " if len(sections) > 1 else "  "
    label_w = max([cell_width(indent + r.label) for r in rows]
                  + [cell_width("  " + n) for n, _ in sections if len(sections) > 1], default=0)
    text_w = max((cell_width(r.text) for r in rows), default=0)
    share_w = max((cell_width(r.share) for r in rows), default=0)
    bar_w = max(4, min(40, width - label_w - text_w - share_w - 3))
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True, width=bar_w)
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    for name, section in sections:
        if len(sections) > 1:
            grid.add_row(Text(f"  {name}", style=None if plain else "italic"), "", "", "")
        for r in section:
            grid.add_row(f"{indent}{r.label}", Text(bar(r.value, maximum, bar_w, plain),
                                                    style=None if plain else "cyan"), r.text, r.share)
    return RichGroup(Text(title, style=None if plain else "bold"), grid)
