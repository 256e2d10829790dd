"""Formulas against independent truth: torch's own modules (params) and FlopCounterMode
(MACs = FLOPs / 2), all on the meta device; plus the seed figures of reference.md."""

from __future__ import annotations

import subprocess
import sys
from math import prod

import pytest
import torch
from torch import nn

from paramscope.formulas import Term, cost_of, registered_kinds
from paramscope.formulas.activation import ACTIVATION_FLOPS
from paramscope.graph import LayerNode, ParamInfo
from nodes import checked, functional_node, node_from_module, torch_flops, torch_params


def meta(factory):
    with torch.device("meta"):
        return factory()


# (module factory, input shapes) for every kind; compared to torch below.
CASES = [
    (lambda: nn.Conv1d(4, 8, 3, stride=2, padding=1), [(2, 4, 15)]),
    (lambda: nn.Conv2d(3, 64, 7, 2, 3), [(1, 3, 224, 224)]),
    (lambda: nn.Conv2d(64, 128, 3, groups=32, bias=False, padding="same", dilation=2), [(2, 64, 9, 11)]),
    (lambda: nn.Conv2d(3, 4, 3, padding="valid"), [(3, 9, 9)]),  # unbatched input
    (lambda: nn.Conv3d(4, 8, (3, 2, 1), stride=(1, 2, 1), padding=(1, 0, 2)), [(1, 4, 5, 6, 7)]),
    (lambda: nn.Conv2d(8, 8, 3, padding=1, padding_mode="reflect", groups=8), [(1, 8, 6, 6)]),
    (lambda: nn.ConvTranspose1d(4, 6, 3, stride=2), [(2, 4, 7)]),
    (lambda: nn.ConvTranspose2d(8, 16, 3, stride=2, padding=1, output_padding=1, groups=4), [(1, 8, 5, 5)]),
    (lambda: nn.ConvTranspose3d(2, 4, 2, stride=2, bias=False), [(1, 2, 3, 3, 3)]),
    (lambda: nn.Linear(512, 1000), [(1, 512)]),
    (lambda: nn.Linear(64, 32, bias=False), [(2, 7, 64)]),
    (lambda: nn.Linear(5, 6), [(5,)]),
    (lambda: nn.Embedding(1000, 64), [torch.empty(2, 5, dtype=torch.long, device="meta")]),
    (lambda: nn.BatchNorm1d(16), [(4, 16)]),
    (lambda: nn.BatchNorm2d(64), [(1, 64, 56, 56)]),
    (lambda: nn.BatchNorm3d(4, affine=False), [(1, 4, 3, 3, 3)]),
    (lambda: nn.LayerNorm(768), [(1, 197, 768)]),
    (lambda: nn.LayerNorm((4, 5), bias=False), [(3, 4, 5)]),
    (lambda: nn.LayerNorm(8, elementwise_affine=False), [(2, 8)]),
    (lambda: nn.GroupNorm(4, 32), [(2, 32, 8, 8)]),
    (lambda: nn.InstanceNorm2d(8), [(2, 8, 5, 5)]),
    (lambda: nn.InstanceNorm1d(8, affine=True), [(2, 8, 5)]),
    (lambda: nn.RMSNorm(16), [(3, 16)]),
    *[(getattr(nn, k), [(2, 3, 4, 5)]) for k in ACTIVATION_FLOPS
      if k not in ("GELU(tanh)", "Softmax", "LogSoftmax")],
    (lambda: nn.GELU(approximate="tanh"), [(2, 3)]),
    (lambda: nn.PReLU(3), [(2, 3, 4)]),
    (lambda: nn.Softmax(dim=-1), [(2, 12, 7, 7)]),
    (lambda: nn.LogSoftmax(dim=1), [(2, 10)]),
    (lambda: nn.MaxPool2d(3, 2, 1), [(1, 64, 112, 112)]),
    (lambda: nn.MaxPool2d(3, stride=2, dilation=2, ceil_mode=True), [(1, 2, 15, 16)]),
    (lambda: nn.MaxPool1d(2), [(1, 3, 9)]),
    (lambda: nn.MaxPool3d((2, 3, 1), stride=1, padding=(1, 1, 0)), [(1, 2, 4, 5, 6)]),
    (lambda: nn.AvgPool2d(2), [(1, 8, 7, 7)]),
    (lambda: nn.AvgPool1d(3, stride=2, padding=1, ceil_mode=True), [(2, 3, 10)]),
    (lambda: nn.AvgPool3d(2, stride=(1, 2, 2)), [(1, 2, 4, 6, 6)]),
    *[(lambda c=c, o=o: c(o), [shape]) for c, o, shape in [
        (nn.AdaptiveAvgPool1d, 3, (2, 4, 5)), (nn.AdaptiveAvgPool2d, 1, (1, 2048, 7, 7)),
        (nn.AdaptiveAvgPool2d, (3, None), (1, 4, 10, 9)), (nn.AdaptiveAvgPool3d, 2, (1, 2, 3, 5, 7)),
        (nn.AdaptiveMaxPool1d, 4, (2, 3, 10)), (nn.AdaptiveMaxPool2d, (5, 7), (1, 3, 13, 11)),
        (nn.AdaptiveMaxPool3d, (1, 2, 3), (1, 2, 3, 4, 5))]],
    (nn.Flatten, [(2, 3, 4)]),
    (lambda: nn.Unflatten(1, (2, 6)), [(2, 12)]),
    (nn.Identity, [(2, 3)]),
    *[(getattr(nn, k), [shape]) for k, shape in [
        ("Dropout", (2, 3)), ("Dropout1d", (2, 3, 4)), ("Dropout2d", (2, 3, 4, 5)),
        ("Dropout3d", (2, 3, 4, 5, 6)), ("AlphaDropout", (2, 3)), ("FeatureAlphaDropout", (2, 3, 4, 5))]],
]
ZERO = {"Flatten", "Unflatten", "Identity", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
        "AlphaDropout", "FeatureAlphaDropout"}


