"""The Report: every layer's analytic figures, measured figures and verdicts.

Plain data, integers until rendering.  ``Report.to_dict()`` is the stable JSON
documented in the README.  No torch import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Any, Callable

from paramscope.formulas import Cost
from paramscope.graph import LayerNode, Shape, dtype_bytes

#: element types an analysis may use (``--dtype``)
DTYPES = ("float32", "float16", "bfloat16", "float64")
#: verdicts and formula statuses, worst first: a subtotal's status is the worst beneath it
SEVERITY = ("mismatch", "failed", "no-formula", "unsupported", "skipped", "match", "ok", "zero")


def worst(statuses) -> str:
    """The most severe of ``statuses`` ("" when there are none)."""
    found = set(statuses)
    return next((s for s in SEVERITY if s in found), next(iter(sorted(found)), ""))


@dataclass
class LayerRow:
    """One layer call: what the formulas say and what each tool measured."""

    node: LayerNode
    cost: Cost
    activation_bytes: int
    measured: dict[str, "Verdict"] = field(default_factory=dict)  # tool -> its verdict here
    #: time / bytes / intensity / roofline / receptive field (paramscope.perf), when asked for
    perf: dict[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> int:
        return self.cost.total_params

    @property
    def trainable_params(self) -> int:
        return _trainable(self.node, self.cost)

    @property
    def status(self) -> str:
        """Worst verdict: mismatch > failed > no-formula (paramscope's gap) > unsupported
        (a tool's) > match; the formula status (ok / zero) when nothing was measured."""
        verdicts = {m.status for m in self.measured.values()}
        for verdict in ("mismatch", "failed"):
            if verdict in verdicts:
                return verdict
        if self.cost.status == "unsupported" or "no-formula" in verdicts:
            return "no-formula"
        for verdict in ("unsupported", "match"):
            if verdict in verdicts:
                return verdict
        return self.cost.status

    def to_dict(self) -> dict[str, Any]:
        n = self.node
        return {
            "name": n.key,
            "module": n.name,
            "kind": n.kind,
            "call_index": n.call_index,
            "in_shape": list(n.in_shape),
            "out_shape": list(n.out_shape),
            "params": self.params,
            "params_split": dict(self.cost.params),
            "trainable_params": _trainable(n, self.cost),
            "macs": self.cost.macs,
            "flops": self.cost.flops,
            "activation_bytes": self.activation_bytes,
            "formula": "; ".join(term_text(t) for t in self.cost.terms),
            "terms": [{"quantity": t.quantity, "expression": t.expression, "value": t.value}
                      for t in self.cost.terms],
            "measured": {tool: v.to_dict() for tool, v in self.measured.items()},
            "status": self.status,
            **self.perf,
        }


def term_text(term) -> str:
    """``weight = 3×64×7×7 = 9,408``; ``bias = 64`` when the expression is the number itself."""
    value = f"{term.value:,}"
    if term.expression.replace(",", "") == str(term.value):
        return f"{term.quantity} = {value}"
    return f"{term.quantity} = {term.expression} = {value}"


def _param_bytes(row: LayerRow, dtype: str, source: str) -> int:
    """Bytes of the parameters a row owns: each traced parameter at its own dtype (a half
    Linear is 2 bytes per element whatever --dtype says); spec parameters at ``dtype``."""
    node = row.node
    if not node.counts_params:
        return 0
    return sum(n * dtype_bytes(node.params[k].dtype if source == "module" and k in node.params else dtype)
               for k, n in row.cost.params.items())


def _trainable(node: LayerNode, cost: Cost) -> int:
    if not node.counts_params:
        return 0
    return sum(v for k, v in cost.params.items()
               if k not in node.params or node.params[k].trainable)


@dataclass(frozen=True)
class Verdict:
    """One tool's verdict on one module: its measured figure against paramscope's prediction."""

    status: str  # match | mismatch | unsupported | no-formula | skipped | failed
    predicted: int | None = None
    measured: int | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "measured": self.measured, "predicted": self.predicted,
                "reason": self.reason}


@dataclass(frozen=True)
class Difference:
    """One category of the difference between a tool's total and paramscope's figure."""

    category: str
    amount: int

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "amount": self.amount}


@dataclass
class MeasurerResult:
    """One tool's total against paramscope's prediction of it."""

    tool: str
    convention: str
    status: str  # "match" | "mismatch" | "skipped" | "failed"
    total: dict[str, int | None] = field(default_factory=dict)
    predicted: dict[str, int | None] = field(default_factory=dict)
    note: str = ""
    #: tool total = paramscope's figure + the amounts (exactly, when the status is match)
    explanation: list[Difference] = field(default_factory=list)
    unsupported_ops: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"convention": self.convention, "total": self.total, "predicted": self.predicted,
                "status": self.status, "note": self.note,
                "explanation": [d.to_dict() for d in self.explanation],
                "unsupported_ops": self.unsupported_ops, **({"extra": self.extra} if self.extra else {})}


