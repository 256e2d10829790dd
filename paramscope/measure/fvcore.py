"""fvcore 0.1.5: ``FlopCountAnalysis`` on a real CPU copy, and its handles predicted from a Graph."""

from __future__ import annotations

import os
from collections import Counter
from math import prod

from paramscope.graph import Graph, LayerNode
from paramscope.measure.base import (CONV_KINDS, LayerCount, Measurement, Measurer, NodeCount,
                                     exclusive)

#: default limit on the real memory fvcore may use (params + activations + input), bytes.
DEFAULT_BUDGET = 2_000_000_000
BUDGET_ENV = "PARAMSCOPE_FVCORE_BUDGET"

#: kinds whose jit op fvcore has no handle for (reported by ``unsupported_ops()``);
#: ``_`` is appended for in-place calls.
UNSUPPORTED_OPS: dict[str, str] = {
    "ReLU6": "hardtanh", "Hardtanh": "hardtanh", "Sigmoid": "sigmoid", "Tanh": "tanh",
    "SiLU": "silu", "GELU": "gelu", "Hardswish": "hardswish", "Hardsigmoid": "hardsigmoid",
    "LeakyReLU": "leaky_relu", "ELU": "elu", "CELU": "celu", "SELU": "selu", "Mish": "mish",
    "Softplus": "softplus", "PReLU": "prelu", "Softmax": "softmax", "LogSoftmax": "log_softmax",
    "Embedding": "embedding", "add": "add", "mul": "mul",
    "LSTM": "lstm", "GRU": "gru", "RMSNorm": "rms_norm",
    "scaled_dot_product_attention": "scaled_dot_product_attention",
    **{f"Dropout{n}d": "feature_dropout" for n in (1, 2, 3)},
    **{f"MaxPool{n}d": f"max_pool{n}d" for n in (1, 2, 3)},
    **{f"AvgPool{n}d": f"avg_pool{n}d" for n in (1, 2, 3)},
    **{f"AdaptiveMaxPool{n}d": f"adaptive_max_pool{n}d" for n in (1, 2, 3)},
    "AdaptiveAvgPool1d": "adaptive_avg_pool1d", "AdaptiveAvgPool3d": "adaptive_avg_pool3d",
}
#: kinds whose ops fvcore ignores by definition (``_IGNORED_OPS``) or that run no op.
IGNORED_KINDS = frozenset({"ReLU", "Dropout", "Flatten", "Unflatten", "Identity"})
#: upsampling kinds -> their fixed mode (None: the node's own ``mode``)
UPSAMPLE_MODES = {"Upsample": None, "UpsamplingNearest2d": "nearest", "UpsamplingBilinear2d": "bilinear"}
RECURRENT_CELLS = frozenset({"LSTMCell", "GRUCell", "RNNCell"})
#: function names fvcore's _IGNORED_OPS lists (counted 0 without a report).
IGNORED_FUNCTIONS = frozenset({"relu", "relu_", "dropout", "dropout_", "flatten", "view", "reshape",
                               "t", "transpose", "permute", "cat", "stack", "expand", "contiguous"})
NORM_AFFINE_ARG = {"GroupNorm": "affine", "LayerNorm": "elementwise_affine",
                   **{f"InstanceNorm{n}d": "affine" for n in (1, 2, 3)}}
BATCH_NORMS = frozenset({"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm"})


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