def _id(case):
    module = meta(case[0])
    return f"{type(module).__name__}-{'x'.join(map(str, getattr(case[1][0], 'shape', case[1][0])))}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_matches_torch(case):
    """params = Σ numel(parameters()); MACs = FlopCounterMode / 2; status as declared."""
    factory, inputs = case
    module = meta(factory)
    node = node_from_module(module, *inputs)
    cost = checked(node)
    assert node.kind in registered_kinds()
    assert cost.total_params == torch_params(module)
    assert cost.params == {n: p.numel for n, p in node.params.items()}
    assert 2 * cost.macs == torch_flops(module, *inputs)
    assert cost.status == ("zero" if node.kind in ZERO else "ok")
    if node.kind in ZERO:
        assert cost.flops == 0


def node(module_factory, *shapes, **kw) -> LayerNode:
    return node_from_module(meta(module_factory), *shapes, **kw)


# ---- seed figures (reference.md) -------------------------------------------------------

@pytest.mark.parametrize("cin,cout,size,params", [
    (3, 64, 224, 1_792), (64, 64, 224, 36_928), (64, 128, 112, 73_856), (128, 128, 112, 147_584)])
def test_vgg_stem_convs(cin, cout, size, params):
    conv = node(lambda: nn.Conv2d(cin, cout, 3, padding="same"), (1, cin, size, size))
    assert checked(conv).total_params == params


def test_vgg_stem_total_and_shape():
    shape, total = (1, 3, 224, 224), 0
    for make in [lambda: nn.Conv2d(3, 64, 3, padding="same"), lambda: nn.Conv2d(64, 64, 3, padding="same"),
                 lambda: nn.MaxPool2d(2), lambda: nn.Conv2d(64, 128, 3, padding="same"),
                 lambda: nn.Conv2d(128, 128, 3, padding="same"), lambda: nn.MaxPool2d(2)]:
        n = node(make, shape)
        total += checked(n).total_params
        shape = n.out_shape
    assert (total, shape) == (260_160, (1, 128, 56, 56))


def test_resnet_stem_terms():
    cost = checked(node(lambda: nn.Conv2d(3, 64, 7, 2, 3), (1, 3, 224, 224)))
    assert cost.terms == (
        Term("weight", "3×64×7×7", 9_408),
        Term("bias", "64", 64),
        Term("params", "3×64×7×7 + 64", 9_472),
        Term("macs", "1×112×112 × 3×64×7×7", 118_013_952),
        Term("flops", "2 × 118,013,952 + 1×64×112×112", 236_830_720),
    )
    pool = node(lambda: nn.MaxPool2d(2, 2), (1, 64, 112, 112))
    assert pool.out_shape == (1, 64, 56, 56)


