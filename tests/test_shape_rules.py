"""Every kind's shape rule against torch itself.

A shape rule (``paramscope.formulas.registry.shape_rule``, declared next to each formula)
is what the spec engine builds from, so it must be torch's own arithmetic.  Truth here is
the torch module: built on the meta device from random hyper-parameters, read back as the
trace reads them, called on a random input; the rule's output shape, parameter shapes and
buffer shapes must equal the module's.  Kinds whose rule can refuse an input are also run
on tiny CPU tensors near the edge (windows larger than the input, too much padding): the
rule refuses exactly when torch raises, or returns an empty tensor (a transposed
convolution's output of size 0 is refused by some CPU kernels and returned by others; the
rule refuses it always).
"""

from __future__ import annotations

from math import prod

import pytest
import torch
from conftest import examples
from hypothesis import HealthCheck, given, settings, strategies as st
from torch import nn

from paramscope.formulas.hparams import normalise
from paramscope.formulas.registry import ShapeError, shape_rule_kinds, shape_rule_of
from paramscope.tracing.trace import module_hparams
from test_formulas_property import conv_configs, pool_configs

pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.:UserWarning")
FAST = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
small = st.integers


def _spatial(n: int, lo: int = 1, hi: int = 9):
    return st.tuples(*[small(lo, hi)] * n)


def _shape(min_rank: int = 1, max_rank: int = 4, hi: int = 6):
    return st.lists(small(1, hi), min_size=min_rank, max_size=max_rank).map(tuple)


@st.composite
def _adaptive(draw, n: int):
    spatial = draw(_spatial(n))
    none = st.nothing() if n == 1 else st.none()  # AdaptiveXPool1d takes no None
    size = tuple(draw(none | small(1, s + 2)) for s in spatial)
    return {"output_size": size}, (draw(small(1, 2)), draw(small(1, 4)), *spatial)


@st.composite
def _norm(draw, n: int | None):
    """BatchNorm / InstanceNorm: C features, n spatial dims (None: 0 or 1, as BatchNorm1d);
    a batch of 2 and spatial sizes of 2 or more (statistics of one value are refused)."""
    c = draw(small(1, 8))
    rank = draw(st.sampled_from([0, 1])) if n is None else n
    kwargs = {"num_features": c, "affine": draw(st.booleans()), "track_running_stats": draw(st.booleans())}
    return kwargs, (draw(small(2, 3)), c, *draw(_spatial(rank, 2, 5)))


@st.composite
def _group_norm(draw):
    groups = draw(small(1, 4))
    c = groups * draw(small(1, 4))
    return ({"num_groups": groups, "num_channels": c, "affine": draw(st.booleans())},
            (draw(small(1, 3)), c, *draw(st.lists(small(2, 5), min_size=1, max_size=3))))


@st.composite
def _trailing_norm(draw, bias: bool):
    """LayerNorm / RMSNorm over 1 to 3 trailing dimensions of a random input."""
    shape = draw(_shape(2, 5))
    norm = shape[-draw(small(1, min(3, len(shape) - 1))):]
    kwargs = {"normalized_shape": norm, "elementwise_affine": draw(st.booleans())}
    if bias:
        kwargs["bias"] = draw(st.booleans())
    return kwargs, shape


@st.composite
def _linear(draw):
    fin, fout = draw(small(1, 32)), draw(small(1, 32))
    lead = draw(_shape(0, 3))
    return {"in_features": fin, "out_features": fout, "bias": draw(st.booleans())}, (*lead, fin)


@st.composite
def _embedding(draw):
    return ({"num_embeddings": draw(small(1, 50)), "embedding_dim": draw(small(1, 16))},
            draw(_shape(0, 3)))


@st.composite
def _softmax(draw):
    shape = draw(_shape())
    return {"dim": draw(small(-len(shape), len(shape) - 1))}, shape


@st.composite
def _prelu(draw):
    shape = draw(_shape(2, 4))
    return {"num_parameters": draw(st.sampled_from([1, shape[1]]))}, shape


