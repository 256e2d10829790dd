"""The measurer interface and its result types (no torch import here).

A measurer wraps one counting tool.  ``measure`` runs the tool; ``predict`` derives the
same figures from a :class:`~paramscope.graph.Graph` and the formulas under the tool's
own rules.  Both return per-layer figures keyed by qualified module name: a module's
*own* count (its descendants excluded), summed over all its calls, with functional ops
folded into the module they ran in.  ``predict`` also explains each figure against
paramscope's own (``baseline``: MACs or FLOPs) as signed amounts per category.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from paramscope.graph import Graph, LayerNode


@dataclass(frozen=True)
class LayerCount:
    """What a tool reported for one module."""

    value: int  # the tool's count (its own metric), own ops only, all calls summed
    params: int | None = None  # parameters the tool attributes to this row (torchinfo)
    unsupported: Mapping[str, int] = field(default_factory=dict)  # op -> occurrences


@dataclass
class Measurement:
    """The tool's own figures for one model and input."""

    tool: str
    status: str = "ok"  # "ok" | "skipped" | "failed"
    layers: dict[str, LayerCount] = field(default_factory=dict)
    total: int | None = None
    params: int | None = None
    unsupported: dict[str, int] = field(default_factory=dict)
    extras: dict[str, int] = field(default_factory=dict)  # tool-specific totals (bytes ...)
    note: str = ""


@dataclass(frozen=True)
class NodeCount:
    """A tool's predicted count for one graph node, explained against the baseline."""

    value: int | None  # None: no rule predicts this tool's count here
    differences: Mapping[str, int] = field(default_factory=dict)  # category -> value - baseline
    unsupported: Mapping[str, int] = field(default_factory=dict)
    blind_spot: str = ""  # why the tool misses (part of) paramscope's figure here


@dataclass
class PredictedLayer:
    """A tool's predicted figures for one module (all its nodes summed)."""

    kind: str
    value: int | None = 0
    baseline: int | None = 0  # paramscope's MACs or FLOPs for the same nodes
    params: int | None = None
    differences: Counter = field(default_factory=Counter)
    unsupported: Counter = field(default_factory=Counter)
    blind_spots: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Prediction:
    """A tool's figures predicted from the graph; ``differences`` sum to total - baseline."""

    tool: str
    layers: dict[str, PredictedLayer] = field(default_factory=dict)
    total: int | None = 0
    baseline_total: int | None = 0
    params: int | None = None
    differences: Counter = field(default_factory=Counter)
    unsupported: Counter = field(default_factory=Counter)
    extras: dict[str, int] = field(default_factory=dict)


