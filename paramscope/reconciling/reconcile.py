"""Join each tool's predicted and measured figures, layer by layer, and explain the totals.

:func:`compare` traces a model, runs every measurer (a failing one marks only its own
column ``failed``) and calls :func:`reconcile`, which is pure: it marks every
(module, tool) cell ``match`` / ``mismatch`` / ``unsupported`` / ``skipped`` / ``failed``
with a reason, and splits each tool's total minus paramscope's own figure into
categories (``"bias terms": +X``, ``"unsupported aten::_convolution_mode": -Z``).
Library code: returns dataclasses, prints nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from paramscope.graph import Graph
from paramscope.reconciling.report import Verdict as Cell
from paramscope.measure.base import (LayerCount, Measurement, Measurer, PredictedLayer,
                                     Prediction, _sum, failed, unsupported_note)

#: match: the tool's figure equals paramscope's prediction of it; mismatch: it does not;
#: unsupported: equal, but the tool itself reports ops it cannot count (named);
#: no-formula: paramscope cannot predict the tool's figure here (the op is named);
#: skipped / failed: the tool did not run.
STATUSES = ("match", "mismatch", "unsupported", "no-formula", "skipped", "failed")
UNEXPLAINED = "measured - predicted (unexplained)"
NOT_PREDICTED = "measured where paramscope has no rule (rows marked no-formula)"


@dataclass
class Row:
    """One module: paramscope's own figures and every tool's verdict."""

    name: str
    kind: str
    params: int = 0
    macs: int | None = 0
    flops: int | None = 0
    cells: dict[str, Cell] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class ToolReport:
    """One tool's run, its totals, and the explained difference from paramscope."""

    tool: str
    metric: str
    baseline: str  # "macs" | "flops": the paramscope figure it is compared with
    convention: str
    status: str  # "ok" | "skipped" | "failed"
    reason: str = ""
    predicted_total: int | None = None
    measured_total: int | None = None
    paramscope_total: int | None = None
    #: (category, signed amount), largest first; they sum to measured - paramscope
    #: (to predicted - paramscope when nothing was measured).
    differences: list[tuple[str, int]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # cell status -> rows
    unsupported: dict[str, int] = field(default_factory=dict)  # as the tool reported them
    #: tool-specific totals (params, memory): name -> (predicted, measured).
    checks: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)

    @property
    def agrees(self) -> bool:
        """Ran, and every row and check matches its prediction."""
        return (self.status == "ok" and not self.counts.get("mismatch")
                and all(p == m for p, m in self.checks.values()))


@dataclass
class Report:
    rows: list[Row]
    tools: dict[str, ToolReport]
    params: int
    macs: int | None
    flops: int | None
    unrecorded_ops: dict[str, int] = field(default_factory=dict)


def compare(model, input_shape, dtype: str = "float32",
            tools: Iterable[str | Measurer] = ("torchinfo", "fvcore", "flop_counter"),
            graph: Graph | None = None) -> Report:
    """Trace ``model`` (unless ``graph`` is given), predict and measure with each tool."""
    from paramscope.measure import MEASURERS
    from paramscope.tracing.trace import trace

    graph = graph if graph is not None else trace(model, input_shape, dtype)
    measurers = [MEASURERS[t]() if isinstance(t, str) else t for t in tools]
    predictions: dict[str, Prediction | Measurement] = {}
    measurements: dict[str, Measurement] = {}
    for m in measurers:
        try:
            predictions[m.name] = m.predict(graph)
        except Exception as err:  # a broken rule fails its own column only
            predictions[m.name] = failed(m.name, err)
        try:
            measurements[m.name] = m.measure(model, input_shape, dtype, graph=graph)
        except Exception as err:
            measurements[m.name] = failed(m.name, err)
    for m in measurers:  # e.g. FlopCounterMode's meta note gives the CPU run's figure
        m.annotate(measurements[m.name], measurements)
    return reconcile(graph, {m.name: m for m in measurers}, predictions, measurements)


def reconcile(graph: Graph, measurers: Mapping[str, Measurer],
              predictions: Mapping[str, Prediction | Measurement],
              measurements: Mapping[str, Measurement]) -> Report:
    """Join predictions and measurements by module name (pure; see module docstring).

    A prediction given as a failed :class:`Measurement` marks the tool's column failed.
    """
    rows = _paramscope_rows(graph)
    unmodelled: dict[str, list[str]] = {}
    for key in graph.unrecorded_ops:
        owner, _, op = key.rpartition(":")
        unmodelled.setdefault(owner, []).append(op)
    keys = {key for figures in (*predictions.values(), *measurements.values())
            if figures is not None for key in figures.layers}
    for key in sorted(keys - set(rows)):
        rows[key] = Row(key, graph.modules.get(key, ""))
    for tool in measurers:
        pred, meas = predictions.get(tool), measurements.get(tool)
        if isinstance(pred, Measurement):  # the prediction itself failed
            meas = Measurement(tool, "failed", note=f"prediction failed: {pred.note}")
            pred = None
        for row in rows.values():
            row.cells[tool] = _cell(row.name, pred, meas, unmodelled.get(row.name, ()))
    reports = {tool: _tool_report(m, predictions.get(tool), measurements.get(tool), rows)
               for tool, m in measurers.items()}
    total_params = sum(r.params for r in rows.values())
    return Report(list(rows.values()), reports, total_params,
                  _sum(r.macs for r in rows.values()), _sum(r.flops for r in rows.values()),
                  dict(graph.unrecorded_ops))


