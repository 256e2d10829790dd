"""Shared helpers: N-d products, the Term text format, and common Cost shapes.

Term format (what ``explain`` prints verbatim):

* every integer is written with thousands separators: ``25,088``;
* factors of one product are joined by ``×`` with no spaces: ``3×64×7×7``;
* products multiplied together are joined by `` × ``: ``1×112×112 × 3×64×7×7``;
* sums and differences use `` + `` and `` - ``; ``a/g`` divides a factor: ``64/32×128×3×3``.

Every expression evaluates (× as *, commas dropped) to the Term's value.
"""

from __future__ import annotations

from math import prod
from typing import Iterable, Sequence

from paramscope.graph import LayerNode
from paramscope.formulas.registry import Cost, ShapeError, Term


def num(n: int) -> str:
    """``25088`` -> ``"25,088"``."""
    return f"{n:,}"


def dims(shape: Iterable[int]) -> str:
    """A product written factor by factor: ``(1, 64, 56, 56)`` -> ``"1×64×56×56"``; ``()`` -> ``"1"``."""
    parts = [num(d) for d in shape]
    return "×".join(parts) if parts else "1"


def times(*groups: str) -> str:
    """Products multiplied together: ``times("1×112×112", "3×64×7×7")``."""
    return " × ".join(groups)


def suffix_rank(kind: str) -> int | None:
    """Spatial rank from a kind's ``1d/2d/3d`` suffix (``"Conv2d"`` -> 2), else None."""
    if len(kind) > 2 and kind[-1] == "d" and kind[-2].isdigit():
        return int(kind[-2])
    return None


def rank(kind: str) -> int:
    """Spatial rank of a kind that must have a ``1d/2d/3d`` suffix."""
    n = suffix_rank(kind)
    if n is None:
        raise ValueError(f"{kind!r} has no 1d/2d/3d suffix")
    return n


def ntuple(value, n: int) -> tuple:
    """Normalise an int / sequence hyper-parameter to an n-tuple (strings pass through)."""
    if isinstance(value, str):
        return value  # type: ignore[return-value]  # padding "same" / "valid"
    if isinstance(value, Sequence):
        value = tuple(value)
        return value * n if len(value) == 1 else value
    return (value,) * n


def param_terms(node: LayerNode, parts: Sequence[tuple[str, str, int]]):
    """``(params, terms, note)`` for parameters ``(name, expression, numel)``.

    A shared module's later call (``call_index > 0``) counts no parameters.
    """
    if not node.counts_params:
        return {}, [], "params counted on the first call" if parts else ""
    params = {name: value for name, _, value in parts}
    terms = [Term(name, expr, value) for name, expr, value in parts]
    if parts:
        terms.append(Term("params", " + ".join(e for _, e, _ in parts), sum(params.values())))
    return params, terms, ""


def join_notes(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def per_element(node: LayerNode, cost: int, why: str,
                parts: Sequence[tuple[str, str, int]] = ()) -> Cost:
    """No MACs; FLOPs = ``cost`` per output element (activations, norms)."""
    params, terms, pnote = param_terms(node, parts)
    out = node.out_shape
    flops = cost * prod(out)
    terms += [Term("macs", "0", 0), Term("flops", times(num(cost), dims(out)), flops)]
    note = f"{node.kind}: {cost} FLOPs per element ({why})"
    return Cost(node.kind, params, 0, flops, tuple(terms), "ok", join_notes(note, pnote))


def zero(node: LayerNode, why: str) -> Cost:
    """A kind that costs nothing by definition."""
    return Cost(node.kind, {}, 0, 0, (Term("macs", "0", 0), Term("flops", "0", 0)), "zero", why)


def shape_note(expected, actual) -> str:
    """A note when ``out_shape`` disagrees with what the hyper-parameters imply."""
    expected, actual = tuple(expected), tuple(actual)
    if expected == actual:
        return ""
    return f"out_shape {actual} disagrees with hparams (expected {expected})"


def sliding_out_len(size: int, k: int, s: int, p: int, d: int = 1, ceil_mode: bool = False) -> int:
    """Output length of a sliding window (conv / pool), torch's rule including ``ceil_mode``.

    With ``ceil_mode`` the last window must start inside the input or left padding.
    """
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


#: names of the spatial axes of a 1d / 2d / 3d input, for messages.
AXIS_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def sliding_out_spatial(in_spatial, kernel, stride, padding, dilation, ceil_mode: bool = False
                        ) -> tuple[int, ...]:
    """:func:`sliding_out_len` along each axis; ShapeError when an axis reaches 0."""
    out = []
    for axis, size, k, s, p, d in zip(AXIS_NAMES[len(in_spatial)], in_spatial, kernel, stride,
                                      padding, dilation):
        length = sliding_out_len(size, k, s, p, d, ceil_mode)
        if length <= 0:
            raise ShapeError(f"spatial size reaches 0: {axis} {size} with kernel {k}"
                             f"{f' dilation {d}' if d > 1 else ''}, padding {p}, stride {s} "
                             "leaves nothing (the input is too small for this layer)")
        out.append(length)
    return tuple(out)


def same_shape(hparams, in_shape) -> tuple[int, ...]:
    """The shape rule of a kind whose output is shaped as its input (activations, norms)."""
    return tuple(in_shape)
