"""Commands that compare and explain: compare, explain."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Annotated, Optional

import typer

from paramscope.cli.analysis_commands import DeviceSpecOpt, analyze_target
from paramscope.cli.app import app, fail, say
from paramscope.cli.options import (CLOCKS, MEASURE_HELP, BatchOpt, ContextOpt, DtypeOpt, ExportFormatOpt,
                                    FreezeOpt, ImportPathOpt, ModeOpt,
                                    ModelInputOpt, OptimizerOpt, OutputOpt, SetOpt, TargetArg, parse_choice,
                                    train_options)
from paramscope.render.export import FORMATS

CompareMeasureOpt = Annotated[str, typer.Option(
    "--measure", "-m", help=f"Tools to run on every target: {MEASURE_HELP} 'all' adds a check mark per "
                            "target; 'time' times each target for real and sets the MAC ratio beside the "
                            "speed ratio.")]
PLOT_TYPES = (".png", ".svg")


def analyze_all(targets: list[str], input, batch, sets, measure: str, dtype: str, train: dict | None = None,
                context: int | None = None, perf=None):
    """Reports for each target, with a spinner on stderr when that takes a while."""
    from paramscope.analysis import parse_measure
    from paramscope.render.progress import status

    from paramscope.training.analysis import split_memtracker

    tools = parse_measure(split_memtracker(measure)[0] if train and train["mode"] == "train" else measure)
    reports = []
    with status(f"analysing {targets[0]}", enabled=bool(tools) or len(targets) > 2) as update:
        for i, target in enumerate(targets):
            update(f"analysing {target} ({i + 1}/{len(targets)})"
                   + (f", measuring with {', '.join(tools)}" if tools else ""))
            reports.append(analyze_target(target, input, batch, sets, measure, dtype, None, train, context,
                                          None if perf is None else replace(perf)))
    return reports


def _labels(targets: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for t in targets:
        seen[t] = seen.get(t, 0) + 1
        out.append(t if seen[t] == 1 else f"{t} ({seen[t]})")
    return out


@app.command()
def compare(targets: Annotated[list[str], typer.Argument(
                metavar="TARGETS", help="Two or more targets (as for summary); ratios are against the first.",
                show_default=False)],
            input: ModelInputOpt = None, batch: BatchOpt = None, set: SetOpt = None,
            measure: CompareMeasureOpt = "none", dtype: DtypeOpt = None,
            fmt: ExportFormatOpt = "table", output: OutputOpt = None,
            plot: Annotated[Optional[str], typer.Option(
                "--plot", help="Also draw params and MACs per stage to FILE.png or FILE.svg (needs matplotlib).",
                show_default=False)] = None,
            layers: Annotated[bool, typer.Option("--layers/--no-layers",
                                                 help="Show the per-layer section.")] = True,
            import_path: ImportPathOpt = None, mode: ModeOpt = "infer", freeze: FreezeOpt = None,
            optimizer: OptimizerOpt = "adamw", context: ContextOpt = None,
            rf: Annotated[bool, typer.Option("--rf/--no-rf", help="Receptive field of each output in the "
                                             "headline (needs torch: one meta-device pass).")] = True,
            device_spec: DeviceSpecOpt = None,
            threads: Annotated[Optional[int], typer.Option(
                "--threads", help="With --measure time: CPU threads for torch.", show_default=False)] = None,
            clock: Annotated[str, typer.Option(
                "--clock", help="With --measure time, one of: wall, cpu (process CPU time; a shared "
                                "machine).")] = "wall",
            ) -> None:
    """Side-by-side costs, ratios to the first target, per-stage subtotals and bar charts."""
    parse_choice("--format", fmt, FORMATS)
    train = train_options(mode, freeze, optimizer)
    if len(targets) < 2:
        raise fail("compare needs at least two targets (paramscope summary shows one)")
    if plot is not None:
        _check_plot(plot)
    from paramscope.render import compare as render

    from paramscope.analysis import parse_measure
    from paramscope.perf import PerfOptions

    timed = "time" in parse_measure(measure)
    parse_choice("--clock", clock, CLOCKS)
    perf = None
    if train["mode"] != "train":  # receptive fields and timing describe inference
        perf = PerfOptions(receptive_field=rf, device_spec=device_spec or ("cpu" if timed else None),
                           time=timed, threads=threads, clock=clock)
    cmp = render.Comparison(analyze_all(targets, input, batch, set, measure, dtype, train, context, perf),
                            _labels(targets))
    warning = cmp.input_warning()
    if warning:
        say("warning: ", warning)
    from paramscope.render.export import csv_text, publish

    publish(fmt, output,
            table=lambda width, plain: render.compare_renderables(cmp, width=width, plain=plain, layers=layers),
            json_data=lambda: render.compare_dict(cmp),
            csv=lambda: csv_text(render.CSV_HEADER, render.compare_csv_rows(cmp)),
            markdown=lambda: render.compare_markdown(cmp, layers=layers))
    if plot is not None:
        render.plot_stages(cmp, plot)


def _check_plot(path: str) -> None:
    if os.path.splitext(path)[1].lower() not in PLOT_TYPES:
        raise fail(f"--plot {path}: the file name must end in .png or .svg")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise fail("--plot needs matplotlib, which is not installed (pip install 'paramscope[plot]')") from None


@app.command()
def explain(target: TargetArg,
            layer_args: Annotated[Optional[list[str]], typer.Argument(
                metavar="LAYER", help="Layers to zoom into, by any name another command shows: a row key "
                                      "(layer1.0.conv1, relu#2, layer1.0:add), compare's name (conv1), a "
                                      "module or container path (layer1.0) or a stage (stem, layer1).",
                show_default=False)] = None,
            layer: Annotated[Optional[list[str]], typer.Option(
                "--layer", "-l", help="A layer or container prefix to zoom into. Repeatable.",
                show_default=False)] = None,
            quantity: Annotated[str, typer.Option(
                "--quantity", "-q", help="Which derivations: params, macs, flops (comma list) or all.")] = "params,macs",
            input: ModelInputOpt = None, batch: BatchOpt = None, set: SetOpt = None,
            dtype: DtypeOpt = None, fmt: ExportFormatOpt = "table", output: OutputOpt = None,
            import_path: ImportPathOpt = None, mode: ModeOpt = "infer", freeze: FreezeOpt = None,
            optimizer: OptimizerOpt = "adamw", context: ContextOpt = None,
            rf: Annotated[bool, typer.Option("--rf", help="Also each layer's receptive field.")] = False,
            device_spec: DeviceSpecOpt = None) -> None:
    """The derivation of every figure from the formulas: per layer, per stage, the total."""
    parse_choice("--format", fmt, FORMATS)
    train = train_options(mode, freeze, optimizer)
    from paramscope.render import explain as render
    from paramscope.render.export import csv_text, publish

    quantities = _quantities(quantity)
    from paramscope.perf import PerfOptions

    perf = PerfOptions(receptive_field=rf, device_spec=device_spec) if rf or device_spec else None
    report = analyze_target(target, input, batch, set, "none", dtype, None, train, context, perf)
    scopes = [*(layer_args or []), *(layer or [])]
    exps = [render.explain(report, scope, quantities) for scope in scopes] if scopes else [
        render.explain(report, None, quantities)]
    publish(fmt, output,
            table=lambda width, plain: render.explain_renderables(exps, width=width, plain=plain),
            json_data=lambda: [e.to_dict() for e in exps] if scopes else exps[0].to_dict(),
            csv=lambda: csv_text(render.CSV_HEADER, render.explain_csv_rows(exps)),
            markdown=lambda: render.explain_markdown(exps))


def _quantities(text: str) -> tuple[str, ...]:
    from paramscope.render.explain import QUANTITIES

    if text.strip() == "all":
        return QUANTITIES
    names = [q.strip().lower() for q in text.split(",") if q.strip()]
    for name in names:
        parse_choice("--quantity", name, (*QUANTITIES, "all"))
    return tuple(q for q in QUANTITIES if q in names) or QUANTITIES[:2]
