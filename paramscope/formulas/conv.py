"""Convolutions, N-d, grouped, dilated, strided, transposed.

params: weight = C_in/groups × C_out × prod(kernel), bias = C_out.
MACs:   N × prod(out spatial) × weight   (ConvTranspose: prod(*in* spatial), as
        torch.utils.flop_counter counts it).
FLOPs:  2 × MACs + numel(out) when there is a bias.
"""

from __future__ import annotations

from math import prod

from paramscope.graph import LayerNode
from paramscope.formulas._expr import (AXIS_NAMES, dims, join_notes, ntuple, num, param_terms, rank,
                                       shape_note, sliding_out_len, sliding_out_spatial, times)
from paramscope.formulas.hparams import bind, normalise, shape_of
from paramscope.formulas.registry import Cost, counted, formula, functional, shape_rule, ShapeError, Term
from paramscope.measure import fvcore as fv
from paramscope.formulas.backward import Backward, backward, input_grad, mac_backward, param_grad

CONV_KINDS = ("Conv1d", "Conv2d", "Conv3d")
TRANSPOSED_KINDS = ("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")


def conv_out_spatial(in_spatial, kernel, stride, padding, dilation) -> tuple[int, ...]:
    """Output spatial size of a convolution; ``padding`` may be ``"same"`` or ``"valid"``."""
    if padding == "same":
        return tuple(in_spatial)
    pads = (0,) * len(kernel) if padding == "valid" else padding
    return tuple(sliding_out_len(*a) for a in zip(in_spatial, kernel, stride, pads, dilation))


def conv_transpose_out_spatial(in_spatial, kernel, stride, padding, dilation,
                               output_padding) -> tuple[int, ...]:
    """Output spatial size of a transposed convolution."""
    return tuple((i - 1) * s - 2 * p + d * (k - 1) + op + 1 for i, k, s, p, d, op
                 in zip(in_spatial, kernel, stride, padding, dilation, output_padding))


@formula(*CONV_KINDS, *TRANSPOSED_KINDS)
def conv(node: LayerNode) -> Cost:
    """Conv1d/2d/3d and ConvTranspose1d/2d/3d (see module docstring)."""
    h, n = node.hparams, rank(node.kind)
    transposed = node.kind in TRANSPOSED_KINDS
    cin, cout, groups = h["in_channels"], h["out_channels"], h.get("groups", 1)
    kernel = ntuple(h["kernel_size"], n)
    stride, dilation = ntuple(h.get("stride", 1), n), ntuple(h.get("dilation", 1), n)
    padding = ntuple(h.get("padding", 0), n)

    w_expr = (f"{num(cin)}/{num(groups)}×" if groups != 1 else f"{num(cin)}×") + dims((cout, *kernel))
    weight = cin // groups * cout * prod(kernel)
    parts = [("weight", w_expr, weight)]
    if h.get("bias", True):
        parts.append(("bias", num(cout), cout))
    params, terms, pnote = param_terms(node, parts)

    x, out = node.in_shape, node.out_shape
    if transposed:
        expected = conv_transpose_out_spatial(x[-n:], kernel, stride, padding, dilation,
                                              ntuple(h.get("output_padding", 0), n))
    else:
        expected = conv_out_spatial(x[-n:], kernel, stride, padding, dilation)
    check = shape_note((cin, *expected, cout), (x[-n - 1], *out[-n:], out[-n - 1]))

    lead = out[:-n - 1]  # batch dims ((N,) or () when unbatched)
    sites = (*lead, *(x if transposed else out)[-n:])
    macs = prod(sites) * weight
    terms.append(Term("macs", times(dims(sites), w_expr), macs))
    flops_expr = times("2", num(macs))
    flops = 2 * macs
    if len(parts) == 2:
        flops_expr += " + " + dims(out)
        flops += prod(out)
    terms.append(Term("flops", flops_expr, flops))
    return Cost(node.kind, params, macs, flops, tuple(terms), "ok", join_notes(pnote, check))