def test_dense_vs_grouped_weight():
    dense = checked(node(lambda: nn.Conv2d(64, 128, 3), (1, 64, 56, 56)))
    grouped = checked(node(lambda: nn.Conv2d(64, 128, 3, groups=32), (1, 64, 56, 56)))
    assert dense.params == {"weight": 73_728, "bias": 128}
    assert grouped.params == {"weight": 2_304, "bias": 128}
    assert grouped.terms[0] == Term("weight", "64/32×128×3×3", 2_304)
    assert grouped.terms[3].expression == "1×54×54 × 64/32×128×3×3"


@pytest.mark.parametrize("convs,total", [
    ([(64, 64, 3, 1, 1), (64, 64, 3, 1, 1)], 73_856),  # plain block
    ([(64, 64, 1, 1, 0), (64, 64, 3, 1, 1), (64, 64, 1, 1, 0)], 45_248),  # bottleneck, identity
    ([(64, 64, 1, 1, 0), (64, 64, 3, 2, 1), (64, 128, 1, 1, 0), (64, 128, 1, 2, 0)], 57_728),
])
def test_block_params(convs, total):
    assert sum(checked(node(lambda c=c: nn.Conv2d(*c), (1, c[0], 56, 56))).total_params
               for c in convs) == total


# ---- FLOP conventions --------------------------------------------------------------------

def test_conv_and_linear_flops_add_bias():
    for make, shape in [(lambda: nn.Conv2d(3, 8, 3), (2, 3, 10, 10)), (lambda: nn.Linear(6, 4), (3, 5, 6)),
                        (lambda: nn.ConvTranspose2d(3, 8, 3, stride=2), (1, 3, 4, 4))]:
        n = node(make, shape)
        assert checked(n).flops == torch_flops(meta(make), shape) + prod(n.out_shape)


def test_activation_flops_table():
    for kind, (per, _) in ACTIVATION_FLOPS.items():
        make = {"GELU(tanh)": lambda: nn.GELU(approximate="tanh"), "Softmax": lambda: nn.Softmax(-1),
                "LogSoftmax": lambda: nn.LogSoftmax(-1)}.get(kind, getattr(nn, kind, None))
        cost = checked(node(make, (2, 3, 5)))
        assert (cost.macs, cost.flops) == (0, per * 30)
        assert cost.terms[-1].expression == f"{per} × 2×3×5"
        assert cost.note.startswith(f"{cost.kind}: {per} FLOPs per element")


@pytest.mark.parametrize("make,shape,per", [
    (lambda: nn.BatchNorm2d(64), (1, 64, 56, 56), 2),
    (lambda: nn.BatchNorm2d(64, affine=False), (1, 64, 56, 56), 2),
    (lambda: nn.LayerNorm(768), (1, 197, 768), 7),
    (lambda: nn.LayerNorm(768, bias=False), (1, 197, 768), 6),
    (lambda: nn.LayerNorm(768, elementwise_affine=False), (1, 197, 768), 5),
    (lambda: nn.GroupNorm(8, 64), (1, 64, 8, 8), 7),
    (lambda: nn.InstanceNorm2d(64), (1, 64, 8, 8), 5),
    (lambda: nn.RMSNorm(32), (4, 32), 4),
])
def test_norm_flops(make, shape, per):
    cost = checked(node(make, shape))
    assert cost.flops == per * prod(shape) and cost.macs == 0


def test_batchnorm_buffers_are_not_params():
    n = node(lambda: nn.BatchNorm2d(64), (1, 64, 4, 4))
    assert set(n.buffers) == {"running_mean", "running_var", "num_batches_tracked"}
    assert cost_of(n).params == {"weight": 64, "bias": 64}


