"""torch.utils.flop_counter.FlopCounterMode on the meta device (``flop_counter``) and on a
real CPU copy (``flop_counter_cpu``), and its registry predicted for both device paths."""

from __future__ import annotations

from collections import Counter

from paramscope.graph import Graph, LayerNode
from paramscope.measure.base import LayerCount, Measurement, Measurer, NodeCount, RealRun, exclusive


class FlopCounterMeasurer(Measurer):
    """torch's ``FlopCounterMode``: a dispatch mode with a registry of matmul-like ops."""

    name = "flop_counter"
    metric = "flops (2 per MAC)"
    baseline = "flops"
    device = "meta"
    convention = (
        "FlopCounterMode counts only the aten ops in its registry, 2 FLOPs per "
        "multiply-accumulate: convolution (2 × N × prod(out spatial) × C_out × C_in/groups "
        "× prod(kernel); transposed: input spatial), mm / addmm / bmm / baddbmm (2 × m × n × "
        "k; the bias of addmm is not counted) and scaled-dot-product attention. Everything "
        "else -- bias adds, BatchNorm and other norms, activations, pools, residual adds, "
        "multiplies -- counts 0 without being reported; it has no notion of unsupported ops. "
        "Counts are per module, including submodules (a shared module's calls are summed "
        "under one name). Runs on the meta device.")

    def measure(self, model, input_shape, dtype="float32", *, graph=None) -> Measurement:
        """FlopCounterMode over one forward pass of a meta clone (see :func:`device_note`)."""
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        from paramscope.tracing.forward import call_model
        from paramscope.tracing.trace import meta_model

        work = meta_model(model)
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            call_model(work, input_shape, dtype)
        return self.collect(counter, work, graph)

    def collect(self, counter, work, graph=None) -> Measurement:
        """Per-module own counts (by qualified name) and the total of a finished count."""
        mine = _names_by_tool_name(counter, work)
        inclusive: dict[str, Counter] = {}
        for tool_name, ops in counter.get_flop_counts().items():
            if tool_name != "Global":
                name = mine.get(tool_name, tool_name.partition(".")[2])
                inclusive[name] = Counter({str(op): int(v) for op, v in ops.items()})
        own = exclusive(inclusive)
        layers = {n: LayerCount(sum(c.values())) for n, c in own.items()}
        total = int(counter.get_total_flops())
        outside = total - sum(inclusive.get("", Counter()).values())
        if outside:  # ops outside the root's forward (none for a plain model call)
            layers[""] = LayerCount(layers.get("", LayerCount(0)).value + outside)
        return Measurement(self.name, "ok", layers, total, note=device_note(graph))

    def annotate(self, measurement: Measurement, others) -> None:
        """The CPU run's figure in the meta run's note, when both ran."""
        cpu = others.get(CpuFlopCounterMeasurer.name)
        if self.device == "meta" and measurement.status == "ok" and cpu is not None and cpu.status == "ok":
            measurement.note += f"; the CPU run (flop_counter_cpu) measured {cpu.total:,} FLOPs"

    def count(self, node: LayerNode, cost, graph: Graph) -> NodeCount:
        from paramscope.formulas.registry import rules_for  # (formulas import the measurers' rules)

        if node.aten:  # a function call: FlopCounterMode counts the registry ops it ran
            from paramscope.formulas.aten import flop_counter_macs

            value = 2 * flop_counter_macs(node.aten)
        elif cost.macs is None:
            return NodeCount(None)
        elif rules_for(node).flop_counter == "macs":
            value = 2 * cost.macs
        elif cost.macs:
            return NodeCount(None)  # MACs in a kind this registry mapping does not know
        else:
            value = 0
        if cost.flops is None:
            return NodeCount(value)
        extra = cost.flops - value
        if not extra:
            return NodeCount(value)
        if value and node.hparams.get("bias"):
            label = "bias terms"
        elif value:
            label = f"{node.kind} non-MAC FLOPs"
        else:
            label = node.kind
        return NodeCount(value, {f"{label} (not counted)": -extra})


def _names_by_tool_name(counter, root) -> dict[str, str]:
    """FlopCounterMode's module names ("ResNet.layer1.0") -> qualified names, by identity."""
    first: dict[int, str] = {}
    for name, module in root.named_modules():
        first.setdefault(id(module), name)
    known = getattr(counter.mod_tracker, "_known_modules", {})
    return {tool_name: first[id(m)] for m, tool_name in list(known.items()) if id(m) in first}


# Where a real CPU run takes kernels FlopCounterMode's registry does not list (``counted(...,
# flop_counter_cpu=...)`` in the formula families): ``(node, cost) -> (MACs not counted, kernel)``.

SDPA_CPU = "aten._scaled_dot_product_flash_attention_for_cpu"


def _sdpa_flash(q, k, v, dropout_p: float) -> bool:
    """Whether torch's CPU flash kernel runs scaled-dot-product attention on these shapes:
    4-D q / k / v, one batch size, grouped or equal heads, one head size, no dropout and no
    empty dimension (a last dimension that is not contiguous also falls back: not recorded)."""
    return (len(q) == len(k) == len(v) == 4 and q[0] == k[0] == v[0] and k[1] == v[1]
            and q[1] % k[1] == 0 and q[-1] == k[-1] == v[-1] and not dropout_p
            and 0 not in (*q, *k, *v))


def sdpa_on_cpu(node: LayerNode, cost) -> tuple[int, str]:
    """F.scaled_dot_product_attention: the CPU flash kernel counts 0 (the meta device runs
    the math path: bmm, counted)."""
    h = node.hparams
    if _sdpa_flash(h["q_shape"], h["k_shape"], h["v_shape"], h.get("dropout_p", 0)):
        return cost.macs or 0, SDPA_CPU
    return 0, ""


