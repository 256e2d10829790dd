"""FlopCounterMode over forward + backward on the meta device, and its count predicted.

The prediction is paramscope's forward FLOPs plus its backward FLOPs
(:func:`~paramscope.formulas.backward.backward_of`), minus what FlopCounterMode does not
count (every non-matmul op, bias gradients), plus what it counts differently: the
weight gradient of a grouped convolution, which its formula counts with all C_in input
channels instead of C_in/groups (× groups).
"""

from __future__ import annotations

from paramscope.formulas.backward import backward_of
from paramscope.formulas.conv import CONV_KINDS, TRANSPOSED_KINDS
from paramscope.formulas.registry import rules_for
from paramscope.graph import Graph, LayerNode
from paramscope.measure.base import LayerCount, Measurement, NodeCount
from paramscope.measure.flop_counter import FlopCounterMeasurer

BACKWARD = "backward pass (paramscope backward FLOPs)"


class TrainFlopCounterMeasurer(FlopCounterMeasurer):
    """FlopCounterMode counting one forward and one backward pass."""

    metric = "flops fwd+bwd (2 per MAC)"
    convention = FlopCounterMeasurer.convention + (
        " Training mode: the counter runs the forward and then the backward pass from the "
        "output (autograd computes only the gradients that something requires); backward "
        "matmuls and convolution_backward are counted, a grouped convolution's grad_weight as "
        "groups × its multiply-accumulates (the formula uses all input channels).")

    def measure(self, model, input_shape, dtype="float32", *, graph=None) -> Measurement:
        """FlopCounterMode's own counts; the backward ones attributed per module by autograd
        node (see :func:`_backward_counter`), its forward ones as inference does."""
        import torch

        from paramscope.tracing.trace import first_tensor, example_input, meta_model

        work = meta_model(model)
        x = example_input(input_shape, dtype)
        counter, own = _backward_counter(work)
        with torch.enable_grad(), counter:
            out = first_tensor(work(x))
            if out is not None and out.requires_grad:
                torch.autograd.backward(out, torch.empty_like(out))
        forward = self.collect(counter, work)
        layers = dict(forward.layers)
        # collect() files what the root's forward did not count under the root ("" ):
        # here that is the backward, attributed below instead
        root = layers.get("", LayerCount(0)).value - sum(own.values())
        layers[""] = LayerCount(root)
        for name, value in own.items():
            layers[name] = LayerCount(layers.get(name, LayerCount(0)).value + value)
        return Measurement(self.name, "ok", layers, forward.total)

    def count(self, node: LayerNode, cost, graph: Graph) -> NodeCount:
        fwd = super().count(node, cost, graph)
        back = backward_of(node)
        if fwd.value is None or back.flops is None:
            return NodeCount(None)
        diffs = dict(fwd.differences)
        if back.flops:
            diffs[BACKWARD] = back.flops
        if rules_for(node).flop_counter == "macs":
            value = 2 * back.macs
            if back.flops - value:
                diffs["backward non-MAC FLOPs (not counted)"] = -(back.flops - value)
            groups = node.hparams.get("groups", 1) if node.kind in CONV_KINDS + TRANSPOSED_KINDS else 1
            if groups != 1 and back.grad_weight_macs:
                extra = 2 * back.grad_weight_macs * (groups - 1)
                diffs["grouped conv grad_weight (counted × groups)"] = extra
                value += extra
        elif back.macs:
            return NodeCount(None)
        else:
            value = 0
            if back.flops:
                diffs[f"backward {node.kind} (not counted)"] = -back.flops
        return NodeCount(fwd.value + value, {k: v for k, v in diffs.items() if v})


def _backward_counter(root):
    """A FlopCounterMode whose backward counts go to the module that created the autograd
    node running them (``own``: module name -> FLOPs), and into its total.

    FlopCounterMode's own per-module backward attribution (ModTracker's set of modules
    whose backward is in progress) spans parallel branches: a ResNet block's downsample
    stays "active" while the main branch's gradients run and absorbs them.  Every autograd
    node is instead claimed, at the end of each module call, by the innermost module that
    created it (forward hooks walk the new part of the autograd graph).
    """
    from collections import Counter

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    owner: dict[int, str] = {}
    own: Counter = Counter()
    names = {}
    for name, module in root.named_modules():
        names.setdefault(module, name)
    stops: list[set] = []

    def grad_fns(values):
        from paramscope.tracing.trace import tensors_in

        return {t.grad_fn for t in tensors_in(values) if t.grad_fn is not None}

    def enter(module, args, kwargs):
        stops.append({f._sequence_nr() for f in grad_fns([*args, *kwargs.values()])})

    def leave(module, args, kwargs, output):
        stop = stops.pop() if stops else set()
        todo = list(grad_fns([output] if not isinstance(output, (list, tuple, dict)) else output))
        while todo:
            fn = todo.pop()
            seq = fn._sequence_nr()
            if seq in owner or seq in stop or not hasattr(fn, "next_functions"):
                continue
            if fn.name().endswith("AccumulateGrad"):
                continue
            owner[seq] = names[module]
            todo += [f for f, _ in fn.next_functions if f is not None]

    for module in names:
        module.register_forward_pre_hook(enter, with_kwargs=True)
        module.register_forward_hook(leave, with_kwargs=True)

    class Counting(FlopCounterMode):
        def _count_flops(self, func_packet, out, args, kwargs):
            node = torch._C._current_autograd_node()
            if node is None or func_packet not in self.flop_registry:
                return super()._count_flops(func_packet, out, args, kwargs)
            flops = self.flop_registry[func_packet](*args, **kwargs, out_val=out)
            self.flop_counts["Global"][func_packet] += flops
            own[owner.get(node._sequence_nr(), "")] += flops
            return out

    return Counting(display=False), own
