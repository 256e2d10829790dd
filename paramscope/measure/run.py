"""Fill an analysis :class:`~paramscope.report.Report` with the measurers' verdicts.

:func:`run_measurers` runs :func:`paramscope.reconcile.compare` on the subject's meta
model and graph, then copies each module's verdict onto the first layer row of that
module (tools count per module, all calls summed) and each tool's totals, explained
difference and memory figures onto ``report.measurers``.
"""

from __future__ import annotations

from paramscope.reconcile import Report as Reconciled
from paramscope.reconcile import ToolReport


def run_measurers(report, subject, tools, *, fvcore_budget: int | None = None) -> Reconciled:
    """Run ``tools`` on ``subject`` and record the results in ``report`` (also returned raw)."""
    from paramscope.measure import MEASURERS
    from paramscope.reconcile import compare

    measurers = [MEASURERS[t](fvcore_budget) if t == "fvcore" else MEASURERS[t]() for t in tools]
    model = subject.meta_model()
    if subject.source == "spec":
        model.eval()  # spec graphs describe inference; the built copy is ours to set
    result = compare(model, subject.graph.input_shape, report.dtype, tools=measurers,
                     graph=subject.graph)
    first_row = {}
    for row in report.layers:
        first_row.setdefault(row.node.name, row)
    for row in result.rows:
        target = first_row.get(row.name)
        for tool, cell in row.cells.items():
            entry = {"measured": cell.measured, "predicted": cell.predicted,
                     "status": cell.status, "reason": cell.reason, "scope": "module, all calls"}
            if target is not None:
                target.measured[tool] = entry
            elif cell.status not in ("match", "skipped", "failed"):
                report.notes.append(f"{tool}: module {row.name or '(root)'}: {cell.status}, "
                                    f"{cell.reason}")
    for tool, summary in result.tools.items():
        report.measurers[tool] = measurer_result(summary)
    return result


def measurer_result(summary: ToolReport):
    """One tool's :class:`~paramscope.report.MeasurerResult`."""
    from paramscope.report import MeasurerResult

    status = summary.status if summary.status != "ok" else (
        "match" if summary.agrees else "mismatch")
    checks = summary.checks
    total = {"flops": summary.measured_total}
    predicted = {"flops": summary.predicted_total}
    if "params" in checks:
        predicted["params"], total["params"] = checks["params"]
    memory = {k: v for k, v in checks.items() if k.endswith("bytes")}
    extra = {"metric": summary.metric, "baseline": summary.baseline,
             "paramscope_total": summary.paramscope_total, "rows": dict(summary.counts)}
    if memory:
        extra["memory"] = {"predicted": {k: p for k, (p, _) in memory.items()},
                           "measured": {k: m for k, (_, m) in memory.items()}}
    notes = [summary.reason] if summary.reason else []
    blind = summary.counts.get("unsupported", 0)
    if blind:
        notes.append(f"{blind} module(s) are blind spots of {summary.tool} (see their rows)")
    mismatched = [k for k, (p, m) in checks.items() if m is not None and p != m]
    if mismatched:
        notes.append("predicted ≠ measured: " + ", ".join(mismatched))
    return MeasurerResult(
        summary.tool, summary.convention, status, total, predicted, "; ".join(notes),
        [f"{category} {amount:+,}" for category, amount in summary.differences],
        dict(summary.unsupported), extra)