@dataclass
class Report:
    target: str
    input_shape: Shape
    dtype: str
    source: str  # "spec" | "module"
    layers: list[LayerRow]
    measurers: dict[str, MeasurerResult] = field(default_factory=dict)
    extra_params: int = 0  # parameters owned by containers (not by any leaf layer)
    #: where ``extra_params`` live: module name -> count (summary's tree puts them there)
    extra_by_module: dict[str, int] = field(default_factory=dict, repr=False)
    buffers: int = 0
    notes: list[str] = field(default_factory=list)
    modules: dict[str, str] = field(default_factory=dict)
    #: functional ops the trace saw but no formula covers, "<module>:<op>" -> calls
    unrecorded_ops: dict[str, int] = field(default_factory=dict)
    #: totals and settings of time / roofline / receptive fields (paramscope.perf), when asked for
    perf: dict[str, Any] = field(default_factory=dict)
    #: computes the depth of :mod:`paramscope.tracing.depth` (a meta-device pass for a traced
    #: model); read it with :func:`paramscope.tracing.depth.report_depth`; not data
    depth_pass: Callable[[], int] | None = field(default=None, repr=False, compare=False)
    #: how ``str(report)`` renders it: ``{"depth": 3, "columns": (...)}`` (set by paramscope.summary); not data
    display: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def render(self, depth: int | None = None, width: int | None = None, columns: tuple[str, ...] | None = None,
               all_rows: bool = False) -> str:
        """The summary as plain text, as ``paramscope summary`` prints it when piped: the
        module tree down to ``depth`` (torchinfo's, default 3) with ``columns``, totals,
        memory, reconciliation, notes.  ``width`` defaults to ``COLUMNS`` or 120."""
        from paramscope.render.console import env_width
        from paramscope.render.export import render_text
        from paramscope.render.summary import summary_renderables

        width = width or env_width()
        return render_text(summary_renderables(self, depth, width=width, plain=True, columns=columns,
                                               all_rows=all_rows), width=width)

    def __str__(self) -> str:
        return self.render(**self.display).rstrip("\n")

    def __repr__(self) -> str:
        t = self.totals
        shape = "×".join(str(d) for d in self.input_shape)
        return (f"<{type(self).__name__} {self.target} input {shape} {self.dtype}: {t['params']:,} params, "
                f"{t['macs']:,} MACs, {len(self.layers)} layer calls, tools: "
                f"{', '.join(self.measurers) or 'none'}>")

    @property
    def unsupported(self) -> list[str]:
        return sorted({r.node.kind for r in self.layers if r.cost.status == "unsupported"})

    @property
    def totals(self) -> dict[str, int]:
        params = sum(r.params for r in self.layers) + self.extra_params
        trainable = sum(_trainable(r.node, r.cost) for r in self.layers) + self.extra_params
        size = dtype_bytes(self.dtype)
        return {
            "params": params,
            "trainable_params": trainable,
            "frozen_params": params - trainable,
            "buffers": self.buffers,
            "macs": sum(r.cost.macs or 0 for r in self.layers),  # a lower bound when incomplete
            "flops": sum(r.cost.flops or 0 for r in self.layers),
            "activation_bytes": sum(r.activation_bytes for r in self.layers),
            "param_bytes": sum(_param_bytes(r, self.dtype, self.source) for r in self.layers)
                           + self.extra_params * size,
            "input_bytes": (self.input_shape.nbytes(self.dtype) if hasattr(self.input_shape, "nbytes")
                            else prod(self.input_shape) * size),
        }

    @property
    def ok(self) -> bool:
        """True when no tool disagrees with its prediction (blind spots named, not failures)."""
        return all(m.status in ("match", "unsupported", "no-formula", "skipped")
                   for m in self.measurers.values()) \
            and not any(r.status == "mismatch" for r in self.layers)

    @property
    def complete(self) -> bool:
        """True when every op that ran has a formula and every tool's figure was predicted."""
        return (not self.unsupported and not self.unrecorded_ops
                and not any(m.status == "no-formula" for m in self.measurers.values()))

    @property
    def gaps(self) -> list[str]:
        """What makes the analysis incomplete, one line per op (grouped)."""
        ops = _grouped_ops(self.unrecorded_ops)
        lines = [f"no formula for {kind}" for kind in self.unsupported
                 if not any(op.startswith(f"{kind} (") for op in ops)]
        lines += [f"no formula for {op} ({n}×)" for op, n in ops.items()]
        lines += [f"{t}: {m.note}" for t, m in self.measurers.items() if m.status == "no-formula"]
        return list(dict.fromkeys(lines))

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "input_shape": list(self.input_shape),
            **({"inputs": [spec.to_dict() for spec in self.input_shape.specs]}  # several / typed inputs
               if hasattr(self.input_shape, "specs") else {}),
            "dtype": self.dtype,
            "source": self.source,
            "totals": {**self.totals, **self.perf.get("totals", {})},
            "complete": self.complete,
            "unsupported_kinds": self.unsupported,
            "unrecorded_ops": self.unrecorded_ops,
            "layers": [r.to_dict() for r in self.layers],
            "measurers": {k: m.to_dict() for k, m in self.measurers.items()},
            "notes": self.notes,
            **({"perf": self.perf} if self.perf else {}),
        }



def _grouped_ops(unrecorded: dict[str, int]) -> dict[str, int]:
    """``{"<module>:<op>": n}`` -> ``{op: total n}``."""
    grouped: dict[str, int] = {}
    for key, n in unrecorded.items():
        op = key.partition(":")[2]
        grouped[op] = grouped.get(op, 0) + n
    return grouped


def activation_bytes(node: LayerNode, dtype: str) -> int:
    """Bytes of the layer's output tensor (shape × element size)."""
    return prod(node.out_shape) * dtype_bytes(dtype)
