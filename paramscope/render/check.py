"""``check``: one row per target (params, MACs, each tool's verdict) and every mismatch named."""

from __future__ import annotations

from typing import Any

from paramscope.render.export import Col, Grid, csv_text, markdown_document, rich_table
from paramscope.reconciling.report import LayerRow, Report

Result = tuple[str, Report, list[LayerRow]]  # target, report, layers that mismatch


def _tools(results: list[Result]) -> list[str]:
    return list(dict.fromkeys(t for _, r, _ in results for t in r.measurers))


def check_grid(results: list[Result]) -> Grid:
    tools = _tools(results)
    grid = Grid([Col("target"), Col("params", numeric=True), Col("MACs", numeric=True, optional=1),
                 *(Col(t) for t in tools), Col("result")])
    for name, report, bad in results:
        macs = report.totals["macs"]
        cells: list[Any] = [name, report.totals["params"], macs if report.complete else f"≥ {macs:,}"]
        for tool in tools:
            m = report.measurers.get(tool)
            cells.append("--" if m is None else
                         m.status + (f" ({m.note})" if m.status != "match" and m.note else ""))
        cells.append(verdict(report, bad))
        grid.add(*cells)
    return grid


def verdict(report: Report, bad: list[LayerRow]) -> str:
    """``ok``, ``MISMATCH (n layers)`` or ``INCOMPLETE`` (an op with no formula)."""
    if not report.ok:
        return f"MISMATCH ({len(bad)} layers)"
    return "ok" if report.complete else "INCOMPLETE"


def mismatch_lines(results: list[Result]) -> list[str]:
    lines = []
    for name, report, _ in results:
        lines += [f"{name}: incomplete: {gap}" for gap in report.gaps]
    for name, _, bad in results:
        for row in bad:
            for tool, m in row.measured.items():
                if m.status == "mismatch":
                    lines.append(f"{name}: {row.node.key} ({row.node.kind}) {tool}: measured "
                                 f"{m.measured}, predicted {m.predicted} — {m.reason}")
    return lines


def summary_line(results: list[Result]) -> str:
    """``checked 25 targets: 24 ok, 1 mismatch, 0 incomplete`` -- the verdicts counted."""
    counts = {"ok": 0, "mismatch": 0, "incomplete": 0}
    for _, report, bad in results:
        counts[verdict(report, bad).split(" ")[0].lower()] += 1
    noun = "target" if len(results) == 1 else "targets"
    return f"checked {len(results)} {noun}: " + ", ".join(f"{n} {kind}" for kind, n in counts.items())


def check_renderables(results: list[Result], *, width: int, plain: bool) -> list[Any]:
    from rich.text import Text

    return [rich_table(check_grid(results), width=width, plain=plain),
            *(Text(line) for line in mismatch_lines(results)), Text(summary_line(results))]


def check_dict(results: list[Result]) -> list[dict[str, Any]]:
    return [{"target": n, "ok": r.ok, "complete": r.complete, "gaps": r.gaps, "totals": r.totals, "mismatches": [b.to_dict() for b in bad],
             "measurers": {k: m.to_dict() for k, m in r.measurers.items()}} for n, r, bad in results]


def check_csv(results: list[Result]) -> str:
    tools = _tools(results)
    rows = []
    for name, report, bad in results:
        rows.append([name, report.totals["params"], report.totals["macs"],
                     *((report.measurers[t].status if t in report.measurers else "") for t in tools),
                     verdict(report, bad).split(" ")[0].lower(), len(bad)])
    return csv_text(["target", "params", "macs", *tools, "result", "mismatched_layers"], rows)


def check_markdown(results: list[Result]) -> str:
    parts: list[Grid | str] = [check_grid(results)]
    lines = mismatch_lines(results)
    if lines:
        parts.append("\n".join(f"- {line}" for line in lines))
    parts.append(summary_line(results))
    return markdown_document(parts)