def _paramscope_rows(graph: Graph) -> dict[str, Row]:
    from paramscope.formulas import cost_of

    rows: dict[str, Row] = {}
    for node in graph.nodes:
        row = rows.setdefault(node.name, Row(node.name, graph.modules.get(node.name, node.kind)))
        cost = cost_of(node)
        row.params += cost.total_params
        row.macs = None if row.macs is None or cost.macs is None else row.macs + cost.macs
        row.flops = None if row.flops is None or cost.flops is None else row.flops + cost.flops
        if cost.status == "unsupported":
            row.notes.append(f"no formula for {node.kind}")
    for name, infos in graph.unowned_params().items():
        row = rows.setdefault(name, Row(name, graph.modules.get(name, "")))
        row.params += sum(p.numel for p in infos.values() if not p.tied_to)
    for key, n in graph.unrecorded_ops.items():
        owner, _, op = key.rpartition(":")
        if owner in rows:
            rows[owner].notes.append(f"unmodelled functional op {op}" + (f" ×{n}" if n > 1 else ""))
    return rows


def _cell(name: str, pred: Prediction | None, meas: Measurement | None,
          unmodelled: Iterable[str] = ()) -> Cell:
    if meas is None or meas.status != "ok":
        status = meas.status if meas is not None else "failed"
        return Cell(status, reason=meas.note if meas is not None else "not measured")
    if pred is None:
        return Cell("failed", reason="no prediction")
    p = pred.layers.get(name) or PredictedLayer("")
    m = meas.layers.get(name) or LayerCount(0)
    if p.value is None:  # paramscope's gap, not the tool's
        return Cell("no-formula", None, m.value,
                    "; ".join(dict.fromkeys(p.notes)) or f"no {pred.tool} rule here")
    problems = []
    if p.value != m.value:
        problems.append(f"predicted {p.value:,}, measured {m.value:,}")
    if p.params is not None and m.params is not None and p.params != m.params:
        problems.append(f"params predicted {p.params:,}, measured {m.params:,}")
    if problems:
        if unmodelled:
            problems.append(f"ops with no paramscope formula run here: {', '.join(unmodelled)}")
        return Cell("mismatch", p.value, m.value, "; ".join(problems))
    notes = list(p.blind_spots)
    if m.unsupported:
        notes.append(f"{pred.tool} reports unsupported: {unsupported_note(m.unsupported)}")
    extra = {op: n for op, n in m.unsupported.items() if p.unsupported.get(op) != n}
    if extra:
        notes.append(f"not predicted: {unsupported_note(extra)}")
    status = "unsupported" if m.unsupported and p.blind_spots else "match"
    return Cell(status, p.value, m.value, "; ".join(notes))


def _tool_report(measurer: Measurer, pred, meas: Measurement | None, rows) -> ToolReport:
    tool = measurer.name
    report = ToolReport(tool, measurer.metric, measurer.baseline, measurer.convention, "ok")
    for row in rows.values():
        status = row.cells[tool].status
        report.counts[status] = report.counts.get(status, 0) + 1
    if isinstance(pred, Measurement):
        report.status, report.reason = "failed", f"prediction failed: {pred.note}"
        pred = None
    if meas is None or meas.status != "ok":
        report.status = meas.status if meas is not None else "failed"
        report.reason = meas.note if meas is not None else "not measured"
    else:
        report.measured_total = meas.total
        report.unsupported = dict(meas.unsupported)
        report.reason = report.reason or meas.note  # e.g. the device it ran on
    if pred is None:
        return report
    report.predicted_total, report.paramscope_total = pred.total, pred.baseline_total
    diffs: Counter = Counter()
    measured = report.measured_total is not None
    for name, row in rows.items():
        layer = pred.layers.get(name)
        if layer is None:
            continue
        if layer.value is None:  # the tool's own figure stands in for the missing rule
            cell = row.cells[tool]
            amount = (cell.measured or 0) if measured else 0
            diffs[f"{', '.join(dict.fromkeys(layer.notes))} (the tool's figure)"] += amount - (layer.baseline or 0)
        else:
            diffs.update(layer.differences)
    if measured:
        diffs[UNEXPLAINED] = report.measured_total - (report.paramscope_total or 0) - sum(diffs.values())
    diffs = {k: v for k, v in diffs.items() if v}
    report.differences = sorted(diffs.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
    if meas is not None and meas.status == "ok":
        if pred.params is not None or meas.params is not None:
            report.checks["params"] = (pred.params, meas.params)
        for key in sorted(set(pred.extras) | set(meas.extras)):
            report.checks[key] = (pred.extras.get(key), meas.extras.get(key))
    return report
