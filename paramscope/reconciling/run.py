"""Run the measurers for an analysis and fold their verdicts into the Report.

Tools report per module (all calls summed, functional ops folded into the module
they ran in); each module's verdict is shown on its first row in the report.
"""

from __future__ import annotations

from typing import Any

from paramscope.reconciling.report import Difference, MeasurerResult, Report


def _result(tool_report, fvcore_note: str = "") -> MeasurerResult:
    tr = tool_report
    if tr.status != "ok":
        status = tr.status
    elif not tr.agrees:
        status = "mismatch"
    elif tr.counts.get("no-formula"):  # paramscope's gap: the tool is not blamed
        status = "no-formula"
    elif tr.counts.get("unsupported"):  # the tool reports ops it cannot count
        status = "unsupported"
    else:
        status = "match"
    checks = dict(tr.checks)
    total = {tr.metric: tr.measured_total}
    predicted = {tr.metric: tr.predicted_total}
    if "params" in checks:
        predicted["params"], total["params"] = checks["params"]
    explanation = [Difference(category, amount) for category, amount in tr.differences]
    extra: dict[str, Any] = {"metric": tr.metric, "compared_with": tr.baseline,
                             "paramscope_total": tr.paramscope_total, "rows": dict(tr.counts)}
    memory_keys = [k for k in checks if k.endswith("_bytes")]
    if memory_keys:
        extra["memory"] = {"predicted": {k: checks[k][0] for k in memory_keys},
                           "measured": {k: checks[k][1] for k in memory_keys}}
    other = {k: v for k, v in checks.items() if k != "params" and k not in memory_keys}
    if other:
        extra["checks"] = {k: {"predicted": p, "measured": m} for k, (p, m) in other.items()}
    note = tr.reason
    if status == "unsupported":
        blind = tr.counts["unsupported"]
        ops = ", ".join(f"{op} ×{n}" for op, n in tr.unsupported.items())
        note = (f"{blind} module(s) where {tr.tool} reports ops it cannot count"
                + (f" ({ops})" if ops else "") + (f"; {note}" if note else ""))
    elif status == "no-formula":
        note = (f"{tr.counts['no-formula']} module(s) where paramscope has no rule for "
                f"{tr.tool}'s count (not the tool's fault)" + (f"; {note}" if note else ""))
    return MeasurerResult(tr.tool, tr.convention, status, total, predicted,
                          note=note, explanation=explanation,
                          unsupported_ops=dict(tr.unsupported), extra=extra)


def run_measurers(report: Report, subject, tools: tuple[str, ...], fvcore_budget: int | None = None,
                  classes: dict[str, type] | None = None) -> None:
    """Predict and measure with each tool; a failing tool marks only its own column.
    ``classes`` replaces the measurer class of some tools (training mode's flop_counter)."""
    from paramscope.measure import MEASURERS

    registry = {**{t: MEASURERS[t] for t in tools}, **(classes or {})}
    from paramscope.reconciling.reconcile import compare

    graph = subject.graph
    try:
        model = subject.meta_model()
    except Exception as err:  # building the meta model failed: every tool is skipped
        for tool in tools:
            report.measurers[tool] = MeasurerResult(tool, "", "failed",
                                                    note=f"could not build the model on meta: {err}")
        return
    measurers = [registry[tool](budget_bytes=fvcore_budget)  # the tools that run on real tensors
                 if tool in ("fvcore", "flop_counter_cpu") and fvcore_budget else registry[tool]()
                 for tool in tools]
    joined = compare(model, graph.input_shape, graph.dtype, tools=measurers, graph=graph)
    first_row = {}
    for row in report.layers:
        first_row.setdefault(row.node.name, row)
    for module_row in joined.rows:
        target = first_row.get(module_row.name)
        for tool, cell in module_row.cells.items():
            entry = cell
            if target is not None:
                target.measured[tool] = entry
            elif cell.status not in ("match", "skipped"):
                report.notes.append(f"{tool}: module {module_row.name or '(root)'} "
                                    f"{cell.status}: {cell.reason}")
    for tool, tool_report in joined.tools.items():
        report.measurers[tool] = _result(tool_report)