def test_pool_flops():
    mx = checked(node(lambda: nn.MaxPool2d(3, 2, 1), (1, 64, 112, 112)))
    assert mx.terms[-1] == Term("flops", "(3×3 - 1) × 1×64×56×56", 8 * 200_704)
    avg = checked(node(lambda: nn.AvgPool2d(2), (1, 8, 7, 7)))
    assert avg.terms[-1] == Term("flops", "2×2 × 1×8×3×3", 288)
    gap = checked(node(lambda: nn.AdaptiveAvgPool2d(1), (1, 2048, 7, 7)))
    assert gap.terms == (Term("window_H", "7", 7), Term("window_W", "7", 7), Term("macs", "0", 0),
                         Term("flops", "1×2,048 × 7×7", 100_352))
    uneven = checked(node(lambda: nn.AdaptiveAvgPool1d(3), (1, 1, 5)))  # regions [0,2) [1,4) [3,5)
    assert uneven.terms[0] == Term("window_L", "2×2 + 3", 7) and uneven.flops == 7
    amax = checked(node(lambda: nn.AdaptiveMaxPool2d(3), (1, 2, 10, 10)))  # 3 regions of 4 per axis
    assert amax.terms[-1] == Term("flops", "1×2 × 12×12 - 1×2×3×3", 288 - 18)


# ---- shared modules, zero and unsupported kinds, functional ops ---------------------------

def test_shared_module_counts_params_once():
    first = checked(node(lambda: nn.Conv2d(8, 8, 3), (1, 8, 6, 6)))
    again = checked(node(lambda: nn.Conv2d(8, 8, 3), (1, 8, 6, 6), call_index=1))
    assert first.total_params == 584 and again.params == {}
    assert (again.macs, again.flops) == (first.macs, first.flops)
    assert not {"weight", "bias", "params"} & {t.quantity for t in again.terms}
    assert "first call" in again.note
    relu = checked(node(nn.ReLU, (1, 8), call_index=2))
    assert (relu.params, relu.flops) == ({}, 8)


def test_zero_kinds():
    for kind in ("Flatten", "Identity", "Dropout", "StochasticDepth"):
        cost = checked(LayerNode("m", kind, {}, ((2, 3), (2, 3)), (2, 6)))
        assert (cost.status, cost.macs, cost.flops) == ("zero", 0, 0)


def test_unsupported_is_never_zero():
    n = LayerNode("bil", "Bilinear", {}, ((2, 3), (2, 4)), (2, 5),
                  params={"weight": ParamInfo((5, 3, 4)), "bias": ParamInfo((5,))})
    cost = cost_of(n)
    assert (cost.status, cost.macs, cost.flops, cost.total_params) == ("unsupported", None, None, 65)


@pytest.mark.parametrize("kind,fn,shapes,flops", [
    ("add", torch.add, [(1, 256, 56, 56)] * 2, 802_816),
    ("add", lambda a, b, c: a + b + c, [(2, 3)] * 3, 12),
    ("add", torch.add, [(4, 1, 5), (1, 3, 5)], 60),
    ("add", lambda a: a + 1, [(2, 3)], 6),
    ("mul", torch.mul, [(2, 8, 4, 4), (2, 8, 1, 1)], 256),
])
def test_add_mul(kind, fn, shapes, flops):
    cost = checked(functional_node(kind, fn, *shapes))
    assert (cost.macs, cost.flops) == (0, flops)


@pytest.mark.parametrize("shapes", [
    [(3, 4), (4, 5)], [(8, 4, 5), (5, 6)], [(2, 12, 128, 64), (2, 12, 64, 128)],
    [(7,), (3, 7, 5)], [(2, 1, 3, 4), (5, 4, 6)]])
def test_matmul_matches_torch(shapes):
    cost = checked(functional_node("matmul", torch.matmul, *shapes))
    assert 2 * cost.macs == cost.flops == torch_flops(torch.matmul, *shapes)


def test_matmul_vector_cases():
    """torch's FlopCounterMode has no formula for dot / mv; ours counts k MACs per output."""
    assert checked(functional_node("matmul", torch.matmul, (7,), (7,))).macs == 7
    assert checked(functional_node("matmul", torch.matmul, (3, 7), (7,))).macs == 21


def test_formulas_do_not_import_torch():
    code = "import sys, paramscope.formulas; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("kind", ["StochasticDepth", "Permute"])
def test_torchvision_ops_reshapes_and_stochastic_depth_cost_nothing(kind):
    """torchvision.ops.StochasticDepth (identity at inference) and Permute (a reshape)."""
    node = LayerNode("blk", kind, {}, ((2, 8, 4, 4),), (2, 8, 4, 4))
    cost = cost_of(node)
    assert cost.status == "zero" and cost.macs == 0 and cost.flops == 0 and not cost.params
