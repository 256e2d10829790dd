"""Property tests: thousands of random configs, zero disagreement with torch.

Truth is torch itself: the module's parameters, FlopCounterMode on meta (MACs = FLOPs / 2),
the output shape torch computes, and, for adaptive pools, a brute-force count of which
input positions reach each output cell (one-hot inputs on CPU).
"""

from __future__ import annotations

from math import prod

import pytest
import torch
from conftest import examples
from hypothesis import HealthCheck, given, settings, strategies as st
from torch import nn

from paramscope.formulas import cost_of
from paramscope.formulas.conv import conv_out_spatial
from paramscope.formulas.pool import adaptive_regions, pool_out_spatial
from nodes import checked, node_from_module, torch_flops, torch_params

pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.:UserWarning")
FAST = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
small = st.integers


def _tuple(draw, n, lo, hi):
    return tuple(draw(small(lo, hi)) for _ in range(n))


@st.composite
def conv_configs(draw, n: int, transposed: bool = False):
    """A valid Conv{n}d / ConvTranspose{n}d config and an input shape (batch included)."""
    groups = draw(small(1, 4))
    cin, cout = groups * draw(small(1, 4)), groups * draw(small(1, 4))
    kernel, dilation = _tuple(draw, n, 1, 5), _tuple(draw, n, 1, 3)
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if transposed:  # 2p <= d(k-1) keeps the output non-empty
        padding = tuple(draw(small(0, (s - 1) // 2)) for s in span)
        stride = _tuple(draw, n, 1, 3)
        extra = {"output_padding": tuple(draw(small(0, max(s, d) - 1)) for s, d in zip(stride, dilation))}
        spatial = _tuple(draw, n, 1, 8)
    else:
        padding = draw(st.sampled_from(["same", "valid", "ints"]))
        if padding == "ints":
            padding = _tuple(draw, n, 0, 3)
        stride = (1,) * n if padding == "same" else _tuple(draw, n, 1, 3)
        extra = {}
        pads = padding if isinstance(padding, tuple) else (0,) * n
        spatial = tuple(max(1, s - 2 * p) + draw(small(0, 10)) for s, p in zip(span, pads))
    shape = (draw(small(1, 3)), cin, *spatial)
    return dict(in_channels=cin, out_channels=cout, kernel_size=kernel, stride=stride,
                padding=padding, dilation=dilation, groups=groups, bias=draw(st.booleans()),
                **extra), shape


def _check_conv(cls, cfg, shape):
    with torch.device("meta"):
        module = cls(**cfg)
    node = node_from_module(module, shape)
    cost = checked(node)  # every Term evaluates to its value; out_shape agrees with hparams
    flops = torch_flops(module, shape)
    assert cost.total_params == torch_params(module)
    assert 2 * cost.macs == flops
    assert cost.flops == flops + (prod(node.out_shape) if cfg["bias"] else 0)
    return node


@settings(max_examples=examples(2000), **FAST)
@given(conv_configs(2))
def test_conv2d_random(case):
    cfg, shape = case
    node = _check_conv(nn.Conv2d, cfg, shape)
    assert conv_out_spatial(shape[2:], cfg["kernel_size"], cfg["stride"], cfg["padding"],
                            cfg["dilation"]) == node.out_shape[2:]


@settings(max_examples=examples(300), **FAST)
@given(st.sampled_from([1, 3]).flatmap(lambda n: st.tuples(st.just(n), conv_configs(n))))
def test_conv1d_conv3d_random(case):
    n, (cfg, shape) = case
    _check_conv({1: nn.Conv1d, 3: nn.Conv3d}[n], cfg, shape)


@settings(max_examples=examples(400), **FAST)
@given(st.sampled_from([1, 2, 3]).flatmap(lambda n: st.tuples(st.just(n), conv_configs(n, True))))
def test_conv_transpose_random(case):
    n, (cfg, shape) = case
    _check_conv({1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[n], cfg, shape)


@settings(max_examples=examples(500), **FAST)
@given(small(1, 64), small(1, 64), st.booleans(), st.lists(small(1, 5), max_size=3))
def test_linear_random(fin, fout, bias, lead):
    with torch.device("meta"):
        module = nn.Linear(fin, fout, bias=bias)
    shape = (*lead, fin)
    node = node_from_module(module, shape)
    cost = checked(node)
    flops = torch_flops(module, shape)
    assert cost.total_params == torch_params(module)
    assert 2 * cost.macs == flops
    assert cost.flops == flops + (prod(node.out_shape) if bias else 0)


@st.composite
def pool_configs(draw, n: int):
    """A valid MaxPool{n}d / AvgPool{n}d and an input shape; avg pools (no dilation) need
    the input at least as large as the kernel on meta, max pools may rely on padding."""
    is_max = draw(st.booleans())
    kernel, stride = _tuple(draw, n, 1, 5), _tuple(draw, n, 1, 4)
    padding = tuple(draw(small(0, k // 2)) for k in kernel)
    dilation = _tuple(draw, n, 1, 3) if is_max else (1,) * n
    spatial = tuple((max(1, d * (k - 1) + 1 - 2 * p) if is_max else k) + draw(small(0, 10))
                    for k, d, p in zip(kernel, dilation, padding))
    args = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=draw(st.booleans()))
    if is_max:
        args["dilation"] = dilation
    else:
        args["count_include_pad"] = draw(st.booleans())
    return f"{'Max' if is_max else 'Avg'}Pool{n}d", args, (draw(small(1, 2)), 3, *spatial)


@settings(max_examples=examples(800), **FAST)
@given(st.sampled_from([1, 2, 3]).flatmap(pool_configs))
def test_fixed_pool_random(case):
    kind, args, shape = case
    with torch.device("meta"):
        module = getattr(nn, kind)(**args)
    node = node_from_module(module, shape)
    cost = checked(node)
    kernel = args["kernel_size"]
    assert pool_out_spatial(shape[2:], kernel, args["stride"], args["padding"],
                            args.get("dilation", (1,) * len(kernel)), args["ceil_mode"]) == node.out_shape[2:]
    per_cell = prod(kernel) - 1 if kind.startswith("Max") else prod(kernel)
    assert (cost.macs, cost.flops) == (0, per_cell * prod(node.out_shape))


def _brute_force_window(module_cls, spatial, out_size) -> int:
    """Σ over output cells of the number of input positions that reach the cell: pool a
    batch of one-hot inputs (one per input position) with torch and count non-zeros."""
    positions = prod(spatial)
    one_hot = torch.eye(positions).reshape(positions, 1, *spatial)
    return int(torch.count_nonzero(module_cls(out_size)(one_hot)))


@settings(max_examples=examples(400), **FAST)
@given(st.sampled_from([1, 2, 3]).flatmap(
    lambda n: st.lists(small(1, 40 // n), min_size=n, max_size=n).flatmap(
        lambda sizes: st.tuples(st.just(sizes), st.tuples(*[small(1, s + 2) for s in sizes])))),
    st.booleans())
def test_adaptive_pool_regions_random(case, is_max):
    spatial, out_size = case
    n = len(spatial)
    cls = getattr(nn, f"Adaptive{'Max' if is_max else 'Avg'}Pool{n}d")
    window = _brute_force_window(cls, spatial, out_size)
    assert prod(sum(adaptive_regions(i, o)) for i, o in zip(spatial, out_size)) == window
    with torch.device("meta"):
        module = cls(out_size)
    cost = checked(node_from_module(module, (2, 3, *spatial)))
    cells = 6 * prod(out_size)
    assert cost.flops == 6 * window - (cells if is_max else 0)
    assert cost_of(node_from_module(module, (2, 3, *spatial), call_index=1)).flops == cost.flops
