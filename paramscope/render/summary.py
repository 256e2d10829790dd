"""Render a Report as rich renderables (the CLI prints them) or plain JSON."""

from __future__ import annotations

from typing import Any

from paramscope.render.export import Col, Grid, csv_text, markdown_document, rich_table
from paramscope.reconciling.grouping import group_by_depth
from paramscope.render.units import commas, megabytes, percent, pick_unit, scaled, shape_text
from paramscope.reconciling.report import Report

TOOL_TITLES = {"torchinfo": "torchinfo mult-adds", "fvcore": "fvcore flops",
               "flop_counter": "FlopCounterMode flops", "flop_counter_cpu": "FlopCounterMode CPU flops"}
_MARK = {"match": "✓", "mismatch": "✗", "unsupported": "?", "skipped": "-", "failed": "!"}


def mark(status: str | None) -> str:
    return _MARK.get(status or "", "")


def layer_grid(report: Report, rows=None) -> Grid:
    """One row per layer call: name, kind, output, params, MACs, each tool's figure, status."""
    rows = report.layers if rows is None else rows
    tools = list(report.measurers)
    macs_unit = pick_unit(r.cost.macs for r in rows)
    # on a narrow terminal drop kind first, then output, status, and each tool's column last
    grid = Grid([Col("layer"), Col("kind", optional=4), Col("output", optional=3), Col("params", numeric=True),
                 Col("MACs", numeric=True), *(Col(TOOL_TITLES.get(t, t), numeric=True, optional=1) for t in tools),
                 Col("status", optional=2)])
    for row in rows:
        cells = [row.node.key or "(root)", row.node.kind, shape_text(row.node.out_shape),
                 commas(row.params) if row.params else "--", scaled(row.cost.macs, macs_unit)]
        for tool in tools:
            m = row.measured.get(tool)
            value = m.measured if m is not None else None
            cells.append(f"{commas(value) if value is not None else '--'} "
                         f"{mark(m.status if m is not None else None)}".strip())
        cells.append(row.status)
        grid.add(*cells)
    return grid


def depth_grid(report: Report, depth: int) -> Grid:
    """Rows grouped by module depth, with subtotals that add up to the totals."""
    groups = group_by_depth(report, depth)
    t = report.totals
    grid = Grid([Col("module"), Col("kind", optional=2), Col("output", optional=1),
                 Col("layers", numeric=True, optional=3), Col("params", numeric=True),
                 Col("share", numeric=True, optional=4), Col("MACs", numeric=True),
                 Col("FLOPs", numeric=True, optional=3)], title=f"By module, depth {depth}")
    for g in groups:
        grid.add(g.name, g.kind, shape_text(g.out_shape), len(g.rows), commas(g.params) if g.params else "--",
                 percent(g.params, t["params"]), g.macs, g.flops)
    if report.extra_params:
        grid.add("(containers)", "", "", 0, report.extra_params, percent(report.extra_params, t["params"]), 0, 0)
    grid.add_footer("total", "", "", len(report.layers), t["params"], percent(t["params"], t["params"]),
                    t["macs"], t["flops"])
    return grid


def totals_grid(report: Report) -> Grid:
    t = report.totals
    grid = Grid([Col("total"), Col("value", numeric=True)])
    grid.add("params", f"{t['params']:,}")
    grid.add("  trainable", f"{t['trainable_params']:,}")
    grid.add("  frozen", f"{t['frozen_params']:,}")
    grid.add("buffers (not params)", f"{t['buffers']:,}")
    low = "" if report.complete else "≥ "  # an op with no formula: the totals are lower bounds
    grid.add("MACs", f"{low}{t['macs']:,} ({scaled(t['macs'], pick_unit([t['macs']]))})")
    grid.add("FLOPs", f"{low}{t['flops']:,} ({scaled(t['flops'], pick_unit([t['flops']]))})")
    grid.add("input", megabytes(t["input_bytes"]))
    grid.add("activations (forward)", megabytes(t["activation_bytes"]))
    grid.add("params memory", megabytes(t["param_bytes"]))
    return grid


def memory_grid(report: Report) -> Grid | None:
    """torchinfo's memory estimate, as paramscope predicts it and torchinfo measured it."""
    info = report.measurers.get("torchinfo")
    memory = (info.extra or {}).get("memory") if info else None
    if not memory:
        return None
    grid = Grid([Col("memory (torchinfo convention)"), Col("predicted", numeric=True),
                 Col("torchinfo", numeric=True)])
    for key, label in (("input_bytes", "input size"), ("forward_backward_bytes", "forward/backward pass size"),
                       ("params_bytes", "params size"), ("total_bytes", "estimated total size")):
        pred = memory.get("predicted", {}).get(key)
        meas = memory.get("measured", {}).get(key)
        grid.add(label, megabytes(pred) if pred is not None else "--",
                 megabytes(meas) if meas is not None else "--")
    return grid


