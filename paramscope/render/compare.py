"""``compare``: several Reports side by side.

:class:`paramscope.reconciling.comparison.Comparison` holds the data (ratios, per-stage groups,
per-layer alignment); the functions below turn it into Grids (terminal, Markdown), CSV
rows and JSON.  Every figure comes from the Reports and every arithmetic line
from the formulas' Terms; nothing is recomputed here.
"""

from __future__ import annotations

from typing import Any

from paramscope.reconciling.comparison import ARITHMETIC_ROWS, Comparison
from paramscope.render.export import Col, Grid, csv_shape
from paramscope.render.units import commas, human, nbytes, percent, shape_text
from paramscope.reconciling.report import SEVERITY, LayerRow, Report
from paramscope.tracing.depth import DEFINITION as DEPTH_DEFINITION, LABEL as DEPTH_LABEL

# ---------------------------------------------------------------------- grids


def _measured(report: Report) -> str:
    if not report.measurers:
        return "not measured"
    from collections import Counter

    counts = Counter(m.status for m in report.measurers.values())
    text = ", ".join(f"{counts[s]} {s}" for s in SEVERITY if counts[s])  # the worst first
    sign = "✓" if set(counts) <= {"match", "skipped"} else "✗" if not report.ok else "?"  # ✓: all agree
    return f"{sign} {text}"



def headline_grid(cmp: Comparison) -> Grid:
    grid = Grid([Col(""), *(Col(label, numeric=True) for label in cmp.labels)],
                title=f"Compared with {cmp.labels[0]}" if len(cmp.labels) > 1 else None)
    totals = [r.totals for r in cmp.reports]
    weight = [sum(row.cost.params.get("weight", 0) for row in r.layers) for r in cmp.reports]
    bias = [sum(row.cost.params.get("bias", 0) for row in r.layers) for r in cmp.reports]
    grid.add("input", *(shape_text(r.input_shape) for r in cmp.reports))
    grid.add("params", *(t["params"] for t in totals))
    grid.add("  weight / bias", *(f"{w:,} / {b:,}" for w, b in zip(weight, bias)))
    other = [t["params"] - w - b for t, w, b in zip(totals, weight, bias)]
    if any(other):
        grid.add("  other params", *other)
    low = ["" if r.complete else "≥ " for r in cmp.reports]  # lower bounds when incomplete
    grid.add("MACs", *(f"{lo}{t['macs']:,}" if lo else t["macs"] for lo, t in zip(low, totals)))
    grid.add("FLOPs", *(f"{lo}{t['flops']:,}" if lo else t["flops"] for lo, t in zip(low, totals)))
    grid.add("activation memory", *(nbytes(t["activation_bytes"]) for t in totals))
    if all("backward_macs" in t for t in totals):  # --mode train
        grid.add("backward MACs", *(t["backward_macs"] for t in totals))
        grid.add("FLOPs forward + backward", *(t["flops"] + t["backward_flops"] for t in totals))
        grid.add("training peak memory", *(nbytes(t["training_memory"]["peak"]) for t in totals))
    grid.add("output", *(shape_text(_output(r)) for r in cmp.reports))
    grid.add(DEPTH_LABEL, *("?" if d is None else d for d in cmp.depths()))
    if len(cmp.reports) > 1:
        ratios = cmp.ratios()
        for key, noun in (("params", "params"), ("macs", "MACs"), ("flops", "FLOPs")):
            grid.add(f"{noun} vs first", "baseline", *(r[f"{key}_text"] for r in ratios[1:]))
    from paramscope.render.perf import headline_rows

    for row in headline_rows(cmp.reports):  # receptive field, measured time (when computed)
        grid.add(*row)
    grid.add("measured", *(_measured(r) for r in cmp.reports))
    return grid


def _output(report: Report):
    return report.layers[-1].node.out_shape if report.layers else report.input_shape


def stage_grid(cmp: Comparison) -> Grid:
    mode, rows = cmp.stage_alignment()
    cols = [Col("stage" if mode == "name" else "#")]
    for label in cmp.labels:
        if mode == "position":
            cols.append(Col("stage", group=label))
        cols += [Col("params", numeric=True, group=label),
                 Col("share", numeric=True, optional=2, group=label),
                 Col("MACs", numeric=True, optional=1, group=label)]
    grid = Grid(cols, title="Per stage")
    for aligned in rows:
        cells: list[Any] = [aligned.label]
        for i, group in enumerate(aligned.items):
            total = cmp.reports[i].totals["params"]
            if mode == "position":
                cells.append(group.name if group else "")
            cells += ([group.params, percent(group.params, total), human(group.macs)]
                      if group else ["", "", ""])
        grid.add(*cells)
    footer: list[Any] = ["total"]
    for report in cmp.reports:
        t = report.totals
        if mode == "position":
            footer.append("")
        footer += [t["params"], percent(t["params"], t["params"]), human(t["macs"])]
    grid.add_footer(*footer)
    return grid