@st.composite
def _flatten(draw):
    shape = draw(_shape(1, 5))
    rank = len(shape)
    start = draw(small(0, rank - 1))
    end = draw(small(start, rank - 1))
    return ({"start_dim": start - draw(st.sampled_from([0, rank])),
             "end_dim": end - draw(st.sampled_from([0, rank]))}, shape)


@st.composite
def _unflatten(draw):
    """One dimension split into 1 to 3 sizes, one of them possibly -1 (inferred)."""
    sizes = draw(st.lists(small(1, 4), min_size=1, max_size=3))
    lead, trail = draw(_shape(0, 2)), draw(_shape(0, 2))
    shape = (*lead, prod(sizes), *trail)
    dim = len(lead) - draw(st.sampled_from([0, len(shape)]))
    given = list(sizes)
    if draw(st.booleans()):
        given[draw(small(0, len(sizes) - 1))] = -1
    return {"dim": dim, "unflattened_size": tuple(given)}, shape


def _plain(shapes=_shape()):
    """A kind built with torch's defaults, on inputs drawn from ``shapes``."""
    return shapes.map(lambda shape: ({}, shape))


def _fixed_pool(kind: str, n: int):
    return pool_configs(n).filter(lambda case: case[0] == kind).map(lambda case: (case[1], case[2]))


#: kind -> strategy of (constructor keyword arguments, input shape); one per shape rule.
CASES = {
    **{f"Conv{n}d": conv_configs(n) for n in (1, 2, 3)},
    **{f"ConvTranspose{n}d": conv_configs(n, True) for n in (1, 2, 3)},
    **{f"{op}Pool{n}d": _fixed_pool(f"{op}Pool{n}d", n) for op in ("Max", "Avg") for n in (1, 2, 3)},
    **{f"Adaptive{op}Pool{n}d": _adaptive(n) for op in ("Max", "Avg") for n in (1, 2, 3)},
    "Linear": _linear(),
    "Embedding": _embedding(),
    "BatchNorm1d": _norm(None),
    "BatchNorm2d": _norm(2),
    "BatchNorm3d": _norm(3),
    "SyncBatchNorm": _norm(2),
    **{f"InstanceNorm{n}d": _norm(n) for n in (1, 2, 3)},
    "GroupNorm": _group_norm(),
    "LayerNorm": _trailing_norm(bias=True),
    "RMSNorm": _trailing_norm(bias=False),
    **{kind: _plain() for kind in ("ReLU", "ReLU6", "Hardtanh", "LeakyReLU", "ELU", "CELU", "SELU",
                                   "Sigmoid", "Tanh", "SiLU", "GELU", "Hardsigmoid", "Hardswish",
                                   "Softplus", "Mish", "Identity", "Dropout", "AlphaDropout")},
    "FeatureAlphaDropout": _plain(_shape(2, 4)),
    "Dropout1d": _plain(_shape(2, 3)),
    "Dropout2d": _plain(_shape(4, 4)),
    "Dropout3d": _plain(_shape(4, 5)),
    "Softmax": _softmax(),
    "LogSoftmax": _softmax(),
    "PReLU": _prelu(),
    "Flatten": _flatten(),
    "Unflatten": _unflatten(),
}


def _torch_input(kind: str, shape, device: str = "meta") -> torch.Tensor:
    if kind == "Embedding":
        return torch.zeros(shape, dtype=torch.long, device=device)
    return torch.zeros(shape, device=device)


def _rule_against_torch(kind: str, kwargs: dict, shape: tuple) -> None:
    with torch.device("meta"):
        module = getattr(nn, kind)(**kwargs).eval()
    with torch.no_grad():
        out = tuple(module(_torch_input(kind, shape)).shape)
    hparams = module_hparams(module, kind, type(module), ())  # as the trace reads them
    rule = shape_rule_of(kind)
    assert rule.out_shape(hparams, shape) == out, (kwargs, shape)
    assert rule.param_shapes(hparams) == {n: tuple(p.shape) for n, p in module.named_parameters()}
    assert rule.buffer_shapes(hparams) == {n: tuple(b.shape) for n, b in module.named_buffers()}


