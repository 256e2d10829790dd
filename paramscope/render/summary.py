"""Render a Report as rich renderables (the CLI prints them) or plain JSON."""

from __future__ import annotations

from typing import Any

from paramscope.render.console import simple_table
from paramscope.render.units import commas, megabytes, pick_unit, scaled, shape_text
from paramscope.report import Report

TOOL_TITLES = {"torchinfo": "torchinfo mult-adds", "fvcore": "fvcore flops",
               "flop_counter": "FlopCounterMode flops"}
_MARK = {"match": "✓", "mismatch": "✗", "unsupported": "?", "skipped": "-", "failed": "!"}


def mark(status: str | None) -> str:
    return _MARK.get(status or "", "")


def layer_table(report: Report, rows=None):
    rows = report.layers if rows is None else rows
    tools = list(report.measurers)
    macs_unit = pick_unit(r.cost.macs for r in rows)
    table = simple_table(["layer", "kind", "output", "params", "MACs",
                          *(TOOL_TITLES.get(t, t) for t in tools), "status"],
                         numeric=("params", "MACs", *(TOOL_TITLES.get(t, t) for t in tools)))
    for row in rows:
        cells = [row.node.key or "(root)", row.node.kind, shape_text(row.node.out_shape),
                 commas(row.params) if row.params else "--", scaled(row.cost.macs, macs_unit)]
        for tool in tools:
            m = row.measured.get(tool, {})
            value = m.get("measured")
            cells.append(f"{commas(value) if value is not None else '--'} {mark(m.get('status'))}".strip())
        cells.append(row.status)
        table.add_row(*cells)
    return table


def totals_table(report: Report):
    t = report.totals
    table = simple_table(["total", "value"], numeric=("value",))
    table.add_row("params", f"{t['params']:,}")
    table.add_row("  trainable", f"{t['trainable_params']:,}")
    table.add_row("  frozen", f"{t['frozen_params']:,}")
    table.add_row("buffers (not params)", f"{t['buffers']:,}")
    table.add_row("MACs", f"{t['macs']:,} ({scaled(t['macs'], pick_unit([t['macs']]))})")
    table.add_row("FLOPs", f"{t['flops']:,} ({scaled(t['flops'], pick_unit([t['flops']]))})")
    table.add_row("input", megabytes(t["input_bytes"]))
    table.add_row("activations (forward)", megabytes(t["activation_bytes"]))
    table.add_row("params memory", megabytes(t["param_bytes"]))
    return table


def memory_table(report: Report):
    """torchinfo's memory estimate, as paramscope predicts it and torchinfo measured it."""
    info = report.measurers.get("torchinfo")
    memory = (info.extra or {}).get("memory") if info else None
    if not memory:
        return None
    table = simple_table(["memory (torchinfo convention)", "predicted", "torchinfo"],
                         numeric=("predicted", "torchinfo"))
    for key, label in (("input_bytes", "input size"), ("forward_backward_bytes", "forward/backward pass size"),
                       ("params_bytes", "params size"), ("total_bytes", "estimated total size")):
        pred = memory.get("predicted", {}).get(key)
        meas = memory.get("measured", {}).get(key)
        table.add_row(label, megabytes(pred) if pred is not None else "--",
                      megabytes(meas) if meas is not None else "--")
    return table


def reconciliation_table(report: Report):
    if not report.measurers:
        return None
    table = simple_table(["tool", "convention", "measured total", "predicted", "status", "why it differs from paramscope"],
                         numeric=("measured total", "predicted"))
    for tool, m in report.measurers.items():
        measured = m.total.get("flops") if m.total else None
        predicted = m.predicted.get("flops") if m.predicted else None
        why = "; ".join(m.explanation) or m.note
        if m.note and m.explanation:
            why = f"{why}; {m.note}"
        table.add_row(tool, m.convention.split(".")[0], commas(measured), commas(predicted),
                      f"{mark(m.status)} {m.status}", why)
    return table


def summary_renderables(report: Report) -> list[Any]:
    from rich.text import Text

    head = Text(f"{report.target}  input {shape_text(report.input_shape)}  {report.dtype}  "
                f"({'spec' if report.source == 'spec' else 'traced on meta'})", style="bold")
    parts: list[Any] = [head, layer_table(report), totals_table(report)]
    for extra in (memory_table(report), reconciliation_table(report)):
        if extra is not None:
            parts.append(extra)
    for note in report.notes:
        parts.append(Text(f"note: {note}"))
    return parts
