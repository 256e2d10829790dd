"""Training memory of one optimizer step, by category, derived from the graph (no torch).

parameters      every parameter and buffer (bytes of its dtype);
grads           one gradient per trainable parameter (frozen ones get none);
optimizer_state what ``torch.optim`` allocates per trainable parameter (``STATE``);
activations     what autograd saves for the backward pass, per op (``saved_tensors``), a
                tensor saved by several ops (a ReLU's output that the next conv saves as
                its input; a block input saved by its conv1 and its downsample conv)
                counted once, on the first op that saves it;
peak            the largest total of a walk through the step (:func:`timeline_peak`): the
                end of the forward pass, each layer's backward (last layer first: its
                gradients written, grad_out and grad_input alive, then its saved tensors
                freed) and the optimizer step, with the phase and what is alive then.

Against MemTracker (torch.distributed._tools) under FakeTensorMode, torchvision resnet50,
batch 32, Adam: parameters + buffers, gradients and optimizer state are equal; the peak is
within the documented tolerance (README "Training cost" gives the difference by category).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

from paramscope.errors import ParamscopeError, closest
from paramscope.formulas.backward import any_grad, input_grad, param_grad
from paramscope.graph import Graph, LayerNode, dtype_bytes

#: optimizer -> (state tensors per trainable parameter, the same size as it; what they are;
#: scalar ``step`` tensors per parameter, float32, kept on the CPU by torch.optim).
STATE: dict[str, tuple[int, str, int]] = {
    "none": (0, "no optimizer", 0),
    "sgd": (0, "plain SGD keeps no state", 0),
    "momentum": (1, "SGD momentum_buffer", 0),
    "adam": (2, "exp_avg and exp_avg_sq", 1),
    "adamw": (2, "exp_avg and exp_avg_sq", 1),
    "adagrad": (1, "sum of squared gradients", 1),
    "rmsprop": (1, "square_avg", 1),
}
OPTIMIZERS = tuple(STATE)
#: parameter-sized temporaries alive at once inside ``step()`` (the single-tensor path):
#: Adam's ``exp_avg_sq.sqrt()`` and its quotient by the bias correction, Adagrad's and
#: RMSprop's square root; SGD updates in place.
STEP_TEMPORARIES = {"adam": 2, "adamw": 2, "adagrad": 1, "rmsprop": 1}
STEP_BYTES = 4  # torch.optim's per-parameter ``step`` is a float32 scalar tensor


def check_optimizer(name: str) -> str:
    if name not in STATE:
        raise ParamscopeError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}"
                              f"{closest(name, OPTIMIZERS)}")
    return name


#: kinds whose backward needs only the output (saved instead of the input).
SAVES_OUTPUT = frozenset({"ReLU", "ReLU6", "Sigmoid", "Tanh", "ELU", "Softmax", "LogSoftmax"})
#: kinds that save nothing of size (shape-only backward).
SAVES_NOTHING = frozenset({"add", "Flatten", "flatten", "flatten_op", "Unflatten", "Identity",
                           "Dropout", "cat", "Permute", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
                           "AdaptiveAvgPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d"})


def saved_tensors(node: LayerNode, size: int) -> tuple[list[tuple[object, int]], str]:
    """``([(storage key, bytes)], what)``: the tensors autograd saves for this call's backward.

    A key is the storage token of ``LayerNode.flow`` (shared by calls that see the same
    tensor) or a key of this call alone (indices, statistics)."""
    if not any_grad(node):
        return [], "no backward: nothing saved"
    inputs, output = node.flow if node.flow else ((), None)

    def tensor(i: int | None, shape) -> tuple[object, int]:
        token = (inputs[i] if i is not None and i < len(inputs) else output) if node.flow else None
        key = token if token else (node.key, i)
        return key, prod(shape) * size

    kind = node.kind
    if kind in ("Linear", "Conv1d", "Conv2d", "Conv3d") or kind.startswith("ConvTranspose"):
        if param_grad(node, "weight"):
            return [tensor(0, node.in_shape)], "input (for grad_weight)"
        return [], "weight only (a parameter)"
    if kind in SAVES_OUTPUT:
        return [tensor(None, node.out_shape)], "output"
    if kind in SAVES_NOTHING or node.hparams.get("composite") or kind.startswith("Dropout") and not node.training:
        return [], "nothing (shape only)"
    if kind.startswith("Dropout"):
        return [((node.key, "mask"), prod(node.out_shape))], "bool mask"
    if kind.startswith("MaxPool"):
        return [tensor(0, node.in_shape), ((node.key, "indices"), prod(node.out_shape) * 8)], \
            "input + int64 indices"
    if kind.startswith("BatchNorm") and node.training:
        c = node.in_shape[1] if len(node.in_shape) > 1 else 1
        return [tensor(0, node.in_shape), ((node.key, "stats"), 2 * c * 4)], "input + batch mean and 1/std"
    if kind in ("mul", "matmul", "einsum"):
        return [tensor(i, s) for i, s in enumerate(node.in_shapes[:2])], "both operands"
    return [tensor(0, node.in_shape)], "input"


@dataclass
class TrainingMemory:
    """Bytes by category for one training step, each layer's saved activations, and the peak."""

    params: int
    grads: int
    optimizer_state: int
    activations: int
    per_layer: list[tuple[int, str]] = field(default_factory=list)
    optimizer: str = "adamw"
    notes: list[str] = field(default_factory=list)
    peak: int = 0
    phase: str = "forward end"
    #: what is alive at the peak besides parameters and optimizer state
    at_peak: dict[str, int] = field(default_factory=dict)
    #: bytes of the network input among the saved activations (the first layer's input)
    input_saved: int = 0
    #: bytes of the network output, held by the training loop through the backward
    output: int = 0
    saved_input: list[int] = field(default_factory=list)  # per layer, part of per_layer
    largest_param: int = 0  # bytes of the largest trainable parameter tensor

    def totals(self) -> dict[str, int]:
        return {"params": self.params, "grads": self.grads, "optimizer_state": self.optimizer_state,
                "activations": self.activations, "peak": self.peak}

    def to_dict(self) -> dict:
        return {**self.totals(), "optimizer": self.optimizer, "peak_phase": self.phase,
                "at_peak": self.at_peak, "notes": self.notes}