def attention_on_cpu(node: LayerNode, cost) -> tuple[int, str]:
    """nn.MultiheadAttention: torch's fast path (:func:`mha_fast_path`) counts 0; otherwise,
    without need_weights, Q·Kᵀ and softmax·V run as scaled-dot-product attention on the
    flash kernel (0) and only the projections are counted; with need_weights (bmm) or
    training-time dropout all of it is."""
    from paramscope.measure.base import mha_fast_path

    h = node.hparams
    if mha_fast_path(node):
        return cost.macs or 0, "aten._native_multi_head_attention (torch's fast path)"
    if h.get("need_weights", True) or (node.training and h.get("dropout_p")):
        return 0, ""
    term = {t.quantity: t.value for t in cost.terms}
    return term["macs (Q·Kᵀ)"] + term["macs (softmax·V)"], SDPA_CPU


def lstm_on_cpu(node: LayerNode, cost) -> tuple[int, str]:
    """nn.LSTM without projections runs oneDNN's fused kernel (aten.mkldnn_rnn_layer, 0)
    in float32, and in bfloat16 / float16 where this CPU supports them in oneDNN."""
    import torch

    if node.hparams.get("proj_size") or not torch.backends.mkldnn.is_available() \
            or not torch.backends.mkldnn.enabled or 0 in node.in_shape:
        return 0, ""
    dtype = node.dtype or "float32"
    onednn = (dtype == "float32"
              or (dtype == "bfloat16" and torch.ops.mkldnn._is_mkldnn_bf16_supported())
              or (dtype == "float16" and torch.ops.mkldnn._is_mkldnn_fp16_supported()))
    return (cost.macs or 0, "aten.mkldnn_rnn_layer (oneDNN)") if onednn else (0, "")


def cpu_differences(graph: Graph) -> list[tuple[LayerNode, int, str]]:
    """``(node, FLOPs a CPU run does not count, kernel)`` for every node whose CPU path
    FlopCounterMode counts otherwise than the meta one."""
    from paramscope.formulas import cost_of
    from paramscope.formulas.registry import rules_for

    out = []
    for node in graph.nodes:
        rule = rules_for(node).flop_counter_cpu
        if rule is not None:
            macs, kernel = rule(node, cost_of(node))
            if macs:
                out.append((node, 2 * macs, kernel))
    return out


def device_note(graph: Graph | None) -> str:
    """Which device path was measured, and by how much a CPU run counts less (and why)."""
    note = "measured on the meta device"
    differs = cpu_differences(graph) if graph is not None else []
    if differs:
        kinds = ", ".join(sorted({n.kind for n, _, _ in differs}))
        kernels = ", ".join(sorted({k for _, _, k in differs}))
        note += (f"; on the CPU torch runs {kinds} on kernels FlopCounterMode does not count "
                 f"({kernels}): a CPU run (--measure flop_counter_cpu) counts "
                 f"{sum(f for _, f, _ in differs):,} FLOPs less")
    return note


class CpuFlopCounterMeasurer(RealRun, FlopCounterMeasurer):
    """FlopCounterMode over one forward pass of a real CPU copy (within the memory budget)."""

    name = "flop_counter_cpu"
    device = "cpu"
    convention = FlopCounterMeasurer.convention.replace(
        "Runs on the meta device.",
        "Runs on a real CPU copy of the model (zero weights, inputs uniform [0, 1), no grad, "
        "the model's own mode), within the fvcore memory budget. There torch takes kernels "
        "the registry does not list, counted 0: F.scaled_dot_product_attention on 4-D "
        "inputs (aten._scaled_dot_product_flash_attention_for_cpu), nn.MultiheadAttention's "
        "fast path in eval (aten._native_multi_head_attention; off the fast path without "
        "need_weights its attention runs on that flash kernel, the projections are counted) "
        "and nn.LSTM without projections (oneDNN).")

    def measure(self, model, input_shape, dtype="float32", *, graph=None) -> Measurement:
        """FlopCounterMode over the CPU run; the note gives the meta figure beside it."""
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        from paramscope.tracing.forward import call_model

        graph, real = self.real_run(model, input_shape, dtype, graph)
        if isinstance(real, Measurement):  # over the memory budget
            return real
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            call_model(real, input_shape, dtype, device="cpu", fill="random")
        result = self.collect(counter, real)
        meta = FlopCounterMeasurer().measure(model, input_shape, dtype, graph=graph).total
        result.note = f"measured on the CPU: {result.total:,} FLOPs (on the meta device: {meta:,})"
        return result

    def count(self, node: LayerNode, cost, graph: Graph) -> NodeCount:
        """The meta count, less what the kind's CPU kernel does not count (named)."""
        from paramscope.formulas.registry import rules_for

        meta = super().count(node, cost, graph)
        rule = rules_for(node).flop_counter_cpu
        if meta.value is None or rule is None:
            return meta
        macs, kernel = rule(node, cost)
        if not macs or any(kernel.startswith(f"aten.{call.op}") for call in node.aten):
            return meta  # nothing to take off, or traced on the CPU: its aten ops are the CPU kernel's
        diffs = dict(meta.differences)
        label = f"{node.kind} on the CPU: {kernel} (not counted)"
        diffs[label] = diffs.get(label, 0) - 2 * macs
        return NodeCount(meta.value - 2 * macs, diffs, meta.unsupported, meta.blind_spot)