class FvcoreMeasurer(Measurer):
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

    def __init__(self, budget_bytes: int | None = None) -> None:
        if budget_bytes is None:
            from paramscope.tracing.inputs import parse_bytes

            raw = os.environ.get(BUDGET_ENV)
            budget_bytes = DEFAULT_BUDGET if raw is None else parse_bytes(raw, BUDGET_ENV)
        self.budget_bytes = budget_bytes

    @staticmethod
    def estimate_bytes(graph: Graph) -> int:
        """Real memory fvcore needs: params + every recorded output + the input."""
        from paramscope.graph import dtype_bytes

        params = sum(p.numel * dtype_bytes(p.dtype) for n in graph.nodes if n.counts_params
                     for p in n.params.values())
        params += sum(p.numel * dtype_bytes(p.dtype) for infos in graph.unowned_params().values()
                      for p in infos.values())
        acts = sum(prod(n.out_shape) * dtype_bytes(n.dtype) for n in graph.nodes)
        inputs = graph.input_shape
        return params + acts + (inputs.nbytes(graph.dtype) if hasattr(inputs, "nbytes")
                                else prod(inputs) * dtype_bytes(graph.dtype))

    def measure(self, model, input_shape, dtype="float32", *, graph=None) -> Measurement:
        import torch

        from paramscope.building.materialize import materialize
        from paramscope.tracing.forward import model_inputs
        from paramscope.tracing.trace import trace

        graph = graph if graph is not None else trace(model, input_shape, dtype)
        need = self.estimate_bytes(graph)
        if need > self.budget_bytes:
            return Measurement(self.name, "skipped", note=(
                f"fvcore needs real CPU tensors: predicted {need / 1e9:.2f} GB (params + "
                f"activations + input) exceeds the budget of {self.budget_bytes / 1e9:.2f} GB; "
                f"force it with --fvcore-budget {max(1, int(need / 1e9 + 1))}GB, {BUDGET_ENV}, "
                f"or FvcoreMeasurer(budget_bytes=...) / analyze(..., fvcore_budget=...)"))
        from paramscope.sandbox import quiet_import

        FlopCountAnalysis = quiet_import("fvcore.nn").FlopCountAnalysis

        args, kwargs = model_inputs(input_shape, dtype, device="cpu")
        if kwargs:
            return Measurement(self.name, "skipped", note=(
                "fvcore traces with torch.jit and takes positional tensors only; this input set "
                f"has keyword inputs ({', '.join(kwargs)})"))
        real = materialize(model, "cpu")
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
        kind, h, macs = node.kind, node.hparams, cost.macs or 0
        if h.get("composite"):  # a module with no formula: the ops it called are their own rows
            return NodeCount(0)
        if kind in CONV_KINDS:
            if isinstance(h.get("padding"), str):
                op = "aten::_convolution_mode"
                return NodeCount(0, {f"unsupported {op}": -macs}, {op: 1}, (
                    f"fvcore has no handle for {op} (padding={h['padding']!r}): "
                    f"the convolution counts 0"))
            return NodeCount(cost.macs)
        if kind == "Linear" or kind in RECURRENT_CELLS:  # cells are traced as aten::linear
            return NodeCount(cost.macs)
        if "callable" in h:
            return self._function(node, macs)
        if kind == "MultiheadAttention":
            return self._attention(node, macs)
        if kind == "einsum":
            value = fvcore_einsum(h["equation"], h["shapes"])
            return NodeCount(value, {"einsum: fvcore's rule": value - macs} if value != macs else {})
        if kind == "matmul":
            a, b = node.in_shapes[:2]
            value = prod(a) * b[-1]  # matmul_flop_jit / bmm_flop_jit
            diff = {"matmul: fvcore counts prod(a) × b[-1]": value - macs} if value != macs else {}
            return NodeCount(value, diff)
        handled = self._handled(node)
        if handled is not None:
            bad = {"aten::add_": 1} if self._counts_batches(node) else {}
            return NodeCount(handled, {kind: handled - macs} if handled != macs else {}, bad)
        op = self._unsupported_op(node)
        if op is not None:
            lost = {f"unsupported {op}": -macs} if macs else {}
            blind = f"fvcore has no handle for {op}: {macs:,} MACs not counted" if macs else ""
            return NodeCount(0, lost, {op: 1}, blind)
        if kind in IGNORED_KINDS:
            return NodeCount(0, {f"{kind} (ignored by fvcore)": -macs} if macs else {})
        if cost.status == "zero":  # no arithmetic by definition (StochasticDepth, Permute ...)
            return NodeCount(0)
        return NodeCount(None)

    @staticmethod
    def _attention(node: LayerNode, macs: int) -> NodeCount:
        """nn.MultiheadAttention on fvcore's CPU run: torch's fast path (eval, batch_first,
        self-attention, packed biases, even heads) is one aten::_native_multi_head_attention,
        which fvcore cannot count; otherwise it counts the four projections (aten::linear)
        and reports aten::scaled_dot_product_attention."""
        h = node.hparams
        (L, N, E), (S, _, kdim), (_, _, vdim) = h["q_shape"], h["k_shape"], h["v_shape"]
        fast = (not node.training and h.get("batch_first") and h.get("self_attention")
                and h.get("in_proj_bias") and not h.get("bias_k") and not h.get("add_zero_attn")
                and h["num_heads"] % 2 == 0 and kdim == vdim == E)
        if fast:
            op = "aten::_native_multi_head_attention"
            return NodeCount(0, {f"unsupported {op}": -macs}, {op: 1},
                             f"fvcore has no handle for {op} (torch's CPU fast path): "
                             f"{macs:,} MACs not counted")
        value = L * N * E * E + S * N * kdim * E + S * N * vdim * E + L * N * E * E
        op = "aten::scaled_dot_product_attention"
        return NodeCount(value, {f"unsupported {op}": value - macs}, {op: 1},
                         f"fvcore has no handle for {op}: only the projections are counted")

    @staticmethod
    def _function(node: LayerNode, macs: int) -> NodeCount:
        """A function call costed from its aten ops: fvcore sees ``aten::<name>`` and counts
        it when it has a handle (addmm, mm, bmm, matmul), else 0 (reported unsupported)."""
        name = node.hparams["callable"].rpartition(".")[2]
        shapes = node.in_shapes
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

    @staticmethod
    def _handled(node: LayerNode) -> int | None:
        """The count of a non-MAC op fvcore has a handle for, else None."""
        kind, h, x = node.kind, node.hparams, prod(node.in_shape)
        if kind in BATCH_NORMS:
            affine = h.get("affine", True)
            if node.training or not h.get("track_running_stats", True):
                return x * (5 if affine else 4)
            return x * (2 if affine else 1)
        if kind in NORM_AFFINE_ARG:
            affine = h.get(NORM_AFFINE_ARG[kind], not kind.startswith("InstanceNorm"))
            return x * (5 if affine else 4)
        if kind == "AdaptiveAvgPool2d":
            return x
        if kind in UPSAMPLE_MODES and len(node.out_shape) == 4:
            scale = {"nearest": 1, "bilinear": 4}.get(UPSAMPLE_MODES[kind] or h.get("mode", "nearest"))
            return None if scale is None else scale * prod(node.out_shape)
        return None

    @staticmethod
    def _counts_batches(node: LayerNode) -> bool:
        """BatchNorm in training mode runs ``num_batches_tracked.add_(1)``: an aten::add_."""
        return (node.kind in BATCH_NORMS and node.training
                and "num_batches_tracked" in node.buffers)

    @staticmethod
    def _unsupported_op(node: LayerNode) -> str | None:
        """The jit op fvcore will report unsupported for this node, if any."""
        kind, h = node.kind, node.hparams
        if kind in UPSAMPLE_MODES:
            mode = UPSAMPLE_MODES[kind] or h.get("mode", "nearest")
            return f"aten::upsample_{mode}{len(node.out_shape) - 2}d"
        if kind == "Dropout" and h.get("inplace"):
            return "aten::dropout_"
        base = UNSUPPORTED_OPS.get(kind)
        if kind == "RNN":
            base = f"rnn_{h.get('nonlinearity', 'tanh')}"
        if base is None:
            return None
        if kind.startswith("MaxPool") and h.get("return_indices"):
            base += "_with_indices"
        return f"aten::{base}{'_' if h.get('inplace') else ''}"