def _add(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b


class Measurer(ABC):
    """One counting tool: its convention, the device it runs on, measure and predict."""

    name: ClassVar[str]
    metric: ClassVar[str]  # what the tool calls its count ("mult-adds", "flops")
    baseline: ClassVar[str]  # paramscope figure it is compared with: "macs" | "flops"
    device: ClassVar[str]  # "meta" or "cpu"
    convention: ClassVar[str]

    @abstractmethod
    def measure(self, model, input_shape, dtype: str = "float32", *,
                graph: Graph | None = None) -> Measurement:
        """Run the tool on a meta clone of ``model`` (``model`` is never modified)."""

    @abstractmethod
    def count(self, node: LayerNode, cost, graph: Graph) -> NodeCount:
        """The tool's count for one node under its rules; ``cost`` is ``cost_of(node)``."""

    def predict(self, graph: Graph) -> Prediction:
        """Every node's :meth:`count`, summed per module and in total."""
        from paramscope.formulas import cost_of

        pred = Prediction(self.name)
        for node in graph.nodes:
            cost = cost_of(node)
            base = getattr(cost, self.baseline)
            c = self.count(node, cost, graph)
            row = pred.layers.setdefault(node.name, PredictedLayer(graph.modules.get(node.name, node.kind)))
            row.value = _add(row.value, c.value)
            row.baseline = (row.baseline or 0) + (base or 0)
            diffs = dict(c.differences)
            if base is None and c.value is not None:  # the tool's count, with no figure of ours
                diffs = {f"{_op_name(node)}: no paramscope formula": c.value} if c.value else {}
            row.differences.update(diffs)
            row.unsupported.update(c.unsupported)
            if c.blind_spot and c.blind_spot not in row.blind_spots:
                row.blind_spots.append(c.blind_spot)
            if c.value is None:
                row.notes.append(f"no {self.name} rule for {_op_name(node)}")
            pred.differences.update(diffs)
            pred.unsupported.update(c.unsupported)
        pred.total = _sum(r.value for r in pred.layers.values())
        pred.baseline_total = sum(r.baseline or 0 for r in pred.layers.values())
        self.finish(graph, pred)
        return pred

    def finish(self, graph: Graph, pred: Prediction) -> None:
        """Add tool-specific totals (params, memory) to ``pred``; nothing by default."""

    def annotate(self, measurement: Measurement, others: Mapping[str, Measurement]) -> None:
        """Add to ``measurement`` what the other tools' runs of the same model tell (``others``:
        tool name -> Measurement); nothing by default."""


def _op_name(node: LayerNode) -> str:
    """How a report names what a node ran: its kind, with the aten ops of a function call."""
    if node.aten and "callable" in node.hparams:
        from paramscope.formulas.aten import unmodelled

        missing = unmodelled(node.aten)
        return f"{node.kind} ({', '.join(missing)})" if missing else node.kind
    return node.kind


def _sum(values) -> int | None:
    """The sum, or None when any value is unknown (None)."""
    total = 0
    for v in values:
        if v is None:
            return None
        total += v
    return total


def exclusive(inclusive: Mapping[str, Counter]) -> dict[str, Counter]:
    """Own counts from counts that include descendants, by qualified-name ancestry.

    ``inclusive["a"]`` covers ``a`` and every ``a.*``; the result subtracts each module's
    inclusive count from its nearest listed ancestor (the root is ``""``): a container
    that never runs itself (an ``nn.ModuleList`` such as ``layers``) has no entry, so
    ``layers.0`` counts against the root.
    """
    own = {name: Counter(c) for name, c in inclusive.items()}
    for name, counts in inclusive.items():
        parent = name
        while parent:
            parent = parent.rpartition(".")[0]
            if parent in own:
                own[parent].subtract(counts)
                break
    return {name: Counter({k: v for k, v in c.items() if v}) for name, c in own.items()}


def failed(tool: str, err: BaseException) -> Measurement:
    """A Measurement recording that the tool raised ``err``."""
    from paramscope.errors import clip

    return Measurement(tool, "failed", note=f"{type(err).__name__}: {clip(str(err))}")


def mha_fast_path(node: LayerNode) -> bool:
    """Whether torch runs this nn.MultiheadAttention call as its fused CPU fast path, one
    aten._native_multi_head_attention (fvcore and a CPU FlopCounterMode run count it 0):
    eval without grad (as both run), a batched batch_first self-attention with in-projection
    biases, no bias_k / add_zero_attn, an even number of heads and kdim = vdim = embed_dim."""
    h = node.hparams
    (_, _, E), (_, _, kdim), (_, _, vdim) = h["q_shape"], h["k_shape"], h["v_shape"]
    batched = not node.in_shapes or len(node.in_shapes[0]) == 3
    return bool(batched and not node.training and h.get("batch_first") and h.get("self_attention")
                and h.get("in_proj_bias") and not h.get("bias_k") and not h.get("add_zero_attn")
                and h["num_heads"] % 2 == 0 and kdim == vdim == E)


#: default limit on the real memory a CPU run may use (params + activations + input), bytes.
DEFAULT_BUDGET = 2_000_000_000
BUDGET_ENV = "PARAMSCOPE_FVCORE_BUDGET"


class RealRun:
    """Mixin of a measurer that runs a real CPU copy of the model: only when the predicted
    memory fits ``budget_bytes`` (default: ``PARAMSCOPE_FVCORE_BUDGET`` or 2 GB)."""

    def __init__(self, budget_bytes: int | None = None) -> None:
        if budget_bytes is None:
            import os

            from paramscope.tracing.inputs import parse_bytes

            raw = os.environ.get(BUDGET_ENV)
            budget_bytes = DEFAULT_BUDGET if raw is None else parse_bytes(raw, BUDGET_ENV)
        self.budget_bytes = budget_bytes

    @staticmethod
    def estimate_bytes(graph: Graph) -> int:
        """Real memory a CPU run needs: params + every recorded output + the input."""
        from math import prod

        from paramscope.graph import dtype_bytes

        params = sum(p.numel * dtype_bytes(p.dtype) for n in graph.nodes if n.counts_params
                     for p in n.params.values())
        params += sum(p.numel * dtype_bytes(p.dtype) for infos in graph.unowned_params().values()
                      for p in infos.values())
        acts = sum(prod(n.out_shape) * dtype_bytes(n.dtype) for n in graph.nodes)
        inputs = graph.input_shape
        return params + acts + (inputs.nbytes(graph.dtype) if hasattr(inputs, "nbytes")
                                else prod(inputs) * dtype_bytes(graph.dtype))

    def real_run(self, model, input_shape, dtype: str, graph: Graph | None):
        """``(graph, real CPU copy of model)``, or ``(graph, skipped Measurement)`` when the
        run does not fit the budget (``graph`` traced here when not given)."""
        from paramscope.building.materialize import materialize
        from paramscope.tracing.trace import trace

        graph = graph if graph is not None else trace(model, input_shape, dtype)
        skipped = self.over_budget(graph)
        return graph, skipped if skipped is not None else materialize(model, "cpu")

    def over_budget(self, graph: Graph) -> Measurement | None:
        """A ``skipped`` Measurement saying how to force the run, when it does not fit."""
        need = self.estimate_bytes(graph)
        if need <= self.budget_bytes:
            return None
        name = getattr(self, "name", type(self).__name__)
        return Measurement(name, "skipped", note=(
            f"{name} needs real CPU tensors: predicted {need / 1e9:.2f} GB (params + "
            f"activations + input) exceeds the budget of {self.budget_bytes / 1e9:.2f} GB; "
            f"force it with --fvcore-budget {max(1, int(need / 1e9 + 1))}GB, {BUDGET_ENV}, "
            f"or {type(self).__name__}(budget_bytes=...) / analyze(..., fvcore_budget=...)"))


def unsupported_note(ops: Mapping[str, Any]) -> str:
    return ", ".join(f"{op}×{n}" if n != 1 else op for op, n in sorted(ops.items()))