def layer_grid(cmp: Comparison) -> Grid:
    mode, rows = cmp.layer_alignment()
    cols = [Col("layer" if mode == "name" else "#")]
    for label in cmp.labels:
        if mode == "position":
            cols.append(Col("layer", group=label))
        cols += [Col("params", numeric=True, group=label), Col("MACs", numeric=True, optional=1, group=label)]
    title = "Per layer (layers with params or MACs; " + (
        "aligned by module name)" if mode == "name" else "aligned by position)")
    grid = Grid(cols, title=title)
    for aligned in rows:
        cells: list[Any] = [aligned.label]
        for row in aligned.items:
            if mode == "position":
                cells.append(row.node.key if row else "")
            cells += [row.params if row else "", human(row.cost.macs) if row else ""]
        grid.add(*cells)
    return grid


def _term(row: LayerRow | None, quantity: str) -> str:
    if row is None:
        return "--"
    for term in row.cost.terms:
        if term.quantity == quantity:
            return term.expression if term.expression == f"{term.value:,}" else f"{term.expression} = {term.value:,}"
    return ""


def arithmetic_grid(cmp: Comparison, limit: int | None = ARITHMETIC_ROWS) -> tuple[Grid | None, int]:
    """Weight, bias and MACs arithmetic of the aligned multiply-accumulating layers
    (conv, linear …) whose weight or MACs formula differs between targets.

    Returns the grid (None when every aligned layer has the same arithmetic) and
    how many differing layers were left out by ``limit``.
    """
    if len(cmp.reports) < 2:
        return None, 0
    mode, rows = cmp.layer_alignment()
    differing = [a for a in rows if any(r is not None and r.cost.macs for r in a.items)
                 and (len({_term(r, "weight") for r in a.items}) > 1 or len({_term(r, "macs") for r in a.items}) > 1)]
    if not differing:
        return None, 0
    shown = differing if limit is None else differing[:limit]
    grid = Grid([Col("layer" if mode == "name" else "#"), Col("term"), *(Col(label) for label in cmp.labels)],
                title="Where the arithmetic differs (from the formulas)")
    for aligned in shown:
        label = aligned.label
        if mode == "position":
            grid.add(label, "layer", *(r.node.key if r else "--" for r in aligned.items))
            label = ""
        quantities = ["weight"]
        if any(_term(r, "bias") for r in aligned.items if r is not None):
            quantities.append("bias")
        quantities.append("macs")
        for j, q in enumerate(quantities):
            grid.add(label if j == 0 else "", "MACs" if q == "macs" else q,
                     *(_term(r, q) or "--" for r in aligned.items))
    return grid, len(differing) - len(shown)


# ---------------------------------------------------------------------- outputs


def compare_dict(cmp: Comparison) -> dict[str, Any]:
    mode, _ = cmp.layer_alignment()
    return {
        "targets": [r.to_dict() for r in cmp.reports],
        "labels": cmp.labels,
        "baseline": cmp.labels[0],
        "ratios": cmp.ratios(),
        "stages": [[{"name": g.name, "layers": g.span, "params": g.params, "macs": g.macs,
                     "flops": g.flops, "activation_bytes": g.activation_bytes} for g in groups]
                   for groups in cmp.stage_groups],
        "layer_alignment": mode,
        "depths": cmp.depths(),
        "depth_definition": DEPTH_DEFINITION,
    }


CSV_HEADER = ("target", "input_shape", "output_shape", "params", "weight", "bias", "trainable_params",
              "macs", "flops", "activation_bytes", "depth", "params_ratio", "macs_ratio", "flops_ratio",
              "measured")


def compare_csv_rows(cmp: Comparison) -> list[list[Any]]:
    out = []
    for label, report, ratio, depth in zip(cmp.labels, cmp.reports, cmp.ratios(), cmp.depths()):
        t = report.totals
        out.append([label, csv_shape(report.input_shape), csv_shape(_output(report)),
                    t["params"], sum(r.cost.params.get("weight", 0) for r in report.layers),
                    sum(r.cost.params.get("bias", 0) for r in report.layers), t["trainable_params"],
                    t["macs"], t["flops"], t["activation_bytes"], depth,
                    ratio["params"], ratio["macs"], ratio["flops"],
                    ("ok" if report.ok else "mismatch") if report.measurers else "not measured"])
    return out


