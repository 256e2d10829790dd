"""Commands that analyse: summary and check."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from paramscope.cli.main import app, fail
from paramscope.cli.options import BatchOpt, InputOpt, SetOpt, TargetArg, parse_choice, parse_input, parse_sets

MeasureOpt = Annotated[str, typer.Option(
    "--measure", "-m", help="Tools to run: torchinfo,fvcore,flop_counter, all, or none (formulas only).")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="float32, float16, bfloat16 or float64.")]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table or json.")]


def _analyze(target: str, input: str | None, batch: int | None, sets: list[str] | None,
             measure: str, dtype: str):
    from paramscope.analysis import analyze, parse_measure

    overrides = parse_sets(sets)
    tools = parse_measure(measure)
    shape = None
    if input is not None or batch is not None:
        default = None
        from paramscope.targets import parse_target
        t = parse_target(target)
        if t.kind == "spec":
            from paramscope.api import resolve_spec
            default = resolve_spec(t, overrides).input_shape
        shape = parse_input(input, default, batch)
    return analyze(target, shape, overrides=overrides, measure=tools, dtype=dtype)


@app.command()
def summary(target: TargetArg, input: InputOpt = None, batch: BatchOpt = None, set: SetOpt = None,
            measure: MeasureOpt = "all", dtype: DtypeOpt = "float32", fmt: FormatOpt = "table") -> None:
    """Per-layer params, MACs and measured figures with totals, memory and a reconciliation per tool."""
    parse_choice("--format", fmt, ("table", "json"))
    report = _analyze(target, input, batch, set, measure, dtype)
    if fmt == "json":
        typer.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        return
    from paramscope.render.console import make_console
    from paramscope.render.summary import summary_renderables

    console = make_console()
    for part in summary_renderables(report):
        console.print(part)


@app.command()
def check(targets: Annotated[Optional[list[str]], typer.Argument(help="Targets to check.", show_default=False)] = None,
          all_: Annotated[bool, typer.Option("--all", help="Check every built-in config.")] = False,
          input: InputOpt = None, batch: BatchOpt = None, set: SetOpt = None,
          measure: MeasureOpt = "all", fmt: FormatOpt = "table") -> None:
    """Exit 0 when every tool's per-layer figures equal paramscope's predictions, 1 on any mismatch."""
    parse_choice("--format", fmt, ("table", "json"))
    names = list(targets or [])
    if all_:
        from paramscope.spec.document import parse_file
        from paramscope.spec.library import builtin_files, resolve_import

        names += [n for n, p in builtin_files().items() if not parse_file(str(p), resolve_import).is_library]
    if not names:
        raise fail("check needs targets or --all")
    from paramscope.render.console import make_console, simple_table

    results = []
    for name in names:
        report = _analyze(name, input, batch, set, measure, "float32")
        bad = [r for r in report.layers if r.status == "mismatch"]
        results.append((name, report, bad))
    if fmt == "json":
        typer.echo(json.dumps([{"target": n, "ok": r.ok, "mismatches": [b.to_dict() for b in bad],
                                "measurers": {k: m.to_dict() for k, m in r.measurers.items()}}
                               for n, r, bad in results], indent=2, ensure_ascii=False))
    else:
        console = make_console()
        table = simple_table(["target", "params", "MACs", *(results[0][1].measurers if results else []), "result"],
                             numeric=("params", "MACs"))
        for name, report, bad in results:
            cells = [name, f"{report.totals['params']:,}", f"{report.totals['macs']:,}"]
            cells += [f"{m.status}" + (f" ({m.note})" if m.status != "match" and m.note else "")
                      for m in report.measurers.values()]
            cells.append("ok" if report.ok else f"MISMATCH ({len(bad)} layers)")
            table.add_row(*cells)
        console.print(table)
        for name, report, bad in results:
            for row in bad:
                for tool, m in row.measured.items():
                    if m.get("status") == "mismatch":
                        console.print(f"{name}: {row.node.key} ({row.node.kind}) {tool}: measured "
                                      f"{m.get('measured')}, predicted {m.get('predicted')} — {m.get('reason', '')}")
    if not all(r.ok for _, r, _ in results):
        raise typer.Exit(1)