def conv_param_shapes(h) -> dict:
    """weight C_out × C_in/groups × kernel, bias C_out."""
    groups = h.get("groups", 1)
    return _with_bias(h, {"weight": (h["out_channels"], h["in_channels"] // groups, *h["kernel_size"])})


def conv_transpose_param_shapes(h) -> dict:
    """weight C_in × C_out/groups × kernel, bias C_out."""
    groups = h.get("groups", 1)
    return _with_bias(h, {"weight": (h["in_channels"], h["out_channels"] // groups, *h["kernel_size"])})


def _with_bias(h, shapes: dict) -> dict:
    if h.get("bias", True):
        shapes["bias"] = (h["out_channels"],)
    return shapes


@shape_rule(*CONV_KINDS, params=conv_param_shapes)
def conv_out_shape(h, in_shape):
    """Leading dims, C_out, then each spatial size by the sliding-window rule ('same' keeps it)."""
    kernel = h["kernel_size"]
    n = len(kernel)
    stride, padding = ntuple(h.get("stride", 1), n), h.get("padding", 0)
    if padding == "same":
        if stride != (1,) * n:
            raise ShapeError("padding 'same' is not supported for strided convolutions (torch.nn)")
        spatial = tuple(in_shape[-n:])
    else:
        pads = (0,) * n if padding == "valid" else ntuple(padding, n)
        spatial = sliding_out_spatial(in_shape[-n:], kernel, stride, pads, ntuple(h.get("dilation", 1), n))
    return (*in_shape[:-n - 1], h["out_channels"], *spatial)


@shape_rule(*TRANSPOSED_KINDS, params=conv_transpose_param_shapes)
def conv_transpose_out_shape(h, in_shape):
    """Leading dims, C_out, then each spatial size
    (in - 1)·stride - 2·padding + dilation·(kernel - 1) + output_padding + 1."""
    kernel = h["kernel_size"]
    n = len(kernel)
    stride, padding = ntuple(h.get("stride", 1), n), ntuple(h.get("padding", 0), n)
    dilation, extra = ntuple(h.get("dilation", 1), n), ntuple(h.get("output_padding", 0), n)
    for op, s, d in zip(extra, stride, dilation):
        if op >= max(s, d):
            raise ShapeError(f"output_padding {op} must be smaller than the stride {s} or the dilation {d} "
                             "(torch.nn)")
    spatial = conv_transpose_out_spatial(in_shape[-n:], kernel, stride, padding, dilation, extra)
    for axis, size, length, k, p in zip(AXIS_NAMES[n], in_shape[-n:], spatial, kernel, padding):
        if length <= 0:  # torch refuses 0 on some backends and returns an empty tensor on others
            raise ShapeError(f"spatial size reaches {length}: {axis} {size} with kernel {k}, padding {p} "
                             "leaves nothing (the padding is too large for this layer)")
    return (*in_shape[:-n - 1], h["out_channels"], *spatial)


counted(*CONV_KINDS, *TRANSPOSED_KINDS, torchinfo="macs", fvcore=fv.convolution, flop_counter="macs")


def _plain(value):
    return tuple(value) if isinstance(value, list) else value


def _conv(n: int):
    def extract(name, args, kwargs, out_shape):
        """``F.convNd(input, weight, bias, stride, padding, dilation, groups)``."""
        b = bind(("input", "weight", "bias", "stride", "padding", "dilation", "groups"), args, kwargs)
        w = shape_of(b.get("weight"))
        if len(w) != n + 2:
            return None
        groups, kind = int(b.get("groups", 1)), f"Conv{n}d"
        raw = {"in_channels": w[1] * groups, "out_channels": w[0], "kernel_size": w[2:],
               "stride": _plain(b.get("stride", 1)), "padding": _plain(b.get("padding", 0)),
               "dilation": _plain(b.get("dilation", 1)), "groups": groups,
               "bias": b.get("bias") is not None, "padding_mode": "zeros"}
        return kind, normalise(kind, raw, out_shape)
    return extract


def _conv_transpose(n: int):
    def extract(name, args, kwargs, out_shape):
        """``F.conv_transposeNd(input, weight, bias, stride, padding, output_padding, groups,
        dilation)``; the weight is C_in × C_out/groups × kernel."""
        b = bind(("input", "weight", "bias", "stride", "padding", "output_padding", "groups",
                  "dilation"), args, kwargs)
        w = shape_of(b.get("weight"))
        if len(w) != n + 2:
            return None
        groups, kind = int(b.get("groups", 1)), f"ConvTranspose{n}d"
        raw = {"in_channels": w[0], "out_channels": w[1] * groups, "kernel_size": w[2:],
               "stride": _plain(b.get("stride", 1)), "padding": _plain(b.get("padding", 0)),
               "output_padding": _plain(b.get("output_padding", 0)),
               "dilation": _plain(b.get("dilation", 1)), "groups": groups,
               "bias": b.get("bias") is not None}
        return kind, normalise(kind, raw, out_shape)
    return extract


for _n in (1, 2, 3):
    functional(f"conv{_n}d", extract=_conv(_n))
    functional(f"conv_transpose{_n}d", extract=_conv_transpose(_n))


@backward(*CONV_KINDS, *TRANSPOSED_KINDS)
def conv_backward(node: LayerNode) -> Backward:
    """grad_input and grad_weight each repeat the forward MACs (grad_input is the transposed
    convolution of grad_out with the weight, grad_weight the convolution of the input with
    grad_out); grad_bias sums grad_out (numel(out) adds)."""
    out = node.out_shape
    bias = (dims(out), prod(out)) if node.hparams.get("bias", True) and param_grad(node, "bias") else None
    return mac_backward(node, conv(node), [("grad_input", "input", input_grad(node)),
                                           ("grad_weight", "weight", param_grad(node, "weight"))],
                        bias=bias)