def test_every_shape_rule_has_cases():
    assert set(CASES) == set(shape_rule_kinds())


@pytest.mark.parametrize("kind", sorted(CASES))
@settings(max_examples=examples(60), **FAST)
@given(data=st.data())
def test_shape_rule_matches_torch(kind, data):
    kwargs, shape = data.draw(CASES[kind], label="case")
    _rule_against_torch(kind, kwargs, shape)


# -- near the edge: the rule refuses exactly what torch refuses --------------------------------


@st.composite
def _edge_conv(draw, n: int, transposed: bool):
    """Small inputs, any padding: windows larger than the input, output_padding too large."""
    kernel, stride, dilation = (draw(_spatial(n, 1, hi)) for hi in (5, 3, 3))
    kwargs = dict(in_channels=1, out_channels=1, kernel_size=kernel, stride=stride, dilation=dilation)
    if transposed:
        kwargs.update(padding=draw(_spatial(n, 0, 5)), output_padding=draw(_spatial(n, 0, 3)))
    else:
        kwargs["padding"] = draw(st.sampled_from(["same", "valid"]) | _spatial(n, 0, 3))
    return kwargs, (1, 1, *draw(_spatial(n, 1, 6)))


@st.composite
def _edge_pool(draw, kind: str, n: int):
    kernel = draw(_spatial(n, 1, 6))
    kwargs = dict(kernel_size=kernel, stride=draw(_spatial(n, 1, 4)), ceil_mode=draw(st.booleans()),
                  padding=tuple(draw(small(0, k // 2)) for k in kernel))
    if kind.startswith("Max"):
        kwargs["dilation"] = draw(_spatial(n, 1, 3))
    return kwargs, (1, 1, *draw(_spatial(n, 1, 6)))


@st.composite
def _edge_flatten(draw):
    shape = draw(_shape(1, 4))
    return {"start_dim": draw(small(-5, 4)), "end_dim": draw(small(-5, 4))}, shape


@st.composite
def _edge_unflatten(draw):
    shape = draw(_shape(1, 3, hi=8))
    sizes = draw(st.lists(small(-1, 4).filter(bool), min_size=1, max_size=3))
    return {"dim": draw(small(-len(shape) - 1, len(shape))), "unflattened_size": tuple(sizes)}, shape


EDGE = {
    **{f"Conv{n}d": _edge_conv(n, False) for n in (1, 2, 3)},
    **{f"ConvTranspose{n}d": _edge_conv(n, True) for n in (1, 2, 3)},
    **{f"{op}Pool{n}d": _edge_pool(f"{op}Pool{n}d", n) for op in ("Max", "Avg") for n in (1, 2, 3)},
    "Flatten": _edge_flatten(),
    "Unflatten": _edge_unflatten(),
}


@pytest.mark.parametrize("kind", sorted(EDGE))
@settings(max_examples=examples(100), **FAST)
@given(data=st.data())
def test_shape_rule_refuses_what_torch_refuses(kind, data):
    kwargs, shape = data.draw(EDGE[kind], label="case")
    try:
        with torch.no_grad():  # tiny CPU tensors: meta skips some of torch's checks
            out = tuple(getattr(nn, kind)(**kwargs).eval()(_torch_input(kind, shape, "cpu")).shape)
    except (RuntimeError, ValueError, IndexError) as err:
        out = err
    try:
        expected = shape_rule_of(kind).out_shape(normalise(kind, kwargs, ()), shape)
    except ShapeError as err:
        expected = err
    if isinstance(out, Exception):
        assert isinstance(expected, ShapeError), f"torch refused {kwargs} on {shape} ({out}): {expected}"
    elif isinstance(expected, ShapeError):
        assert 0 in out, f"the rule refused {kwargs} on {shape} ({expected}), torch gave {out}"
    else:
        assert expected == out, (kwargs, shape)
