"""Render a Report as rich renderables (the CLI prints them) or plain JSON.

The layer table is torchinfo's module tree (:func:`tree_grid`): one row per module call
down to ``depth``, ``Class (name): depth-idx`` labels, deeper rows folded into their
ancestor's subtotal, columns chosen by name (:func:`parse_columns`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paramscope.errors import ParamscopeError
from paramscope.render.export import Col, Grid, csv_text, fitting_columns, markdown_document, rich_table
from paramscope.reconciling.grouping import Group, TreeNode, module_tree, visible_rows
from paramscope.render.units import commas, human, nbytes, percent, shape_text, torchinfo_mb
from paramscope.reconciling.report import Report, worst

TOOL_TITLES = {"torchinfo": "torchinfo mult-adds", "fvcore": "fvcore FLOPs",
               "flop_counter": "FlopCounterMode FLOPs", "flop_counter_cpu": "FlopCounterMode CPU FLOPs"}
_MARK = {"match": "✓", "mismatch": "✗", "unsupported": "?", "skipped": "-", "failed": "!"}
#: the status legend printed under a table that shows statuses
LEGEND = ("status: ✓ match  ✗ mismatch  ? unsupported (by a tool)  no-formula (paramscope has none)  - skipped  "
          "! failed  ok (formula only: no tool counts this call on its own)  zero (nothing to count)")
#: torchinfo's default depth
DEFAULT_DEPTH = 3


def mark(status: str | None) -> str:
    return _MARK.get(status or "", "")


# --------------------------------------------------------------------------- columns


@dataclass(frozen=True)
class Column:
    """A column of the tree table: its ``--columns`` name, header and drop priority
    (Grid's ``optional``: on a narrow terminal the highest is dropped first)."""

    name: str
    header: str
    optional: int
    figure: bool = True  # a number that adds up (rows with nothing in any are hidden)


COLUMNS = {c.name: c for c in (
    Column("input", "input", 8, figure=False), Column("output", "output", 3, figure=False),
    Column("kernel", "kernel", 9, figure=False), Column("params", "params", 0),
    Column("share", "params %", 6), Column("trainable", "trainable", 7, figure=False),
    Column("macs", "MACs", 0), Column("flops", "FLOPs", 1), Column("memory", "memory", 5),
    Column("status", "status", 2, figure=False))}
#: torchinfo's col_names spellings
TORCHINFO_NAMES = {"input_size": "input", "output_size": "output", "kernel_size": "kernel",
                   "num_params": "params", "params_percent": "share", "trainable": "trainable",
                   "mult_adds": "macs"}
DEFAULT_COLUMNS = ("output", "params", "macs", "flops")
#: each tool's column goes before output and status (the status sums their verdicts up)
_TOOL_OPTIONAL = 4


def parse_columns(names, tools: tuple[str, ...] | list[str] = (), option: str = "--columns") -> tuple[str, ...]:
    """``"output,params,torchinfo"`` or torchinfo's ``("output_size", "num_params")`` ->
    column names, checked (a ParamscopeError lists the choices).  ``tools`` are the
    measurers that ran (each is a column)."""
    from paramscope.errors import closest

    items = names.split(",") if isinstance(names, str) else list(names)
    out = []
    for item in items:
        name = str(getattr(item, "value", item)).strip()  # torchinfo's ColumnSettings members too
        name = TORCHINFO_NAMES.get(name, name)
        if not name:
            continue
        if name not in COLUMNS and name not in tools:
            choices = [*COLUMNS, *tools]
            raise ParamscopeError(f"{option}: unknown column {name!r}{closest(name, choices)}; "
                                  f"choices: {', '.join(choices)}")
        out.append(name)
    if not out:
        raise ParamscopeError(f"{option}: no columns given; choices: {', '.join([*COLUMNS, *tools])}")
    return tuple(dict.fromkeys(out))


def default_columns(report: Report) -> tuple[str, ...]:
    """output, params, MACs, FLOPs, and each tool's figure and the status when tools ran."""
    tools = tuple(report.measurers)
    return DEFAULT_COLUMNS + tools + (("status",) if tools else ())


# --------------------------------------------------------------------------- the tree


def tree_prefix(depth: int) -> str:
    """torchinfo's row prefix, in every output (piped too, as torchinfo prints it):
    ``├─`` at depth 1, ``│    └─`` below."""
    if depth == 0:
        return ""
    return "├─" if depth == 1 else "│    " * (depth - 1) + "└─"


def tree_label(node: TreeNode) -> str:
    """``Bottleneck: 2-1`` (torchinfo's ``Class: depth-idx``); ``add()`` for a functional op."""
    if node.functional:
        return f"{node.kind}()"
    if node.depth == 0:
        return node.kind
    return f"{node.kind}: {node.depth}-{node.index}"


@dataclass
class TreeView:
    """The rows a summary shows at ``depth``: each node with its figures, and what was hidden."""

    rows: list[tuple[TreeNode, Group]]
    hidden: list[TreeNode]
    height: int  # the deepest node's depth


def tree_view(report: Report, depth: int, columns: tuple[str, ...], all_rows: bool = False) -> TreeView:
    """The visible rows at ``depth``; rows that carry nothing in any shown figure column (and
    no verdict worth seeing) are hidden unless ``all_rows``."""
    root = module_tree(report)
    rows = visible_rows(root, depth)
    if all_rows:
        return TreeView(rows, [], root.height)
    keep: set[int] = set()
    figures = [c for c in columns if c in report.measurers or COLUMNS[c].figure]
    for node, group in reversed(rows):  # children come after their parent: decide them first
        if node.depth == 0 or _carries(group, figures, report) or any(id(c) in keep for c in node.children):
            keep.add(id(node))
    return TreeView([(n, g) for n, g in rows if id(n) in keep], [n for n, _ in rows if id(n) not in keep],
                    root.height)


def _carries(group: Group, figures: list[str], report: Report) -> bool:
    """Whether a row shows something in one of the ``figures`` columns (or a verdict to see)."""
    if not figures:
        return True
    if any(r.status in ("mismatch", "failed", "no-formula", "unsupported") for r in group.rows):
        return True
    for c in figures:
        if c in ("params", "share") and group.params:
            return True
        if c in ("macs", "flops") and any(getattr(r.cost, c) != 0 for r in group.rows):
            return True  # None (no formula) too
        if c == "memory" and group.activation_bytes:
            return True
        if c in report.measurers and any((r.measured[c].measured or 0) for r in group.rows if c in r.measured):
            return True
    return False


def tree_grid(report: Report, depth: int = DEFAULT_DEPTH, columns: tuple[str, ...] | None = None,
              all_rows: bool = False) -> tuple[Grid, TreeView]:
    """torchinfo's summary table: one row per module call down to ``depth`` (the
    ``columns`` given, :func:`default_columns` when None), a total row under it."""
    columns = columns or default_columns(report)
    view = tree_view(report, depth, columns, all_rows)
    cols = [Col("Layer (type:depth-idx)", wrap=False)]
    for name in columns:
        if name in COLUMNS:
            c = COLUMNS[name]
            cols.append(Col(c.header, numeric=c.figure or name == "trainable", optional=c.optional))
        else:
            cols.append(Col(TOOL_TITLES.get(name, name), numeric=True, optional=_TOOL_OPTIONAL))
    grid = Grid(cols)
    total = report.totals
    for node, group in view.rows:
        whole = node.group(folded=True)  # shapes are the module's whatever is folded
        label = tree_prefix(node.depth) + tree_label(node)
        grid.add(label, *(_cell(name, node, group, whole, report, total) for name in columns))
    low = "" if report.complete else "≥ "
    foot = {"params": commas(total["params"]), "share": percent(total["params"], total["params"]),
            "macs": low + human(total["macs"]), "flops": low + human(total["flops"]),
            "memory": nbytes(total["activation_bytes"])}
    for tool, value in tool_totals(report).items():  # each tool's own total, beside paramscope's
        foot[tool] = f"{human(value)} {mark(report.measurers[tool].status)}"
    grid.add_footer("Total", *(foot.get(name, "") for name in columns))
    return grid, view


def _cell(name: str, node: TreeNode, group: Group, whole: Group, report: Report, total: dict) -> str:
    if name == "input":
        return shape_text(whole.in_shape)
    if name == "output":
        return shape_text(whole.out_shape)
    if name == "kernel":
        kernel = [r.node.hparams.get("kernel_size") for r in node.rows if not r.node.is_functional]
        return shape_text(kernel[0]) if kernel and isinstance(kernel[0], tuple) else \
            (str(kernel[0]) if kernel and kernel[0] is not None else "--")
    if name == "params":
        if group.params:
            return commas(group.params)
        shared = node.repeat and any(r.node.params for r in node.rows)
        return "(recursive)" if shared else "--"
    if name == "share":
        return percent(group.params, total["params"]) if group.params else "--"
    if name == "trainable":
        if not group.params:
            return "--"
        return "True" if group.trainable_params == group.params else \
            ("False" if not group.trainable_params else "Partial")
    if name in ("macs", "flops"):
        return _figure([getattr(r.cost, name) for r in group.rows])
    if name == "memory":
        return nbytes(group.activation_bytes) if group.rows else "--"
    if name == "status":
        status = worst(r.status for r in group.rows)
        return f"{mark(status)} {status}".strip()
    measured = tool_figure(group, name)
    if measured is None:
        return "--"
    value, status = measured
    return f"{'--' if value is None else human(value)} {mark(status)}".strip()


def tool_figure(group: Group, tool: str) -> tuple[int | None, str] | None:
    """``(the tool's figure summed over the row's layer calls, its worst verdict)``; the
    figure None when the tool gave none; None when the tool judged no call of the row."""
    verdicts = [r.measured[tool] for r in group.rows if tool in r.measured]
    if not verdicts:
        return None
    values = [v.measured for v in verdicts if v.measured is not None]
    return (sum(values) if values else None), worst(v.status for v in verdicts)


def _figure(values: list[int | None]) -> str:
    """A MACs/FLOPs cell: ``--`` for no rows, ``≥ x`` when an op beneath has no formula."""
    if not values:
        return "--"
    known = sum(v for v in values if v is not None)
    if None in values:
        return f"≥ {human(known)}" if known else "?"
    return human(known)


def tree_notes(report: Report, view: TreeView, depth: int, columns: tuple[str, ...]) -> list[str]:
    """The lines under the tree: folded depth, hidden rows, the status legend."""
    notes = []
    if view.height > depth:
        notes.append(f"rows deeper than {depth} are folded into their depth-{depth} module "
                     f"(--depth {view.height} shows every row)")
    if view.hidden:
        kinds = list(dict.fromkeys(tree_label(n).split(":")[0] for n in view.hidden))
        more = f", … {len(kinds) - 6} more kinds" if len(kinds) > 6 else ""
        rows = "1 row" if len(view.hidden) == 1 else f"{len(view.hidden)} rows"
        notes.append(f"{rows} with nothing to count hidden ({', '.join(kinds[:6])}{more}); --all-rows shows them")
    if "status" in columns or any(c in report.measurers for c in columns):
        notes.append(LEGEND)
    return notes


def tool_totals(report: Report) -> dict[str, int]:
    """Each measurer's own total in its metric (torchinfo's mult-adds, fvcore's flops …)."""
    out = {}
    for tool, m in report.measurers.items():
        value = m.total.get(m.extra.get("metric", "")) if m.total else None
        if value is not None:
            out[tool] = value
    return out


def totals_grid(report: Report) -> Grid:
    t = report.totals
    grid = Grid([Col("total"), Col("value", numeric=True)])
    grid.add("params", f"{t['params']:,}")
    grid.add("  trainable", f"{t['trainable_params']:,}")
    grid.add("  frozen", f"{t['frozen_params']:,}")
    grid.add("buffers (not params)", f"{t['buffers']:,}")
    low = "" if report.complete else "≥ "  # an op with no formula: the totals are lower bounds
    grid.add("MACs", low + _exact_and_human(t["macs"]))
    grid.add("FLOPs", low + _exact_and_human(t["flops"]))
    for tool, value in tool_totals(report).items():  # torchinfo's "Total mult-adds" and the others'
        grid.add(f"{TOOL_TITLES.get(tool, tool)} (measured)",
                 f"{_exact_and_human(value)} {mark(report.measurers[tool].status)}".strip())
    grid.add("input", nbytes(t["input_bytes"]))
    grid.add("activations (forward)", nbytes(t["activation_bytes"]))
    grid.add("params memory", nbytes(t["param_bytes"]))
    return grid


def _exact_and_human(value: int) -> str:
    """``4,089,184,256 (4.09 G)``; just ``1,280`` where the human figure is the exact one."""
    short = human(value)
    return f"{value:,}" if short == f"{value:,}" else f"{value:,} ({short})"


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
        grid.add(label, torchinfo_mb(pred), torchinfo_mb(meas))
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
            noun = {"macs": "MACs", "flops": "FLOPs"}.get(base_name, base_name)
            lines.append((f"paramscope {noun}", commas(m.extra["paramscope_total"])))
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


def summary_grids(report: Report, depth: int | None = None, columns: tuple[str, ...] | None = None,
                  all_rows: bool = False) -> list[Grid | str]:
    """Everything ``summary`` shows, as Grids and note strings (terminal and Markdown)."""
    from paramscope.render.perf import perf_grids

    depth = depth or DEFAULT_DEPTH
    columns = columns or default_columns(report)
    tree, view = tree_grid(report, depth, columns, all_rows)
    parts: list[Grid | str] = [tree, *tree_notes(report, view, depth, columns), totals_grid(report)]
    from paramscope.training.render import training_grids

    parts += training_grids(report)  # --mode train only
    parts += perf_grids(report)  # time / roofline / receptive fields, when asked for
    for extra in (memory_grid(report), reconciliation_grid(report)):
        if extra is not None:
            parts.append(extra)
    parts += [f"note: {note}" for note in report.notes]
    return parts


def summary_renderables(report: Report, depth: int | None = None, width: int | None = None,
                        plain: bool | None = None, columns: tuple[str, ...] | None = None,
                        all_rows: bool = False) -> list[Any]:
    """The summary for a terminal: the tree (a line naming the columns a narrow ``width``
    dropped), totals, memory, reconciliation, notes; statuses coloured unless ``plain``."""
    from rich.text import Text

    from paramscope.render.console import plain_output, status_colours

    plain = plain_output() if plain is None else plain
    out: list[Any] = [Text(head_line(report), style=None if plain else "bold")]
    parts = summary_grids(report, depth, columns, all_rows)
    tree = parts[0]
    assert isinstance(tree, Grid)
    shown = columns or default_columns(report)
    keep = fitting_columns(tree, width)
    dropped = [name for i, name in enumerate(shown, start=1) if i not in keep]
    if set(shown) - set(dropped) <= {c for c in COLUMNS if c != "status"}:
        parts = [p for p in parts if p != LEGEND]  # no status left on screen to explain
    for n, part in enumerate(parts):
        rendered = rich_table(part, width=width, plain=plain) if isinstance(part, Grid) else Text(part)
        out.append(rendered if plain or n else status_colours(rendered))
    return out


def summary_markdown(report: Report, depth: int | None = None, columns: tuple[str, ...] | None = None,
                     all_rows: bool = False) -> str:
    return markdown_document(summary_grids(report, depth, columns, all_rows),
                             title=f"`{report.target}` — input {shape_text(report.input_shape)}, {report.dtype}")


TREE_CSV = ("layer", "module", "class", "depth", "depth_index", "functional", "subtotal", "in_shape",
            "out_shape", "params", "trainable_params", "macs", "flops", "activation_bytes", "status")


def summary_csv(report: Report, depth: int | None = None, all_rows: bool = False,
                columns: tuple[str, ...] | None = None) -> str:
    """The table's rows (the tree at ``depth``, the same rows hidden), every figure as an
    unformatted integer: ``subtotal`` says a row carries the modules folded beneath it;
    MACs/FLOPs are empty where an op beneath has no formula."""
    from paramscope.render.export import csv_shape

    depth = depth or DEFAULT_DEPTH
    view = tree_view(report, depth, columns or default_columns(report), all_rows)
    tools = list(report.measurers)
    rows = []
    for node, group in view.rows:
        whole = node.group(folded=True)
        row = [tree_label(node), node.name, node.kind, node.depth, node.index or "", node.functional,
               bool(node.children) and (node.depth == depth), csv_shape(whole.in_shape),
               csv_shape(whole.out_shape), group.params, group.trainable_params,
               *(None if any(getattr(r.cost, k) is None for r in group.rows) else getattr(group, k)
                 for k in ("macs", "flops")),
               group.activation_bytes, worst(r.status for r in group.rows)]
        for t in tools:
            row += tool_figure(group, t) or (None, "")
        rows.append(row)
    return csv_text([*TREE_CSV, *(f"{t}_{k}" for t in tools for k in ("measured", "status"))], rows)
