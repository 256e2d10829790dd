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
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        from paramscope.forward import call_model
        from paramscope.trace import meta_model

        work = meta_model(model)
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            call_model(work, input_shape, dtype)
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
        return Measurement(self.name, "ok", layers, total)

    def count(self, node: LayerNode, cost, graph: Graph) -> NodeCount:
        if cost.flops is None:
            return NodeCount(None)
        if node.kind in MAC_KINDS:
            value = 2 * cost.macs
            extra = cost.flops - value
            label = "bias terms" if node.hparams.get("bias") else f"{node.kind} non-MAC FLOPs"
            return NodeCount(value, {f"{label} (not counted)": -extra} if extra else {})
        if cost.macs:
            return NodeCount(None)  # MACs in a kind this registry mapping does not know
        return NodeCount(0, {f"{node.kind} (not counted)": -cost.flops} if cost.flops else {})


def _names_by_tool_name(counter, root) -> dict[str, str]:
    """FlopCounterMode's module names ("ResNet.layer1.0") -> qualified names, by identity."""
    first: dict[int, str] = {}
    for name, module in root.named_modules():
        first.setdefault(id(module), name)
    known = getattr(counter.mod_tracker, "_known_modules", {})
    return {tool_name: first[id(m)] for m, tool_name in list(known.items()) if id(m) in first}