def reconciliation_grid(report: Report) -> Grid | None:
    """Per tool, as an equation: paramscope's figure + each category = predicted = measured."""
    if not report.measurers:
        return None
    grid = Grid([Col("tool"), Col("reconciliation"), Col("amount", numeric=True)],
                title="Each tool's total = paramscope's figure + the differences its rules predict")
    for tool, m in report.measurers.items():
        metric = m.extra.get("metric", "")
        base_name = m.extra.get("compared_with", "")
        labels = [tool, metric, f"{mark(m.status)} {m.status}"]
        lines: list[tuple[str, str]] = []
        if m.extra.get("paramscope_total") is not None:
            lines.append((f"paramscope {'MACs' if base_name == 'macs' else base_name.upper()}",
                          commas(m.extra["paramscope_total"])))
        for diff in m.explanation:
            lines.append((f"  {diff.category}", f"{diff.amount:+,}"))
        if m.predicted.get(metric) is not None:
            lines.append(("= predicted from the formulas", commas(m.predicted.get(metric))))
        if m.total.get(metric) is not None:
            lines.append((f"= {tool} measured", commas(m.total.get(metric))))
        if m.note:
            lines.append((m.note, ""))
        for i, (text, amount) in enumerate(lines or [("", "")]):
            grid.add(labels[i] if i < len(labels) else "", text, amount)
        for label in labels[len(lines):]:
            grid.add(label, "", "")
    return grid


def head_line(report: Report) -> str:
    return (f"{report.target}  input {shape_text(report.input_shape)}  {report.dtype}  "
            f"({'spec' if report.source == 'spec' else 'traced on meta'})")


def summary_grids(report: Report, depth: int | None = None) -> list[Grid | str]:
    """Everything ``summary`` shows, as Grids and note strings (terminal and Markdown)."""
    from paramscope.render.perf import perf_grids

    parts: list[Grid | str] = [depth_grid(report, depth) if depth else layer_grid(report), totals_grid(report)]
    from paramscope.training.render import training_grids

    parts += training_grids(report)  # --mode train only
    parts += perf_grids(report)  # time / roofline / receptive fields, when asked for
    for extra in (memory_grid(report), reconciliation_grid(report)):
        if extra is not None:
            parts.append(extra)
    parts += [f"note: {note}" for note in report.notes]
    return parts


def summary_renderables(report: Report, depth: int | None = None, width: int | None = None,
                        plain: bool | None = None) -> list[Any]:
    from rich.text import Text

    out: list[Any] = [Text(head_line(report), style=None if plain else "bold")]
    for part in summary_grids(report, depth):
        out.append(rich_table(part, width=width, plain=plain) if isinstance(part, Grid) else Text(part))
    return out


def summary_markdown(report: Report, depth: int | None = None) -> str:
    return markdown_document(summary_grids(report, depth), title=f"`{report.target}` — input "
                             f"{shape_text(report.input_shape)}, {report.dtype}")


LAYER_CSV = ("name", "module", "kind", "call_index", "in_shape", "out_shape", "params", "weight", "bias",
             "trainable_params", "macs", "flops", "activation_bytes", "status")
DEPTH_CSV = ("module", "kind", "layers", "out_shape", "params", "macs", "flops", "activation_bytes")


def summary_csv(report: Report, depth: int | None = None) -> str:
    """One row per layer call (or per module group with ``depth``); integers unformatted."""
    def dims(shape) -> str:
        from paramscope.graph import shape_text as text

        return text(shape, sep="x")

    if depth:
        rows = [[g.name, g.kind, len(g.rows), dims(g.out_shape), g.params, g.macs, g.flops, g.activation_bytes]
                for g in group_by_depth(report, depth)]
        if report.extra_params:
            rows.append(["(containers)", "", 0, "", report.extra_params, 0, 0, 0])
        return csv_text(DEPTH_CSV, rows)
    tools = list(report.measurers)
    header = [*LAYER_CSV, *(f"{t}_{k}" for t in tools for k in ("measured", "predicted", "status"))]
    rows = []
    for r in report.layers:
        d = r.to_dict()
        row = [d["name"], d["module"], d["kind"], d["call_index"], dims(d["in_shape"]), dims(d["out_shape"]),
               d["params"], r.cost.params.get("weight", 0), r.cost.params.get("bias", 0), d["trainable_params"],
               d["macs"], d["flops"], d["activation_bytes"], d["status"]]
        for t in tools:
            m = r.measured.get(t)
            row += [m.measured, m.predicted, m.status] if m is not None else [None, None, None]
        rows.append(row)
    return csv_text(header, rows)
