"""``explain``: the derivation of every figure, written from the formulas' Terms.

Per layer ``conv1: params = 3×64×3×3 + 64 = 1,792``, then the sum
``260,160 = (3×64×3×3 + 64) + (64×64×3×3 + 64) + …``; for long networks one sum
per stage and then the total of the stage subtotals.  The same for MACs (with
the output size) and, on request, FLOPs.  Nothing is recomputed: expressions
and values are the Terms the formulas returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paramscope.reconciling.grouping import Group, group_by_depth, stages
from paramscope.reconciling.names import select
from paramscope.render.units import shape_text
from paramscope.reconciling.report import LayerRow, Report

QUANTITIES = ("params", "macs", "flops")
TITLES = {"params": "Parameters", "macs": "MACs (output positions × weight)", "flops": "FLOPs"}
#: a sum with more terms than this is split by stage (and written with values, not expressions)
LONG = 8


def term(row: LayerRow, quantity: str):
    for t in row.cost.terms:
        if t.quantity == quantity:
            return t
    return None


def equation(expression: str, value: int) -> str:
    """``'3×64×3×3 + 64 = 1,792'``; just ``'64'`` when the expression is the value."""
    text = f"{value:,}"
    return text if expression == text else f"{expression} = {text}"


def _contributes(row: LayerRow, quantity: str) -> bool:
    if quantity == "params":
        return bool(row.params) and term(row, "params") is not None
    value = row.cost.macs if quantity == "macs" else row.cost.flops
    return bool(value) and term(row, quantity) is not None


def _value(row: LayerRow, quantity: str) -> int:
    return {"params": row.params, "macs": row.cost.macs or 0, "flops": row.cost.flops or 0}[quantity]


def layer_line(row: LayerRow, quantity: str) -> str:
    t = term(row, quantity)
    line = f"{row.node.key}: {quantity} = {equation(t.expression, t.value)}"
    if quantity in ("macs", "flops"):
        line += f"  (output {shape_text(row.node.out_shape)})"
    return line


def sum_expression(rows: list[LayerRow], quantity: str, *, expressions: bool) -> str:
    parts = []
    for row in rows:
        t = term(row, quantity)
        simple = t.expression.replace(",", "").isdigit()
        if expressions and quantity == "params":
            parts.append(t.expression if simple or " " not in t.expression else f"({t.expression})")
        else:
            parts.append(f"{t.value:,}")
    return " + ".join(parts) if parts else "0"


@dataclass
class Section:
    """The derivation of one quantity: per-layer lines grouped, subtotals, the total."""

    quantity: str
    groups: list[tuple[Group, list[LayerRow], str]] = field(default_factory=list)  # group, rows, subtotal line
    total_line: str = ""
    total: int = 0
    extra: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        staged = len(self.groups) > 1
        for group, rows, subtotal in self.groups:
            if staged:
                out.append(f"{group.name} ({group.span})" if group.span != group.name else group.name)
            out += [("  " if staged else "") + layer_line(r, self.quantity) for r in rows]
            if staged and len(rows) > 1:
                out.append("  " + subtotal)
        out += self.extra
        out.append(self.total_line)
        return out


@dataclass
class Explanation:
    report: Report
    scope: str | None  # None: whole network; else the layer / container explained
    rows: list[LayerRow]
    sections: list[Section]
    detail: bool  # True: one leaf layer (every term shown)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.report.target,
            "input_shape": list(self.report.input_shape),
            "dtype": self.report.dtype,
            "scope": self.scope,
            "layers": [{"name": r.node.key, "module": r.node.name, "kind": r.node.kind,
                        "in_shape": list(r.node.in_shape), "out_shape": list(r.node.out_shape),
                        "terms": [{"quantity": t.quantity, "expression": t.expression, "value": t.value}
                                  for t in r.cost.terms],
                        "status": r.cost.status, "note": r.cost.note} for r in self.rows],
            "sums": {s.quantity: {"value": s.total, "expression": s.total_line.split(" = ", 1)[-1],
                                  "groups": [{"name": g.name, "layers": g.span,
                                              "value": sum(_value(r, s.quantity) for r in rows),
                                              "expression": sub.split(" = ", 1)[-1] if sub else ""}
                                             for g, rows, sub in s.groups]}
                     for s in self.sections},
            "notes": self.notes(),
        }

    def notes(self) -> list[str]:
        out = []
        for row in self.rows:
            if row.cost.status == "unsupported":
                out.append(f"{row.node.key}: no formula for {row.node.kind}; its MACs/FLOPs are not counted")
        if self.scope is None:
            out += [n for n in self.report.notes if not n.startswith("no formula for ")]
        return out


def _groups_for(report: Report, rows: list[LayerRow], scope: str | None) -> list[Group]:
    if scope is None:
        return stages(report)
    depth = len(scope.split(".")) + 1
    sub = Report(report.target, report.input_shape, report.dtype, report.source, rows, modules=report.modules)
    return group_by_depth(sub, depth)


def explain(report: Report, scope: str | None = None, quantities=("params", "macs")) -> Explanation:
    """The derivation for the whole report, or for one layer / container prefix / stage."""
    rows = report.layers if scope is None else select(report, scope)
    leaf = scope is not None and all(r.node.name == rows[0].node.name for r in rows) and not any(
        r.node.name.startswith(rows[0].node.name + ".") for r in rows)
    sections = [] if leaf else [_section(report, rows, scope, q) for q in quantities]
    return Explanation(report, scope, rows, sections, leaf)


def _section(report: Report, rows: list[LayerRow], scope: str | None, quantity: str) -> Section:
    section = Section(quantity)
    contributing = [r for r in rows if _contributes(r, quantity)]
    section.total = sum(_value(r, quantity) for r in contributing)
    long = len(contributing) > LONG
    groups = _groups_for(report, rows, scope) if long else []
    if len(groups) > 1:
        for group in groups:
            mine = [r for r in group.rows if _contributes(r, quantity)]
            if not mine:
                continue
            value = sum(_value(r, quantity) for r in mine)
            section.groups.append((group, mine, f"{group.name}: {value:,} = "
                                                f"{sum_expression(mine, quantity, expressions=len(mine) <= LONG)}"))
        subtotals = [(g.name, sum(_value(r, quantity) for r in mine)) for g, mine, _ in section.groups]
        parts = [f"{v:,}" for _, v in subtotals]
        names = [n for n, _ in subtotals]
    else:
        whole = Group(scope or report.target, "", rows)
        section.groups.append((whole, contributing, ""))
        parts = [sum_expression(contributing, quantity, expressions=not long)] if contributing else []
        names = []
    total = section.total
    if quantity == "params" and scope is None and report.extra_params:
        parts.append(f"{report.extra_params:,}")
        names.append("container-owned")
        total += report.extra_params
        section.total = total
    expr = " + ".join(parts) if parts else "0"
    label = f"{scope}: " if scope else ""
    section.total_line = f"{label}{total:,} = {expr}" + (f"  ({' + '.join(names)})" if names else "")
    if quantity != "params":
        missing = [r.node.key for r in rows if r.cost.status == "unsupported"]
        if missing:
            section.extra.append(f"not counted (no formula): {', '.join(missing)}")
    return section


# ---------------------------------------------------------------------- text


def header(report: Report) -> str:
    return f"{report.target}  input {shape_text(report.input_shape)}  {report.dtype}"


def detail_lines(row: LayerRow) -> list[str]:
    n = row.node
    lines = [f"{n.key} ({n.kind})  in {shape_text(n.in_shape)} → out {shape_text(n.out_shape)}"]
    if n.hparams:
        lines.append("  " + ", ".join(f"{k}={_hp(v)}" for k, v in n.hparams.items()))
    for t in row.cost.terms:
        lines.append(f"  {t.quantity} = {equation(t.expression, t.value)}")
    if not row.cost.terms:
        lines.append("  (no terms)")
    if not n.counts_params and n.params:
        lines.append(f"  params counted on the first call ({n.name})")
    if row.cost.status == "unsupported":
        lines.append(f"  no formula for {n.kind}: MACs and FLOPs are not counted")
    if row.cost.note:
        lines.append(f"  note: {row.cost.note}")
    return lines


def _hp(value: Any) -> str:
    if isinstance(value, tuple):
        return "×".join(str(v) for v in value) if value and all(isinstance(v, int) for v in value) else str(value)
    return str(value)


def explanation_blocks(exp: Explanation) -> list[tuple[str | None, list[str]]]:
    """``(heading, lines)`` blocks, shared by the terminal and Markdown renderings."""
    blocks: list[tuple[str | None, list[str]]] = []
    if exp.report.perf:  # --rf / --device-spec: bytes, intensity, roofline, receptive field
        from paramscope.render.perf import explain_lines, explain_title

        perf = [(explain_title(exp.report), explain_lines(exp.report, exp.rows, total=exp.scope is None))]
    else:
        perf = []
    if exp.detail:
        for row in exp.rows:
            blocks.append((None, detail_lines(row)))
        from paramscope.training.render import backward_blocks

        return blocks + backward_blocks(exp.report, exp.rows) + perf
    for section in exp.sections:
        title = TITLES[section.quantity] + (f" of {exp.scope}" if exp.scope else "")
        blocks.append((title, section.lines()))
    from paramscope.training.render import backward_blocks

    blocks += backward_blocks(exp.report, select(exp.report, exp.scope) if exp.scope else exp.report.layers)
    blocks += perf
    notes = exp.notes()
    if notes:
        blocks.append(("Notes", notes))
    return blocks


def explain_renderables(exps: list[Explanation], *, width: int, plain: bool) -> list[Any]:
    from rich.text import Text

    out: list[Any] = []
    for i, exp in enumerate(exps):
        if i == 0:
            out.append(Text(header(exp.report), style=None if plain else "bold"))
        out.append(Text(""))
        for heading, lines in explanation_blocks(exp):
            if heading:
                out.append(Text(heading, style=None if plain else "bold"))
            for line in lines:
                out.append(Text(wrap(line, width, indent=2)))
            out.append(Text(""))
    while out and isinstance(out[-1], Text) and not out[-1].plain:
        out.pop()
    return out


def wrap(line: str, width: int, indent: int = 0) -> str:
    """``line`` wrapped at spaces to ``width``, continuation lines hanging 4 further in;
    words (expressions such as ``64/32×128×3×3``, numbers) are never broken."""
    import textwrap

    lead = " " * (indent + len(line) - len(line.lstrip(" ")))
    return textwrap.fill(line.strip(), width=max(width, 20), initial_indent=lead,
                         subsequent_indent=lead + "    ", break_long_words=False,
                         break_on_hyphens=False)


def explain_markdown(exps: list[Explanation]) -> str:
    out = []
    for i, exp in enumerate(exps):
        if i == 0:
            out.append(f"## `{exp.report.target}` — input {shape_text(exp.report.input_shape)}, {exp.report.dtype}\n")
        for heading, lines in explanation_blocks(exp):
            if heading:
                out.append(f"### {heading}\n")
            out.append("```text\n" + "\n".join(lines) + "\n```\n")
    return "\n".join(out)


CSV_HEADER = ("scope", "layer", "kind", "quantity", "expression", "value")


def explain_csv_rows(exps: list[Explanation]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for exp in exps:
        scope = exp.scope or ""
        for row in exp.rows:
            for t in row.cost.terms:
                rows.append([scope, row.node.key, row.node.kind, t.quantity, t.expression, t.value])
        for section in exp.sections:
            for group, mine, sub in section.groups:
                if sub:
                    rows.append([scope, f"(subtotal {group.name})", "", section.quantity,
                                 sub.split(" = ", 1)[1], sum(_value(r, section.quantity) for r in mine)])
            rows.append([scope, "(total)", "", section.quantity,
                         section.total_line.split(" = ", 1)[1].split("  (")[0], section.total])
    return rows
