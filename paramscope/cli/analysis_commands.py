"""Commands that analyse: summary and check."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from paramscope.cli.main import app, fail
from paramscope.cli.options import (BatchOpt, ExportFormatOpt, InputOpt, OutputOpt, SetOpt, TargetArg, parse_choice,
                                    parse_input, parse_sets)

MeasureOpt = Annotated[str, typer.Option(
    "--measure", "-m", help="Tools to run: torchinfo,fvcore,flop_counter, all, or none (formulas only).")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="float32, float16, bfloat16 or float64.")]
FvcoreBudgetOpt = Annotated[Optional[str], typer.Option(
    "--fvcore-budget", help="Memory fvcore may use for its real CPU tensors (default 2GB; e.g. 16GB, inf).",
    show_default=False)]


RfOpt = Annotated[bool, typer.Option("--rf", help="Add each layer's receptive field (size, jump, start per axis).")]
DeviceSpecOpt = Annotated[Optional[str], typer.Option(
    "--device-spec", help="Roofline on a device: a100, h100, h200, cpu (measured once, cached) or "
                          "PEAK_TFLOPS,GBPS such as 19.5,1555.", show_default=False)]


def _analyze(target: str, input: str | None, batch: int | None, sets: list[str] | None,
             measure: str, dtype: str, fvcore_budget: str | None = None, perf=None):
    from paramscope.analysis import analyze, parse_measure
    from paramscope.inputs import parse_bytes

    budget = parse_bytes(fvcore_budget) if fvcore_budget is not None else None

    overrides = parse_sets(sets)
    tools = parse_measure(measure)
    shape = None
    if input is not None or batch is not None:
        default = None
        from paramscope.targets import parse_target
        t = parse_target(target)
        if t.kind == "spec":
            from paramscope.api import load_document
            from paramscope.spec.resolve import default_input
            default = default_input(load_document(t))
        if default is not None or input is not None or t.kind != "spec":
            shape = parse_input(input, default, batch)  # else resolving says: give --input
    from paramscope.render.progress import status

    if perf is None and "time" in tools:
        from paramscope.perf import PerfOptions
        perf = PerfOptions(time=True)
    with status(f"analysing {target}, measuring with {', '.join(tools)}", enabled=bool(tools)) as update:
        if perf is not None and perf.progress is None:
            perf.progress = lambda text: update(f"{target}: {text}")
        return analyze(target, shape, overrides=overrides, measure=tools, dtype=dtype, fvcore_budget=budget,
                       perf=perf)


@app.command()
def summary(target: TargetArg, input: InputOpt = None, batch: BatchOpt = None, set: SetOpt = None,
            measure: MeasureOpt = "all", dtype: DtypeOpt = "float32", fmt: ExportFormatOpt = "table",
            depth: Annotated[Optional[int], typer.Option(
                "--depth", "-d", help="Group rows by module depth (1: conv1, layer1 … fc) with subtotals.",
                show_default=False)] = None,
            output: OutputOpt = None, fvcore_budget: FvcoreBudgetOpt = None, rf: RfOpt = False,
            device_spec: DeviceSpecOpt = None) -> None:
    """Per-layer params, MACs and measured figures with totals, memory and a reconciliation per tool."""
    from paramscope.render.export import FORMATS, publish

    parse_choice("--format", fmt, FORMATS)
    if depth is not None and depth < 1:
        raise fail(f"--depth must be a positive integer, got {depth}")
    perf = None
    if rf or device_spec:
        from paramscope.perf import PerfOptions
        perf = PerfOptions(receptive_field=rf, device_spec=device_spec)
    report = _analyze(target, input, batch, set, measure, dtype, fvcore_budget, perf)
    from paramscope.render import summary as render

    publish(fmt, output,
            table=lambda width, plain: render.summary_renderables(report, depth, width=width, plain=plain),
            json_data=report.to_dict,
            csv=lambda: render.summary_csv(report, depth),
            markdown=lambda: render.summary_markdown(report, depth))


@app.command()
def check(targets: Annotated[Optional[list[str]], typer.Argument(help="Targets to check.", show_default=False)] = None,
          all_: Annotated[bool, typer.Option("--all", help="Check every built-in config.")] = False,
          input: InputOpt = None, batch: BatchOpt = None, set: SetOpt = None,
          measure: MeasureOpt = "all", fmt: ExportFormatOpt = "table", output: OutputOpt = None,
          fvcore_budget: FvcoreBudgetOpt = None) -> None:
    """Exit 0 when every tool's per-layer figures equal paramscope's predictions, 1 on any mismatch."""
    from paramscope.render.export import FORMATS, publish

    parse_choice("--format", fmt, FORMATS)
    names = list(targets or [])
    if all_:
        from paramscope.api import builtin_targets

        names += list(builtin_targets())
    if not names:
        raise fail("check needs targets or --all")
    from paramscope.render import check as render
    from paramscope.render.progress import status

    results = []
    with status(f"checking {names[0]}", enabled=len(names) > 1) as update:
        for i, name in enumerate(names):
            update(f"checking {name} ({i + 1}/{len(names)})")
            report = _analyze(name, input, batch, set, measure, "float32", fvcore_budget)
            bad = [r for r in report.layers if r.status == "mismatch"]
            results.append((name, report, bad))
    publish(fmt, output,
            table=lambda width, plain: render.check_renderables(results, width=width, plain=plain),
            json_data=lambda: render.check_dict(results),
            csv=lambda: render.check_csv(results),
            markdown=lambda: render.check_markdown(results))
    if not all(r.ok for _, r, _ in results):
        raise typer.Exit(1)
