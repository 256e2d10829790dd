"""Pooling: no parameters, no MACs.

MaxPool:  prod(kernel) - 1 comparisons per output element.
AvgPool:  prod(kernel) per output element (prod(kernel) - 1 adds and one divide).
Adaptive: the same per cell, with each cell's *exact* region: along a dimension
          In -> Out, cell i covers [floor(i·In/Out), ceil((i+1)·In/Out)); regions are
          separable, so the total window size is prod over dims of Σ region lengths
          (Term ``window_H = 3×3 + 2×4``: three regions of length 3, two of length 4).
"""

from __future__ import annotations

from collections import Counter
from math import prod

from paramscope.graph import LayerNode
from paramscope.formulas._expr import (AXIS_NAMES, dims, join_notes, ntuple, num, rank, shape_note,
                                       sliding_out_len, sliding_out_spatial, times)
from paramscope.formulas.hparams import positional
from paramscope.formulas.registry import Cost, counted, formula, functional, shape_rule, ShapeError, Term
from paramscope.measure import fvcore as fv
from paramscope.formulas.backward import Backward, backward, elementwise, input_grad, summed

FIXED = tuple(f"{op}Pool{n}d" for op in ("Max", "Avg") for n in (1, 2, 3))
ADAPTIVE = tuple(f"Adaptive{op}Pool{n}d" for op in ("Max", "Avg") for n in (1, 2, 3))
AXES = {1: "L", 2: "HW", 3: "DHW"}


def pool_out_spatial(in_spatial, kernel, stride, padding, dilation, ceil_mode) -> tuple[int, ...]:
    """Output spatial size of a max / avg pool (torch's rule, ``ceil_mode`` included)."""
    return tuple(sliding_out_len(i, k, s, p, d, ceil_mode)
                 for i, k, s, p, d in zip(in_spatial, kernel, stride, padding, dilation))


