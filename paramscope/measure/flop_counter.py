"""torch.utils.flop_counter.FlopCounterMode on the meta device, and its registry predicted."""

from __future__ import annotations

from collections import Counter

from paramscope.graph import Graph, LayerNode
from paramscope.measure.base import MAC_KINDS, LayerCount, Measurement, Measurer, NodeCount, exclusive


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

    def count(self, node: LayerNode, cost, graph: Graph) -> NodeCount:
        if node.aten:  # a function call: FlopCounterMode counts the registry ops it ran
            from paramscope.formulas.aten import flop_counter_macs

            value = 2 * flop_counter_macs(node.aten)
        elif cost.macs is None:
            return NodeCount(None)
        elif node.kind in MAC_KINDS:
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


#: kinds whose CPU kernels FlopCounterMode's registry does not cover (so a CPU run counts
#: them differently from this meta-device run), and what it counts there.
CPU_PATH_DIFFERS = {
    "scaled_dot_product_attention": "0 (aten._scaled_dot_product_flash_attention_for_cpu)",
    "MultiheadAttention": "0 in eval without grad (torch's fused aten._native_multi_head_attention)",
    "LSTM": "0 (the fused oneDNN kernel)",
}


def device_note(graph: Graph | None) -> str:
    """Which device path was measured, and where a CPU run would count otherwise."""
    note = "measured on the meta device"
    kinds = sorted({n.kind for n in graph.nodes if n.kind in CPU_PATH_DIFFERS}) if graph else []
    if kinds:
        note += ("; on the CPU FlopCounterMode counts "
                 + "; ".join(f"{k} as {CPU_PATH_DIFFERS[k]}" for k in kinds)
                 + ", so a CPU run reports less than this figure")
    return note
