"""Number formatting: thousands separators, each value in its own best unit (:func:`human`,
:func:`nbytes`), MB like torchinfo where a table mirrors torchinfo (:func:`torchinfo_mb`)."""

from __future__ import annotations

from typing import Iterable

_UNITS = ((10**18, "E"), (10**15, "P"), (10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))


def commas(value: int | None) -> str:
    return "--" if value is None else f"{value:,}"


def pick_unit(values: Iterable[int | None]) -> tuple[int, str]:
    """One divisor for a whole column, chosen from its largest value."""
    biggest = max((abs(v) for v in values if v is not None), default=0)
    for divisor, suffix in _UNITS:
        if biggest >= divisor:
            return divisor, suffix
    return 1, ""


def _ratio(value: int, divisor: int, digits: int) -> str:
    """``value / divisor`` with ``digits`` decimals: float formatting (as torchinfo prints)
    while the value is exact in a float, exact decimal arithmetic beyond 2^53."""
    if abs(value) < 2**53:
        return f"{value / divisor:,.{digits}f}"
    from decimal import Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = len(str(abs(value))) + digits + 2
        return f"{(Decimal(value) / divisor).quantize(Decimal(1).scaleb(-digits)):,.{digits}f}"


def scaled(value: int | None, unit: tuple[int, str], digits: int = 2) -> str:
    divisor, suffix = unit
    if value is None:
        return "--"
    if divisor == 1 or value == 0:
        return f"{value:,}"
    return f"{_ratio(value, divisor, digits)} {suffix}"


def human(value: int | None, digits: int = 2) -> str:
    """One cell in its own best unit: ``'1,280'`` below 10^4 (exact), else ``'12.80 K'``,
    ``'4.09 G'``, ``'2,352,000,000.00 T'`` beyond T; never ``'0.00 M'`` for a non-zero value."""
    if value is None:
        return "--"
    if abs(value) < 10**4:
        return f"{value:,}"
    return scaled(value, pick_unit([value]), digits)


_BYTE_UNITS = ((10**18, "EB"), (10**15, "PB"), (10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "KB"))


def nbytes(value: int | None, digits: int = 2) -> str:
    """Bytes in their own best decimal unit (1 KB = 1e3 B, as torchinfo's MB = 1e6 B):
    ``'512 B'``, ``'1.49 MB'``, ``'29.94 TB'``, up to EB."""
    if value is None:
        return "--"
    for divisor, suffix in _BYTE_UNITS:
        if abs(value) >= divisor:
            return f"{_ratio(value, divisor, digits)} {suffix}"
    return f"{value:,} B"


def megabytes(nbytes: int) -> str:
    """Bytes as MB with two decimals, 1 MB = 1e6 bytes (torchinfo's convention)."""
    return f"{_ratio(nbytes, 10**6, 2)} MB"


def torchinfo_mb(value: int | None) -> str:
    """Bytes as torchinfo prints them (MB, two decimals) where that is readable: from
    0.01 MB up to 10^6 MB; smaller or larger sizes in their own unit (:func:`nbytes`)."""
    if value is None:
        return "--"
    return megabytes(value) if 10**4 <= abs(value) < 10**12 else nbytes(value)


def tick_text(value: float) -> str:
    """An axis tick of a count in its own unit without trailing zeros (``'2.5 G'``, ``'1 M'``,
    ``'500'``), so a plot needs no ``1e9`` offset."""
    number, _, unit = human(int(round(value))).partition(" ")
    if unit and "." in number:
        number = number.rstrip("0").rstrip(".")
    return f"{number} {unit}" if unit else number


def shape_text(shape) -> str:
    """A shape for a table cell (``--`` when there is none; every input of an input set)."""
    from paramscope.graph import shape_text as text

    if hasattr(shape, "specs") and not shape.plain:  # several / typed / list inputs: all of them
        return shape.text(sep="×")
    return text(shape, empty="--")


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


def factor(value: float | None) -> str:
    """A ratio to a baseline: ``'1.009'``; ``'2.35e+11'`` / ``'5.02e-12'`` when three decimals would
    show a bare huge number or ``0.000``; ``'--'`` when there is none."""
    if value is None:
        return "--"
    return f"{value:.3f}" if value == 0 or 1e-3 <= abs(value) < 1e4 else f"{value:.2e}"


def percent(part: int, whole: int) -> str:
    """``'85.1%'``; ``'--'`` when the whole is 0."""
    return f"{100 * part / whole:.1f}%" if whole else "--"


def cell_width(text: str) -> int:
    """Terminal cells taken by ``text`` (its widest line)."""
    from rich.cells import cell_len

    return max((cell_len(line) for line in str(text).split("\n")), default=0)