def adaptive_regions(size_in: int, size_out: int) -> list[int]:
    """Length of each output cell's input region along one dimension."""
    return [-(-(i + 1) * size_in // size_out) - i * size_in // size_out for i in range(size_out)]


@formula(*FIXED)
def pool(node: LayerNode) -> Cost:
    """MaxPool / AvgPool 1d-3d with kernel, stride (None = kernel), padding, dilation, ceil_mode."""
    h, n = node.hparams, rank(node.kind)
    kernel = ntuple(h["kernel_size"], n)
    stride = ntuple(h.get("stride") or kernel, n)
    padding, dilation = ntuple(h.get("padding", 0), n), ntuple(h.get("dilation", 1), n)
    x, out = node.in_shape, node.out_shape
    expected = pool_out_spatial(x[-n:], kernel, stride, padding, dilation, h.get("ceil_mode", False))
    check = shape_note((*x[:-n], *expected), out)
    k = prod(kernel)
    if "Max" in node.kind:
        flops = (k - 1) * prod(out)
        expr = times(f"({dims(kernel)} - 1)", dims(out))
        why = f"{node.kind}: {num(k - 1)} comparisons per output element"
    else:
        flops, expr = k * prod(out), times(dims(kernel), dims(out))
        why = f"{node.kind}: {num(k)} FLOPs per output element ({num(k - 1)} adds, 1 divide)"
    terms = (Term("macs", "0", 0), Term("flops", expr, flops))
    return Cost(node.kind, {}, 0, flops, terms, "ok", join_notes(why, check))


@formula(*ADAPTIVE)
def adaptive_pool(node: LayerNode) -> Cost:
    """Adaptive max / avg pool with exact per-cell regions."""
    n = rank(node.kind)
    x, out = node.in_shape, node.out_shape
    terms, sums = [], []
    for axis, size_in, size_out in zip(AXES[n], x[-n:], out[-n:]):
        lengths = Counter(adaptive_regions(size_in, size_out))
        expr = " + ".join(num(length) if count == 1 else f"{num(count)}×{num(length)}"
                          for length, count in sorted(lengths.items()))
        sums.append(sum(length * count for length, count in lengths.items()))
        terms.append(Term(f"window_{axis}", expr, sums[-1]))
    lead = out[:-n]
    window = prod(lead) * prod(sums)
    wanted = ntuple(node.hparams.get("output_size", out[-n:]), n)  # None keeps the input size
    check = shape_note((*x[:-n], *(i if o is None else o for o, i in zip(wanted, x[-n:]))), out)
    expr = times(dims(lead), dims(sums))
    if "Max" in node.kind:
        flops, expr = window - prod(out), f"{expr} - {dims(out)}"
        why = f"{node.kind}: region size - 1 comparisons per output cell"
    else:
        flops = window
        why = f"{node.kind}: region size FLOPs per output cell (adds, 1 divide)"
    why += "; window_<axis> = Σ region lengths as count×length"
    terms += [Term("macs", "0", 0), Term("flops", expr, flops)]
    return Cost(node.kind, {}, 0, flops, tuple(terms), "ok", join_notes(why, check))


@shape_rule(*(k for k in FIXED if k != "AvgPool3d"))
def pool_out_shape(h, in_shape):
    """Leading dims kept, each spatial size by the sliding-window rule (stride None = kernel)."""
    kernel = h["kernel_size"]
    n = len(kernel)
    spatial = sliding_out_spatial(in_shape[-n:], kernel, ntuple(h.get("stride") or kernel, n),
                                  ntuple(h.get("padding", 0), n), ntuple(h.get("dilation", 1), n),
                                  h.get("ceil_mode", False))
    return (*in_shape[:-n], *spatial)


@shape_rule("AvgPool3d")
def avg_pool3d_out_shape(h, in_shape):
    """As :func:`pool_out_shape`; torch's avg_pool3d also refuses an input smaller than the
    kernel, padding aside."""
    for axis, size, k in zip(AXIS_NAMES[3], in_shape[-3:], h["kernel_size"]):
        if size < k:
            raise ShapeError(f"input {axis} {size} is smaller than the kernel {k} (torch's AvgPool3d)")
    return pool_out_shape(h, in_shape)


@shape_rule(*ADAPTIVE)
def adaptive_pool_out_shape(h, in_shape):
    """Leading dims kept, spatial sizes = output_size (a None entry keeps the input's)."""
    size = h["output_size"]
    n = len(size)
    return (*in_shape[:-n], *(i if o is None else o for o, i in zip(size, in_shape[-n:])))


for _n in (1, 2, 3):  # fvcore has a handle for adaptive_avg_pool2d only
    counted(f"MaxPool{_n}d", fvcore=fv.unsupported(f"max_pool{_n}d", indices=True))
    counted(f"AvgPool{_n}d", fvcore=fv.unsupported(f"avg_pool{_n}d"))
    counted(f"AdaptiveMaxPool{_n}d", fvcore=fv.unsupported(f"adaptive_max_pool{_n}d"))
    counted(f"AdaptiveAvgPool{_n}d", fvcore=fv.adaptive_avg_pool2d if _n == 2 else
            fv.unsupported(f"adaptive_avg_pool{_n}d"))
    for _op in ("avg", "max"):
        functional(f"adaptive_{_op}_pool{_n}d",
                   extract=positional(f"Adaptive{_op.title()}Pool{_n}d", ("output_size",), {}))
    functional(f"max_pool{_n}d", extract=positional(
        f"MaxPool{_n}d", ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
        {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False}))
    functional(f"avg_pool{_n}d", extract=positional(
        f"AvgPool{_n}d", ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                          "divisor_override"),
        {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True,
         "divisor_override": None}))


@backward(*FIXED, *ADAPTIVE)
def pool_backward(node: LayerNode) -> Backward:
    """MaxPool routes each grad_out element to its argmax (1 add per output element, windows
    may overlap); AvgPool spreads it over its window (the forward's FLOPs again)."""
    if "Max" in node.kind:
        return elementwise(node, 1, "add grad_out into the argmax position")
    fwd = (adaptive_pool if "Adaptive" in node.kind else pool)(node)
    flops = next(t for t in fwd.terms if t.quantity == "flops")
    parts = [("grad_input", flops.expression, flops.value)] if input_grad(node) else []
    return summed(node.kind, [], parts, note="grad_out / window size added into every window element")
