"""A real CPU run for models whose forward cannot proceed on the meta device.

Detection models filter boxes by score (``nonzero``, ``nms``, ``topk`` on scores): the
number of elements after such an op depends on the tensor's *values*, which the meta
device does not have.  For those the trace runs once on the CPU with real tensors: the
model rebuilt with a seeded RNG (weights as the factory initialises them, or seeded
``reset_parameters``), and seeded uniform [0, 1) float inputs, so the run is
deterministic.  It is bounded by a memory budget (like fvcore's, the same option):
parameters, buffers, inputs and 4× the largest activation the meta pass recorded before
it stopped must fit (a no-grad forward frees activations as it goes).

Every layer call after the point where the meta pass stopped is *input-dependent*: its
shapes (number of proposals, detections ...) come from this input's content; the report
says so and names those modules.
"""

from __future__ import annotations

from collections import Counter
from math import prod
from typing import Any, Callable

from paramscope.errors import ParamscopeError, clip

SEED = 0
#: activations alive at once in a no-grad forward, in units of the largest one: an estimate
#: (a residual block holds its input, its branch and the sum; an FPN its levels).
ACTIVATIONS_LIVE = 4
#: phrases of torch errors raised when an op's output size depends on tensor values.
_DATA_DEPENDENT = ("data-dependent", "data dependent", "fake value", "assuming all elements",
                   "cannot be called on meta", "item() on meta", "Tensor.item() cannot",
                   "on a meta tensor", "meta tensors do not have data")


def is_data_dependent(err: BaseException) -> bool:
    """True when ``err`` (a failed meta forward) comes from a value-dependent op."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        text = str(err)
        if any(marker.lower() in text.lower() for marker in _DATA_DEPENDENT):
            return True
        err = err.__cause__ or err.__context__
    return False


def tensor_bytes(model) -> int:
    """Bytes of every parameter and buffer of ``model`` (shared tensors once)."""
    seen, total = set(), 0
    for t in list(model.parameters()) + list(model.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            total += t.numel() * t.element_size()
    return total


def real_copy(model, rebuild: Callable[[], Any] | None = None):
    """``(real CPU copy of model, where its weights come from)``: ``rebuild()`` under a
    seeded RNG when given (the factory's own initialisation), else a copy of the model's
    real tensors, else seeded ``reset_parameters`` (weight/running_var 1, other tensors 0
    in modules without one)."""
    import torch

    from paramscope.building.materialize import meta_clone

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        if rebuild is not None:
            with torch.device("cpu"):
                return rebuild().eval(), f"the factory's own initialisation under seed {SEED}"
        tensors = list(model.parameters()) + list(model.buffers())
        if tensors and not any(t.is_meta for t in tensors):
            import copy
            return copy.deepcopy(model).eval(), "a copy of the model's own weights"
        real = meta_clone(model).to_empty(device="cpu")
        with torch.no_grad():
            for module in real.modules():
                if hasattr(module, "reset_parameters"):
                    module.reset_parameters()
                    continue
                for name, t in list(module._parameters.items()) + list(module._buffers.items()):
                    if t is not None:
                        ones = name in ("weight", "running_var") and t.is_floating_point()
                        t.fill_(1 if ones else 0)
    return real.eval(), f"reset_parameters() under seed {SEED}"


def run_on_cpu(model, inputs, dtype: str, budget: int, meta_error: ParamscopeError,
               rebuild: Callable[[], Any] | None = None):
    """``(graph, notes, FlopCounterMode's FLOPs of the same run)`` of one real CPU forward;
    ParamscopeError if over budget."""
    from paramscope.tracing.forward import input_text
    from paramscope.tracing.input_spec import as_input_set
    from paramscope.tracing.trace import torch_dtype, trace

    before = list(getattr(meta_error, "nodes", []))
    stopped_after = len(before)
    need = (tensor_bytes(model) + as_input_set(inputs).nbytes(dtype)
            + ACTIVATIONS_LIVE * largest_output(before, dtype))
    if need > budget:
        raise ParamscopeError(
            f"{meta_error.message}; a real CPU run would need about {need / 1e9:.2f} GB (params, buffers, "
            f"inputs and {ACTIVATIONS_LIVE}× the largest activation so far), over the budget of "
            f"{budget / 1e9:.2f} GB: "
            f"raise it with --fvcore-budget {max(1, int(need / 1e9 + 1))}GB")
    from torch.utils.flop_counter import FlopCounterMode

    real, weights = real_copy(model, rebuild)
    real = real.to(torch_dtype(dtype))  # analysed in --dtype, as the meta path is
    counter = FlopCounterMode(display=False)  # measures the very same run
    with counter:
        graph = trace(real, inputs, dtype, device="cpu")

    dependent = graph.nodes[stopped_after:]
    cause = meta_error.__cause__ or meta_error
    notes = [f"real CPU run: the forward pass cannot proceed on the meta device "
             f"({type(cause).__name__}: {clip(str(cause), 100)}); "
             f"ran once on the CPU with weights from {weights} and input {input_text(inputs)} "
             f"(floats uniform [0, 1) under seed {SEED}, integers 0; within the {budget / 1e9:.2f} GB budget)"]
    if dependent:
        calls = Counter(n.name or "(root)" for n in dependent)
        where = ", ".join(f"{name} ×{n}" if n > 1 else name for name, n in list(calls.items())[:8])
        more = f" and {len(calls) - 8} more modules" if len(calls) > 8 else ""
        notes.append(f"input-dependent: {len(dependent)} layer calls ran after the first value-dependent op "
                     f"({where}{more}); their sizes (e.g. boxes kept by score thresholds and NMS, proposals per "
                     f"image) and their {_macs(dependent)} depend on the input's content (and the weights): "
                     "figures are for this input")
    return graph, notes, int(counter.get_total_flops())


def flop_counter_result(graph, measured: int):
    """The MeasurerResult of FlopCounterMode run during the CPU pass, against its prediction
    under the CPU rules (fused attention and oneDNN kernels count 0 there)."""
    from paramscope.measure.flop_counter import CpuFlopCounterMeasurer, FlopCounterMeasurer
    from paramscope.reconciling.report import Difference, MeasurerResult

    tool, pred = FlopCounterMeasurer(), CpuFlopCounterMeasurer().predict(graph)
    status = "unsupported" if pred.total is None else "match" if pred.total == measured else "mismatch"
    explanation = [Difference(category, amount) for category, amount in pred.differences.items() if amount]
    return MeasurerResult(tool.name, tool.convention, status, {tool.metric: measured}, {tool.metric: pred.total},
                          note="measured during the real CPU run (totals only: no per-module split)",
                          explanation=explanation,
                          extra={"metric": tool.metric, "compared_with": tool.baseline,
                                 "paramscope_total": pred.baseline_total})


def _macs(nodes) -> str:
    """``"1,234 MACs"``, saying how many calls have no formula (their MACs are unknown)."""
    from paramscope.formulas import cost_of

    costs = [cost_of(n).macs for n in nodes]
    unknown = sum(c is None for c in costs)
    text = f"{sum(c for c in costs if c is not None):,} MACs"
    return text + (f" (+ {unknown} calls without a formula)" if unknown else "")


def largest_output(nodes, dtype: str) -> int:
    """Bytes of the largest output among the nodes a pass recorded (0 if none)."""
    from paramscope.graph import dtype_bytes

    return max((prod(n.out_shape) * dtype_bytes(n.dtype or dtype) for n in nodes), default=0)