def compare_grids(cmp: Comparison, *, layers: bool = True) -> list[Grid | str]:
    """Everything ``compare`` shows, as Grids and note strings, in order (no charts)."""
    from paramscope.render.perf import speed_grid, speed_notes

    parts: list[Grid | str] = [headline_grid(cmp)]
    speed = speed_grid(cmp.labels, cmp.reports)  # --measure time: counted against measured
    if speed is not None:
        parts += [speed, *speed_notes(cmp.labels, cmp.reports)]
    if cmp.has_stages:
        parts.append(stage_grid(cmp))
    if layers:
        parts.append(layer_grid(cmp))
        grid, more = arithmetic_grid(cmp)
        if grid is not None:
            parts.append(grid)
            if more:
                parts.append(f"… and {more} more layers whose arithmetic differs "
                             f"(paramscope explain TARGET shows every derivation)")
    for label, report in zip(cmp.labels, cmp.reports):
        parts += [f"note ({label}): {note}" for note in report.notes]
    return parts


def stage_charts(cmp: Comparison, *, width: int, plain: bool) -> list[Any]:
    from paramscope.render.bars import BarRow, bar_chart

    charts = []
    for key, title in (("params", "Params per stage"), ("macs", "MACs per stage")):
        sections = []
        for label, report, groups in zip(cmp.labels, cmp.reports, cmp.stage_groups):
            total = report.totals[key]
            text = human if key == "macs" else commas
            sections.append((label, [BarRow(g.name, getattr(g, key), text(getattr(g, key)),
                                            percent(getattr(g, key), total)) for g in groups]))
        charts.append(bar_chart(title, sections, width=width, plain=plain))
    return charts


def compare_renderables(cmp: Comparison, *, width: int, plain: bool, layers: bool = True) -> list[Any]:
    from rich.text import Text

    from paramscope.render.export import rich_table

    out: list[Any] = []
    charts_done = False
    for part in compare_grids(cmp, layers=layers):
        if isinstance(part, Grid):
            out.append(rich_table(part, width=width, plain=plain))
            out.append(Text(""))
            if part.title == "Per stage" and not charts_done:
                out += [*_spaced(stage_charts(cmp, width=width, plain=plain))]
                charts_done = True
        else:
            out.append(Text(part))
    while out and isinstance(out[-1], Text) and not out[-1].plain:
        out.pop()
    return out


def _spaced(items: list[Any]) -> list[Any]:
    from rich.text import Text

    out = []
    for item in items:
        out += [item, Text("")]
    return out


def compare_markdown(cmp: Comparison, *, layers: bool = True) -> str:
    from paramscope.render.export import markdown_document

    title = " vs ".join(f"`{label}`" for label in cmp.labels)
    return markdown_document(compare_grids(cmp, layers=layers), title=title)


def plot_stages(cmp: Comparison, path: str) -> None:
    """Grouped bar charts of params and MACs per stage (matplotlib, PNG or SVG)."""
    import io
    import os

    import matplotlib.pyplot as plt

    from paramscope.render.export import write_atomic

    fig = stage_figure(cmp)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format=os.path.splitext(path)[1].lstrip(".").lower())
    finally:
        plt.close(fig)
    write_atomic(path, buf.getvalue(), option="--plot")


def stage_figure(cmp: Comparison):
    """The matplotlib Figure of :func:`plot_stages`; its count axes are labelled in K/M/G."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    from paramscope.render.units import tick_text

    mode, rows = cmp.stage_alignment()
    labels = [a.label if mode == "name" else " / ".join(g.name if g else "-" for g in a.items) for a in rows]
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 1.2 * len(rows) * max(1, len(cmp.reports)) / 2 + 4), 4.5))
    width = 0.8 / max(len(cmp.reports), 1)
    for ax, key, title in ((axes[0], "params", "params per stage"), (axes[1], "macs", "MACs per stage")):
        for i, label in enumerate(cmp.labels):
            values = [getattr(a.items[i], key) if a.items[i] is not None else 0 for a in rows]
            ax.bar([x + (i - (len(cmp.labels) - 1) / 2) * width for x in range(len(rows))], values,
                   width=width, label=label)
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels(labels, rotation=30, ha="right")
        ax.set_title(title)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: tick_text(value)))
    axes[0].legend()
    fig.tight_layout()
    return fig

