"""Number formatting: thousands separators, one unit suffix per column, MB like torchinfo."""

from __future__ import annotations

from typing import Iterable

_UNITS = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))


def commas(value: int | None) -> str:
    return "--" if value is None else f"{value:,}"


def pick_unit(values: Iterable[int | None]) -> tuple[int, str]:
    """One divisor for a whole column, chosen from its largest value."""
    biggest = max((abs(v) for v in values if v is not None), default=0)
    for divisor, suffix in _UNITS:
        if biggest >= divisor:
            return divisor, suffix
    return 1, ""


def scaled(value: int | None, unit: tuple[int, str], digits: int = 2) -> str:
    divisor, suffix = unit
    if value is None:
        return "--"
    if divisor == 1 or value == 0:
        return f"{value:,}"
    return f"{value / divisor:,.{digits}f} {suffix}"


def megabytes(nbytes: int) -> str:
    """Bytes as MB with two decimals, 1 MB = 1e6 bytes (torchinfo's convention)."""
    return f"{nbytes / 1e6:,.2f} MB"


def shape_text(shape) -> str:
    if hasattr(shape, "specs") and not shape.plain:  # several / typed / list inputs: all of them
        return shape.text()
    return "×".join(str(d) for d in shape) if shape else "--"


def ratio_text(value: int, base: int, noun: str) -> str:
    """'27.5× fewer params' / '3.2× more MACs' / '2.1% fewer params' (within 10%) / 'same MACs'."""
    if not value or not base:
        return "--"
    if value == base:
        return f"same {noun}"
    big, small = max(value, base), min(value, base)
    word = "fewer" if value < base else "more"
    if big / small < 1.1:
        return f"{100 * (big - small) / base:.1f}% {word} {noun}"
    return f"{big / small:,.1f}× {word} {noun}"


def percent(part: int, whole: int) -> str:
    """``'85.1%'``; ``'--'`` when the whole is 0."""
    return f"{100 * part / whole:.1f}%" if whole else "--"


def cell_width(text: str) -> int:
    """Terminal cells taken by ``text`` (its widest line)."""
    from rich.cells import cell_len

    return max((cell_len(line) for line in str(text).split("\n")), default=0)