def timeline_peak(memory: TrainingMemory, rows, size: int) -> None:
    """Set ``memory.peak`` by walking the step: the forward ends with every saved activation
    and the output alive (gradients None after the previous ``zero_grad``); the backward
    starts from a summed scalar loss (the loss and its gradient: 2 elements; the output's
    gradient is that scalar expanded, no memory); each layer's backward, last layer first,
    writes its parameters' gradients while grad_out and grad_input are alive (temporaries),
    then frees what it saved; the optimizer step has every gradient alive (the output is
    released once the backward is done), and the optimizer's own temporaries for its
    largest parameter (``STEP_TEMPORARIES``)."""
    base = memory.params + memory.optimizer_state
    alive = {"grads": 0, "activations": memory.activations - memory.input_saved + memory.output,
             "temporaries": 0, "input batch": memory.input_saved}
    best = (base + sum(alive.values()), "forward end", dict(alive))
    seen: set = set()
    loss = 2 * size  # the summed loss and its gradient, alive through the backward
    for row, (saved, _), inputs in zip(reversed(rows), reversed(memory.per_layer),
                                       reversed(memory.saved_input)):
        node = row.node
        if not any_grad(node):
            continue
        new = [(node.name, n) for n, p in node.params.items()
               if p.trainable and not node.functional and (node.name, n) not in seen]
        seen.update(new)
        grads = sum(node.params[n].numel for _, n in new) * size
        # grad_out (none for the output itself: the gradient of a summed loss is an expanded
        # scalar) and grad_input
        grad_out = prod(node.out_shape) * size if row is not rows[-1] else 0
        temp = grad_out + (prod(node.in_shape) * size if input_grad(node) else 0)
        during = {**alive, "grads": alive["grads"] + grads, "temporaries": temp,
                  "activations": alive["activations"] + loss}
        if base + sum(during.values()) > best[0]:
            best = (base + sum(during.values()), f"backward of {node.key}", during)
        alive["grads"] += grads
        alive["activations"] -= saved - inputs
        alive["input batch"] -= inputs
    step = {"grads": memory.grads, "activations": 0, "temporaries": 0, "input batch": 0,
            "optimizer temporaries": STEP_TEMPORARIES.get(memory.optimizer, 0) * memory.largest_param}
    if base + sum(step.values()) > best[0]:
        best = (base + sum(step.values()), "optimizer step", step)
    memory.peak, memory.phase, memory.at_peak = best


def training_memory(graph: Graph, report, optimizer: str) -> TrainingMemory:
    """The :class:`TrainingMemory` of ``report`` (its params, trainable params, layers)."""
    size = dtype_bytes(report.dtype)
    from paramscope.reconciling.report import Report

    totals = Report.totals.fget(report)  # the forward figures
    trainable = totals["trainable_params"]
    buffer_bytes = sum(b.numel * (8 if name == "num_batches_tracked" else size)  # an int64 counter
                       for n in graph if n.counts_params for name, b in n.buffers.items())
    tensors = sum(1 for n in graph if n.counts_params for p in n.params.values() if p.trainable)
    tensors += sum(1 for ps in graph.container_params.values() for p in ps.values() if p.trainable)
    copies, what, steps = STATE[optimizer]
    per_layer, seen, saved_input = [], {}, []
    for row in report.layers:
        saved, why = saved_tensors(row.node, size)
        own = inputs = 0
        for key, nbytes in saved:
            if key in seen:
                why += f" (shared with {seen[key]})"
            else:
                seen[key] = row.node.key
                own += nbytes
                inputs += nbytes if key == 1 else 0  # token 1: the network input
        per_layer.append((own, why))
        saved_input.append(inputs)
    memory = TrainingMemory(
        params=totals["params"] * size + buffer_bytes, grads=trainable * size,
        optimizer_state=copies * trainable * size + steps * tensors * STEP_BYTES,
        activations=sum(b for b, _ in per_layer), per_layer=per_layer, optimizer=optimizer,
        notes=[f"{optimizer}: {what}" + (f" + a float32 step per parameter tensor ({tensors})" if steps else "")])
    memory.saved_input = saved_input
    sizes = [p.numel for n in graph if n.counts_params for p in n.params.values() if p.trainable]
    sizes += [p.numel for ps in graph.container_params.values() for p in ps.values() if p.trainable]
    memory.largest_param = max(sizes, default=0) * size
    memory.input_saved = sum(saved_input)
    memory.output = prod(report.layers[-1].node.out_shape) * size if report.layers else 0
    timeline_peak(memory, report.layers, size)
    return memory
