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


#: kinds whose MACs the tools count as convolution / matrix products.
CONV_KINDS = frozenset(f"Conv{n}d" for n in (1, 2, 3)) | frozenset(
    f"ConvTranspose{n}d" for n in (1, 2, 3))
RECURRENT_KINDS = frozenset({"LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell"})
MAC_KINDS = CONV_KINDS | RECURRENT_KINDS | {"Linear", "matmul", "einsum", "MultiheadAttention",
                                            "scaled_dot_product_attention"}


def unsupported_note(ops: Mapping[str, Any]) -> str:
    return ", ".join(f"{op}×{n}" if n != 1 else op for op, n in sorted(ops.items()))
