"""fvcore 0.1.5: ``FlopCountAnalysis`` on a real CPU copy, and its handles predicted from a Graph."""

from __future__ import annotations

from collections import Counter
from math import prod

from paramscope.graph import Graph, LayerNode
from paramscope.measure.base import (LayerCount, Measurement, Measurer, NodeCount, RealRun,
                                     exclusive, mha_fast_path)

#: function names fvcore's _IGNORED_OPS lists (counted 0 without a report).
IGNORED_FUNCTIONS = frozenset({"relu", "relu_", "dropout", "dropout_", "flatten", "view", "reshape",
                               "t", "transpose", "permute", "cat", "stack", "expand", "contiguous"})


def fvcore_einsum(equation: str, shapes) -> int:
    """fvcore's ``einsum_flop_jit``: two special equations, else numpy's optimal-path
    "optimized flop" estimate (as printed, 4 significant digits) halved and floored."""
    from collections import OrderedDict

    eq = equation.replace(" ", "")
    order = OrderedDict((c, 0) for c in eq if c.isalpha()).keys()
    eq = eq.translate({ord(c): 97 + i for i, c in enumerate(order)})
    if eq == "abc,abd->acd":
        n, c, t = shapes[0]
        return n * c * t * shapes[-1][-1]
    if eq == "abc,adc->adb":
        n, t, g = shapes[0]
        return n * t * g * shapes[-1][1]
    lhs, _, out = eq.partition("->")
    inputs = lhs.split(",")
    sizes: dict[str, int] = {}
    for letters, shape in zip(inputs, shapes):
        for c, d in zip(letters, shape):
            sizes[c] = max(sizes.get(c, 1), d)
    if not _:
        letters = "".join(inputs)
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    size = prod(sizes.values())
    removed = set(sizes) - set(out)
    factor = max(1, len(inputs) - 1) + (1 if removed else 0)
    printed = float(f"{size * factor:.3e}")  # numpy prints the estimate with %.3e
    return int(printed // 2)


class FvcoreMeasurer(RealRun, Measurer):
    """fvcore's ``FlopCountAnalysis``: a jit trace on real CPU tensors, per-op handles."""

    name = "fvcore"
    metric = "flops (1 per MAC)"
    baseline = "macs"
    device = "cpu"
    convention = (
        "fvcore jit-traces the model on real CPU tensors and counts only ops it has a "
        "handle for, one fused multiply-add as one flop: aten::_convolution "
        "N × prod(weight) × prod(output spatial), aten::linear / matmul / mm / bmm "
        "prod(a) × b[-1], bias never counted. It also counts batch_norm (eval: 2 per "
        "input element with affine, 1 without; training: 5 / 4), group_norm and "
        "layer_norm (5 per element with affine, else 4), instance_norm (5 / 4), "
        "adaptive_avg_pool2d (1 per input element), upsample_nearest2d (1 per output "
        "element) and upsample_bilinear2d (4). Ops in its ignore list (relu, dropout, "
        "flatten, view, cat ...) count 0 silently; every other op (add, mul, max_pool2d, "
        "sigmoid, hardtanh for ReLU6, and aten::_convolution_mode for a convolution with "
        "padding='same'/'valid'; BatchNorm's num_batches_tracked.add_ in training mode) "
        "counts 0 and is reported in unsupported_ops(). "
        "fvcore cannot trace on meta, so it runs on a zero-filled CPU copy, only when the "
        "predicted memory (params + activations + input) fits a budget.")

    def measure(self, model, input_shape, dtype="float32", *, graph=None) -> Measurement:
        import torch

        from paramscope.sandbox import quiet_import
        from paramscope.tracing.forward import model_inputs
        from paramscope.tracing.input_spec import as_input_set

        inputs = as_input_set(input_shape)
        named = [s.name for s in inputs.specs if s.name] + ([inputs.note or "extra"] if inputs.extra else [])
        if named:  # decided before any real tensor exists
            return Measurement(self.name, "skipped", note=(
                "fvcore traces with torch.jit and takes positional tensors only; this input set "
                f"has keyword inputs ({', '.join(named)})"))
        graph, real = self.real_run(model, input_shape, dtype, graph)
        if isinstance(real, Measurement):  # over the memory budget
            return real
        FlopCountAnalysis = quiet_import("fvcore.nn").FlopCountAnalysis
        args, _ = model_inputs(input_shape, dtype, device="cpu")
        analysis = (FlopCountAnalysis(real, tuple(args)).unsupported_ops_warnings(False)
                    .uncalled_modules_warnings(False).tracer_warnings("none"))
        with torch.no_grad():
            counts = analysis.by_module_and_operator()
        own = exclusive({n: Counter(c) for n, c in counts.items()})
        bad = exclusive({n: Counter(analysis.unsupported_ops(n)) for n in counts})
        layers = {n: LayerCount(int(sum(c.values())), unsupported=dict(bad.get(n, {})))
                  for n, c in own.items() if c or bad.get(n) or n in graph.modules}
        return Measurement(self.name, "ok", layers, int(analysis.total()),
                           unsupported=dict(analysis.unsupported_ops()))

    def count(self, node: LayerNode, cost, graph: Graph) -> NodeCount:
        """The kind's declared fvcore rule (:func:`paramscope.formulas.registry.counted`)."""
        from paramscope.formulas.registry import rules_for  # (formulas import the measurers' rules)

        if node.hparams.get("composite"):  # a module with no formula: the ops it called are their own rows
            return NodeCount(0)
        rule = rules_for(node).fvcore
        if callable(rule):
            return rule(node, cost, graph)
        if rule == "macs":
            return NodeCount(cost.macs)
        if rule == "ignored":
            return _ignored(node, cost)
        if cost.status == "unsupported":  # no formula: what fvcore sees here is unknown
            return NodeCount(None)
        return NodeCount(0, {f"{node.kind} (not counted by fvcore)": -cost.macs} if cost.macs else {})


# The fvcore rules kinds declare (``counted(..., fvcore=...)`` in the formula families).

def _ignored(node: LayerNode, cost) -> NodeCount:
    """An op in fvcore's ignore list: 0, without a report."""
    macs = cost.macs or 0
    return NodeCount(0, {f"{node.kind} (ignored by fvcore)": -macs} if macs else {})


def _no_handle(op: str, macs: int) -> NodeCount:
    """fvcore has no handle for ``op``: it counts 0 and reports the op."""
    lost = {f"unsupported {op}": -macs} if macs else {}
    blind = f"fvcore has no handle for {op}: {macs:,} MACs not counted" if macs else ""
    return NodeCount(0, lost, {op: 1}, blind)


def _handled(node: LayerNode, value: int, cost, unsupported=None) -> NodeCount:
    """A non-MAC op fvcore has a handle for, counting ``value``."""
    macs = cost.macs or 0
    return NodeCount(value, {node.kind: value - macs} if value != macs else {}, unsupported or {})


def unsupported(op, *, indices: bool = False):
    """Rule: fvcore has no handle for ``aten::<op>`` (``op`` may be a function of the node):
    it counts 0 and reports the op, ``_`` appended for an in-place call and, with
    ``indices``, ``_with_indices`` for a call returning them."""
    def rule(node: LayerNode, cost, graph: Graph) -> NodeCount:
        h = node.hparams
        base = op(node) if callable(op) else op
        if indices and h.get("return_indices"):
            base += "_with_indices"
        return _no_handle(f"aten::{base}{'_' if h.get('inplace') else ''}", cost.macs or 0)
    return rule


def convolution(node: LayerNode, cost, graph: Graph) -> NodeCount:
    """aten::_convolution counts the MACs; ``padding='same'/'valid'`` traces as
    aten::_convolution_mode, which fvcore has no handle for."""
    padding = node.hparams.get("padding")
    if isinstance(padding, str):
        op = "aten::_convolution_mode"
        return NodeCount(0, {f"unsupported {op}": -(cost.macs or 0)}, {op: 1}, (
            f"fvcore has no handle for {op} (padding={padding!r}): the convolution counts 0"))
    return NodeCount(cost.macs)


def dropout(node: LayerNode, cost, graph: Graph) -> NodeCount:
    """nn.Dropout is in fvcore's ignore list, except in place (aten::dropout_: no handle)."""
    if node.hparams.get("inplace"):
        return _no_handle("aten::dropout_", cost.macs or 0)
    return _ignored(node, cost)


def batch_norm(node: LayerNode, cost, graph: Graph) -> NodeCount:
    """batch_norm's handle: eval 2 per input element with affine, 1 without; training (or
    no running statistics) 5 / 4.  In training ``num_batches_tracked.add_(1)`` runs an
    aten::add_, reported unsupported."""
    h, x = node.hparams, prod(node.in_shape)
    affine = h.get("affine", True)
    if node.training or not h.get("track_running_stats", True):
        value = x * (5 if affine else 4)
    else:
        value = x * (2 if affine else 1)
    counts_batches = node.training and "num_batches_tracked" in node.buffers
    return _handled(node, value, cost, {"aten::add_": 1} if counts_batches else {})


def norm(affine_arg: str, affine_default: bool = True):
    """Rule: group_norm / layer_norm / instance_norm's handle, 5 per input element when the
    hyper-parameter ``affine_arg`` is on, else 4."""
    def rule(node: LayerNode, cost, graph: Graph) -> NodeCount:
        affine = node.hparams.get(affine_arg, affine_default)
        return _handled(node, prod(node.in_shape) * (5 if affine else 4), cost)
    return rule


def adaptive_avg_pool2d(node: LayerNode, cost, graph: Graph) -> NodeCount:
    """adaptive_avg_pool2d's handle: 1 per input element."""
    return _handled(node, prod(node.in_shape), cost)


def upsample(mode: str | None = None):
    """Rule: upsample_nearest2d (1 per output element) and upsample_bilinear2d (4) have
    handles; any other mode or rank is an unsupported aten::upsample_<mode><n>d.  ``mode``
    fixes the mode (UpsamplingBilinear2d), else the node's own."""
    def rule(node: LayerNode, cost, graph: Graph) -> NodeCount:
        m = mode or node.hparams.get("mode", "nearest")
        scale = {"nearest": 1, "bilinear": 4}.get(m)
        if scale is not None and len(node.out_shape) == 4:
            return _handled(node, scale * prod(node.out_shape), cost)
        return _no_handle(f"aten::upsample_{m}{len(node.out_shape) - 2}d", cost.macs or 0)
    return rule


def matmul(node: LayerNode, cost, graph: Graph) -> NodeCount:
    """matmul_flop_jit / bmm_flop_jit: prod(a) × b[-1]."""
    a, b = node.in_shapes[:2]
    value, macs = prod(a) * b[-1], cost.macs or 0
    return NodeCount(value, {"matmul: fvcore counts prod(a) × b[-1]": value - macs} if value != macs else {})


def einsum(node: LayerNode, cost, graph: Graph) -> NodeCount:
    """einsum_flop_jit (:func:`fvcore_einsum`)."""
    value, macs = fvcore_einsum(node.hparams["equation"], node.hparams["shapes"]), cost.macs or 0
    return NodeCount(value, {"einsum: fvcore's rule": value - macs} if value != macs else {})


def attention(node: LayerNode, cost, graph: Graph) -> NodeCount:
    """nn.MultiheadAttention on fvcore's CPU run: torch's fast path (:func:`mha_fast_path`)
    is one aten::_native_multi_head_attention, which fvcore cannot count; with need_weights
    (torch's default) the scores are aten::bmm (counted) or, with a mask, aten::baddbmm (not
    counted) and the weighted values aten::bmm; otherwise fvcore counts the four projections
    (aten::linear) and reports aten::scaled_dot_product_attention."""
    h, macs = node.hparams, cost.macs or 0
    (L, N, E), (S, _, kdim), (_, _, vdim) = h["q_shape"], h["k_shape"], h["v_shape"]
    if mha_fast_path(node):
        op = "aten::_native_multi_head_attention"
        return NodeCount(0, {f"unsupported {op}": -macs}, {op: 1},
                         f"fvcore has no handle for {op} (torch's CPU fast path): "
                         f"{macs:,} MACs not counted")
    if h.get("need_weights", True):
        if not h.get("masked"):
            return NodeCount(macs)
        scores = N * L * (S + int(h.get("bias_k", False)) + int(h.get("add_zero_attn", False))) * E
        op = "aten::baddbmm"
        return NodeCount(macs - scores, {f"unsupported {op}": -scores}, {op: 1},
                         f"fvcore has no handle for {op} (masked Q·Kᵀ): {scores:,} MACs not counted")
    value = L * N * E * E + S * N * kdim * E + S * N * vdim * E + L * N * E * E
    op = "aten::scaled_dot_product_attention"
    return NodeCount(value, {f"unsupported {op}": value - macs}, {op: 1},
                     f"fvcore has no handle for {op}: only the projections are counted")


def function_call(node: LayerNode, cost, graph: Graph) -> NodeCount:
    """A function call costed from its aten ops: fvcore sees ``aten::<name>`` and counts
    it when it has a handle (addmm, mm, bmm, matmul), else 0 (reported unsupported)."""
    name = node.hparams["callable"].rpartition(".")[2]
    shapes, macs = node.in_shapes, cost.macs or 0
    if name == "addmm" and len(shapes) >= 3:
        value = prod(shapes[1]) * shapes[2][-1]
    elif name in ("mm", "bmm", "matmul") and len(shapes) >= 2:
        value = prod(shapes[0]) * shapes[1][-1]
    else:
        op = f"aten::{name}"
        lost = {f"unsupported {op}": -macs} if macs else {}
        blind = f"fvcore has no handle for {op}: {macs:,} MACs not counted" if macs else ""
        return NodeCount(0, lost, {op: 1} if name not in IGNORED_FUNCTIONS else {}, blind)
    return NodeCount(value, {f"{node.kind}: fvcore's rule": value - macs} if value != macs else {})
