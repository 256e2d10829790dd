"""Any functional op, costed from the aten ops it decomposes into.

A function call the trace does not map to a layer kind (``torch.addmm``,
``torch.tensordot``, ``x.mean()``, ``F.normalize``, a three-operand ``einsum``, a direct
``torch.ops.aten.*`` call) is recorded with the aten ops that ran inside it on the meta
device (kind ``"op"``).  Each aten op is costed from its operand shapes by the table below:

* products (``mm``, ``addmm``, ``bmm``, ``baddbmm``, ``mv``, ``addmv``, ``dot``,
  ``convolution``): MACs = the multiply-accumulates, FLOPs = 2 × MACs + the added input;
* elementwise arithmetic: FLOPs per output element (activations as their module kinds);
* reductions: one FLOP per input element (``sum``: adds, ``amax``: compares);
* data movement and tensor creation (views, copies, ``cat``, ``arange`` ...): zero.

An aten op in none of these is *unmodelled*: the op is then reported by its aten name and
the analysis is incomplete, never a silent zero.  No torch import here.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any, Callable, Sequence

from paramscope.formulas._expr import dims, join_notes, num, times
from paramscope.formulas.activation import ACTIVATION_FLOPS
from paramscope.formulas.registry import Cost, Term, counted, formula, registrar
from paramscope.measure import fvcore as fv
from paramscope.graph import LayerNode, Shape


@dataclass(frozen=True)
class AtenCall:
    """One aten op as the trace saw it: its name, tensor operand shapes, output shape."""

    op: str  # overload packet name: "mm", "addmm", "convolution", "add"
    in_shapes: tuple[Shape, ...]
    out_shape: Shape
    #: non-tensor arguments a formula needs (convolution: transposed, groups)
    extra: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class AtenCost:
    macs: int
    flops: int
    expression: str  # how the FLOPs (or the MACs of a product) were counted
    #: True when torch.utils.flop_counter.FlopCounterMode counts this op (2 × MACs)
    flop_counter: bool = False


AtenFn = Callable[[AtenCall], AtenCost]
ATEN: dict[str, AtenFn] = {}


#: ``@aten("mm", ...)``: register ``fn`` as the cost rule of each aten op.
aten = registrar(ATEN, "an aten rule")


def _product(macs: int, factors: Sequence[int], added: int = 0, counted: bool = True) -> AtenCost:
    return AtenCost(macs, 2 * macs + added, dims(factors), counted)


@aten("mm")
def _mm(c: AtenCall) -> AtenCost:
    (m, k), (_, n) = c.in_shapes[:2]
    return _product(m * k * n, (m, k, n))


@aten("addmm")
def _addmm(c: AtenCall) -> AtenCost:
    (m, k), (_, n) = c.in_shapes[1:3]
    return _product(m * k * n, (m, k, n), m * n)


@aten("bmm")
def _bmm(c: AtenCall) -> AtenCost:
    (b, m, k), (_, _, n) = c.in_shapes[:2]
    return _product(b * m * k * n, (b, m, k, n))


@aten("baddbmm")
def _baddbmm(c: AtenCall) -> AtenCost:
    (b, m, k), (_, _, n) = c.in_shapes[1:3]
    return _product(b * m * k * n, (b, m, k, n), b * m * n)


@aten("mv")
def _mv(c: AtenCall) -> AtenCost:
    m, k = c.in_shapes[0]
    return _product(m * k, (m, k), counted=False)


@aten("addmv")
def _addmv(c: AtenCall) -> AtenCost:
    m, k = c.in_shapes[1]
    return _product(m * k, (m, k), m, counted=False)


@aten("dot", "vdot")
def _dot(c: AtenCall) -> AtenCost:
    k = c.in_shapes[0][0]
    return _product(k, (k,), counted=False)


@aten("convolution", "_convolution")
def _convolution(c: AtenCall) -> AtenCost:
    x, w = c.in_shapes[:2]
    extra = dict(c.extra)
    transposed = bool(extra.get("transposed", False))
    out = c.out_shape
    # flop_counter's conv_flop_count: batch × prod(spatial) × prod(weight), with the input's
    # spatial size for a transposed convolution and the output's otherwise.
    spatial = (x if transposed else out)[2:]
    macs = out[0] * prod(spatial) * prod(w)
    has_bias = len(c.in_shapes) > 2
    return _product(macs, (out[0], *spatial, *w), prod(out) if has_bias else 0)


#: elementwise aten ops -> FLOPs per output element.
ELEMENTWISE: dict[str, int] = {
    **dict.fromkeys("""add sub rsub mul div neg abs sign reciprocal sqrt rsqrt exp exp2 expm1 log
        log1p log2 log10 sin cos tan asin acos atan atan2 sinh cosh erf erfc erfinv pow square
        maximum minimum fmax fmin floor ceil round trunc frac remainder fmod eq ne lt le gt ge
        logical_and logical_or logical_xor logical_not bitwise_and bitwise_or bitwise_xor
        bitwise_not clamp_min clamp_max where lerp isnan isinf isfinite nan_to_num
        copysign hypot xlogy sgn true_divide floor_divide threshold""".split(), 1),
    "clamp": 2, "addcmul": 2, "addcdiv": 2,
    "relu": ACTIVATION_FLOPS["ReLU"][0], "hardtanh": ACTIVATION_FLOPS["Hardtanh"][0],
    "leaky_relu": ACTIVATION_FLOPS["LeakyReLU"][0], "elu": ACTIVATION_FLOPS["ELU"][0],
    "celu": ACTIVATION_FLOPS["CELU"][0], "selu": ACTIVATION_FLOPS["SELU"][0],
    "sigmoid": ACTIVATION_FLOPS["Sigmoid"][0], "tanh": ACTIVATION_FLOPS["Tanh"][0],
    "silu": ACTIVATION_FLOPS["SiLU"][0], "hardswish": ACTIVATION_FLOPS["Hardswish"][0],
    "hardsigmoid": ACTIVATION_FLOPS["Hardsigmoid"][0], "softplus": ACTIVATION_FLOPS["Softplus"][0],
    "mish": ACTIVATION_FLOPS["Mish"][0], "_softmax": ACTIVATION_FLOPS["Softmax"][0],
    "_log_softmax": ACTIVATION_FLOPS["LogSoftmax"][0], "prelu": ACTIVATION_FLOPS["PReLU"][0],
    "_prelu_kernel": ACTIVATION_FLOPS["PReLU"][0],
}


def _gelu(c: AtenCall) -> AtenCost:
    key = "GELU(tanh)" if dict(c.extra).get("approximate") == "tanh" else "GELU"
    per = ACTIVATION_FLOPS[key][0]
    return AtenCost(0, per * prod(c.out_shape), times(num(per), dims(c.out_shape)))


ATEN["gelu"] = _gelu


def _elementwise(c: AtenCall) -> AtenCost:
    per = ELEMENTWISE[c.op.rstrip("_")] if c.op not in ELEMENTWISE else ELEMENTWISE[c.op]
    expr = dims(c.out_shape) if per == 1 else times(num(per), dims(c.out_shape))
    return AtenCost(0, per * prod(c.out_shape), expr)


for _op in ELEMENTWISE:
    ATEN[_op] = _elementwise
    ATEN[_op + "_"] = _elementwise  # in-place forms

#: reductions: one FLOP (add or compare) per input element.
REDUCTIONS = frozenset("""sum mean amax amin max min prod argmax argmin all any logsumexp
    cumsum cumprod nansum norm linalg_vector_norm var std var_mean std_mean count_nonzero""".split())


@aten(*REDUCTIONS)
def _reduction(c: AtenCall) -> AtenCost:
    x = c.in_shapes[0] if c.in_shapes else c.out_shape
    return AtenCost(0, prod(x), dims(x))


@aten("_weight_norm_interface", "_weight_norm")
def _weight_norm(c: AtenCall) -> AtenCost:
    """``w = g · v / ‖v‖`` (old- and new-style weight_norm): per element of v a square, an add,
    a divide and a multiply (4 FLOPs); the per-row square roots are not counted."""
    v = c.in_shapes[0] if c.in_shapes else c.out_shape
    return AtenCost(0, 4 * prod(v), times("4", dims(v)))


#: aten ops that move, view, index or create data: no arithmetic by definition.
ZERO_OPS = frozenset("""view _unsafe_view reshape view_as permute transpose t expand expand_as
    unsqueeze squeeze slice select index index_select gather take masked_select cat stack split
    split_with_sizes unbind chunk narrow clone copy _copy_from _to_copy to contiguous detach
    alias lift_fresh lift_fresh_copy empty empty_like empty_strided zeros zeros_like ones
    ones_like full full_like fill zero new_zeros new_ones new_empty new_full new_empty_strided
    scalar_tensor arange linspace logspace eye tril_indices triu_indices tril triu repeat
    repeat_interleave roll flip constant_pad_nd pad reflection_pad1d reflection_pad2d
    reflection_pad3d replication_pad1d replication_pad2d replication_pad3d masked_fill
    index_put index_fill scatter as_strided unfold pixel_shuffle pixel_unshuffle
    channel_shuffle diagonal diag_embed unflatten flatten movedim col2im im2col _reshape_alias
    dropout native_dropout feature_dropout alpha_dropout bernoulli _local_scalar_dense
    set_ resize_ _assert_async sym_size sym_stride sym_numel sym_storage_offset item
    lift real imag view_as_real view_as_complex select_scatter slice_scatter _unsafe_index
    upsample_nearest1d upsample_nearest2d upsample_nearest3d _upsample_nearest_exact1d
    _upsample_nearest_exact2d _upsample_nearest_exact3d split_copy unbind_copy""".split())


def aten_cost(call: AtenCall) -> AtenCost | None:
    """The cost of one aten op, or None when no rule covers it."""
    name = call.op
    if name in ZERO_OPS or name.rstrip("_") in ZERO_OPS:
        return AtenCost(0, 0, "0")
    fn = ATEN.get(name)
    return fn(call) if fn is not None else None


def unmodelled(calls: Sequence[AtenCall]) -> list[str]:
    """The aten ops among ``calls`` that no rule covers, in order, once each."""
    return list(dict.fromkeys(f"aten.{c.op}" for c in calls if aten_cost(c) is None))


@formula("op")
def op_cost(node: LayerNode) -> Cost:
    """A function call costed as the sum of its aten ops (see module docstring)."""
    calls: tuple[AtenCall, ...] = node.aten
    label = node.hparams.get("callable", "op")
    missing = unmodelled(calls)
    if missing:
        return Cost(node.kind, {}, None, None, (), "unsupported",
                    f"{label}: no formula for {', '.join(missing)}")
    macs = flops = 0
    terms: list[Term] = []
    for call in calls:
        cost = aten_cost(call)
        if not (cost.macs or cost.flops):
            continue
        macs += cost.macs
        flops += cost.flops
        terms.append(Term(f"{'macs' if cost.macs else 'flops'} (aten.{call.op})", cost.expression,
                          cost.macs or cost.flops))
    if not terms:
        return Cost(node.kind, {}, 0, 0, (Term("macs", "0", 0), Term("flops", "0", 0)), "zero",
                    f"{label}: moves or creates data, no arithmetic")
    terms.append(Term("macs", " + ".join(num(t.value) for t in terms if t.quantity.startswith("macs"))
                      or "0", macs))
    flop_parts = [f"2 × {num(macs)}"] if macs else []
    flop_parts += [num(c.flops - 2 * c.macs) for c in map(aten_cost, calls) if c.flops - 2 * c.macs]
    terms.append(Term("flops", " + ".join(flop_parts) or "0", flops))
    return Cost(node.kind, {}, macs, flops, tuple(terms), "ok",
                join_notes(f"{label}: costed from the aten ops it ran"))


counted("op", fvcore=fv.function_call)  # FlopCounterMode: the registry ops among its aten calls


def flop_counter_macs(calls: Sequence[AtenCall]) -> int:
    """The MACs FlopCounterMode counts among ``calls`` (it counts only its registry's ops)."""
    return sum(c.macs for c in map(aten_cost, calls) if c is not None and c.flop_counter)
