"""Commands that analyse: summary and check."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from paramscope.cli.app import app, fail
from paramscope.errors import ParamscopeError
from paramscope.cli.options import (DTYPE_CHOICES, TARGET_HELP, BatchOpt, ContextOpt, DtypeOpt, ExportFormatOpt, FreezeOpt, ImportPathOpt,
                                    ModeOpt,
                                    MeasureOpt, ModelInputOpt, OptimizerOpt, OutputOpt, SetOpt, TargetArg,
                                    parse_choice, parse_input, parse_sets, train_options)

FvcoreBudgetOpt = Annotated[Optional[str], typer.Option(
    "--fvcore-budget", help="Memory fvcore may use for its real CPU tensors (default 2GB; e.g. 16GB, inf).",
    show_default=False)]


RfOpt = Annotated[bool, typer.Option("--rf", help="Add each layer's receptive field (size, jump, start per axis).")]
DeviceSpecOpt = Annotated[Optional[str], typer.Option(
    "--device-spec", help="Roofline on a device: a100, h100, h200, cpu (measured once, cached) or "
                          "PEAK_TFLOPS,GBPS such as 19.5,1555.", show_default=False)]


def analyze_target(target: str, input: list[str] | str | None, batch: int | None, sets: list[str] | None,
                   measure: str, dtype: str, fvcore_budget: str | None = None, train: dict | None = None,
                   context: int | None = None, perf=None):
    from paramscope.analysis import analyze, parse_measure
    from paramscope.tracing.inputs import parse_bytes

    budget = parse_bytes(fvcore_budget) if fvcore_budget is not None else None

    overrides = parse_sets(sets)
    memtracker = False
    if train and train["mode"] == "train":  # training mode's extra tool: MemTracker
        from paramscope.training.analysis import split_memtracker

        measure, memtracker = split_memtracker(measure)
    tools = parse_measure(measure)
    items = [input] if isinstance(input, str) else list(input or [])
    from paramscope.render.progress import status

    if perf is None and "time" in tools:
        from paramscope.perf import PerfOptions
        perf = PerfOptions(time=True)
    with status(f"analysing {target}, measuring with {', '.join(tools)}", enabled=bool(tools)) as update:
        if perf is not None and perf.progress is None:
            perf.progress = lambda text: update(f"{target}: {text}")
        if train and train["mode"] == "train":
            if perf is not None:
                raise ParamscopeError("--rf, --device-spec and --measure time apply to --mode infer")
            return analyze(target, _train_shape(target, items, batch), overrides=overrides,
                           measure=tools + ("memtracker",) * memtracker, dtype=dtype,
                           fvcore_budget=budget, **train)
        return analyze(target, batch=batch, overrides=overrides, measure=tools, dtype=dtype,
                       fvcore_budget=budget, inputs=items or None,
                       mode=(train or {}).get("mode", "infer"), context=context, perf=perf)


def _train_shape(target: str, items: list[str], batch: int | None):
    """The one input shape of a training analysis (spec defaults apply), or None."""
    if len(items) > 1:
        raise ParamscopeError("--mode train takes one --input (several inputs are analysed for inference)")
    input = items[0] if items else None
    if input is None and batch is None:
        return None
    from paramscope.building.targets import parse_target

    default, t = None, parse_target(target)
    if t.kind == "spec":
        from paramscope.api import load_document
        from paramscope.spec.resolve import default_input
        default = default_input(load_document(t))
    if default is not None or input is not None or t.kind != "spec":
        return parse_input(input, default, batch)  # else resolving says: give --input
    return None


@app.command()
def summary(target: TargetArg, input: ModelInputOpt = None, batch: BatchOpt = None, set: SetOpt = None,
            measure: MeasureOpt = "all", dtype: DtypeOpt = None, fmt: ExportFormatOpt = "table",
            depth: Annotated[int, typer.Option(
                "--depth", "-d", help="Module tree depth, as torchinfo's: deeper rows fold into their "
                                      "depth-N module, which shows their subtotal.")] = 3,
            columns: Annotated[Optional[str], typer.Option(
                "--columns", help="Table columns, comma-separated: input, output, kernel, params, share, "
                                  "trainable, macs, flops, memory, status, or a tool (torchinfo, fvcore, "
                                  "flop_counter); default output,params,macs,flops + each tool and status.",
                show_default=False)] = None,
            all_rows: Annotated[bool, typer.Option(
                "--all-rows", help="Also show the rows with nothing to count in the shown columns "
                                   "(Identity, Dropout, Flatten ...), hidden by default.")] = False,
            output: OutputOpt = None, fvcore_budget: FvcoreBudgetOpt = None,
            import_path: ImportPathOpt = None, mode: ModeOpt = "infer",
            freeze: FreezeOpt = None, optimizer: OptimizerOpt = "adamw",
            context: ContextOpt = None, rf: RfOpt = False, device_spec: DeviceSpecOpt = None) -> None:
    """Per-layer params, MACs and measured figures with totals, memory and a reconciliation per tool."""
    from paramscope.render.export import FORMATS, check_output, publish

    parse_choice("--format", fmt, FORMATS)
    check_output(output)
    train = train_options(mode, freeze, optimizer)
    if depth < 1:
        raise fail(f"--depth must be a positive integer, got {depth}")
    chosen = _summary_columns(columns, measure)
    perf = None
    if rf or device_spec:
        from paramscope.perf import PerfOptions
        perf = PerfOptions(receptive_field=rf, device_spec=device_spec)
    report = analyze_target(target, input, batch, set, measure, dtype, fvcore_budget, train, context, perf)
    from paramscope.render import summary as render

    publish(fmt, output,
            table=lambda width, plain: render.summary_renderables(report, depth, width=width, plain=plain,
                                                                  columns=chosen, all_rows=all_rows),
            json_data=report.to_dict,
            csv=lambda: render.summary_csv(report, depth, all_rows, chosen),
            markdown=lambda: render.summary_markdown(report, depth, chosen, all_rows))


def _summary_columns(columns: str | None, measure: str) -> tuple[str, ...] | None:
    """``--columns`` checked before any work: names, and tools that ``--measure`` runs."""
    if columns is None:
        return None
    from paramscope.analysis import DEFAULT_MEASURERS, OPT_IN_MEASURERS, parse_measure
    from paramscope.render.summary import parse_columns

    chosen = parse_columns(columns, DEFAULT_MEASURERS + OPT_IN_MEASURERS)
    tools = parse_measure(measure)
    idle = [c for c in chosen if c in DEFAULT_MEASURERS + OPT_IN_MEASURERS and c not in tools]
    if idle:
        raise ParamscopeError(f"--columns {','.join(idle)}: not measured; add it to --measure "
                              f"(now {','.join(tools) or 'none'})")
    return chosen


@app.command()
def check(targets: Annotated[Optional[list[str]], typer.Argument(
              metavar="TARGETS", help=f"Targets to check; each a {TARGET_HELP[0].lower()}{TARGET_HELP[1:]}",
              show_default=False)] = None,
          all_: Annotated[bool, typer.Option("--all", help="Check every built-in config.")] = False,
          input: ModelInputOpt = None, batch: BatchOpt = None, set: SetOpt = None,
          measure: MeasureOpt = "all", dtype: DtypeOpt = None, fmt: ExportFormatOpt = "table",
          output: OutputOpt = None, fvcore_budget: FvcoreBudgetOpt = None, import_path: ImportPathOpt = None,
          mode: ModeOpt = "infer", freeze: FreezeOpt = None, optimizer: OptimizerOpt = "adamw",
          allow_incomplete: Annotated[bool, typer.Option(
              "--allow-incomplete", help="Pass even when some op has no formula (named in the report).")] = False) -> None:
    """Exit 0 when every tool's per-layer figures equal paramscope's predictions and every op
    has a formula; 1 on any mismatch or (unless --allow-incomplete) any op with no formula."""
    from paramscope.render.export import FORMATS, check_output, publish

    parse_choice("--format", fmt, FORMATS)
    check_output(output)
    train = train_options(mode, freeze, optimizer)
    if dtype is not None:
        parse_choice("--dtype", dtype, DTYPE_CHOICES)
    names = list(targets or [])
    if all_:
        from paramscope.api import builtin_targets

        names += list(builtin_targets())
    if not names:
        raise fail("check needs targets or --all")
    names = list(dict.fromkeys(names))  # `check resnet-stem --all` checks resnet-stem once
    from paramscope.render import check as render
    from paramscope.render.progress import status

    results = []
    with status(f"checking {names[0]}", enabled=len(names) > 1) as update:
        for i, name in enumerate(names):
            update(f"checking {name} ({i + 1}/{len(names)})")
            report = analyze_target(name, input, batch, set, measure, dtype, fvcore_budget, train)
            bad = [r for r in report.layers if r.status == "mismatch"]
            results.append((name, report, bad))
    publish(fmt, output,
            table=lambda width, plain: render.check_renderables(results, width=width, plain=plain),
            json_data=lambda: render.check_dict(results),
            csv=lambda: render.check_csv(results),
            markdown=lambda: render.check_markdown(results))
    if not all(r.ok and (r.complete or allow_incomplete) for _, r, _ in results):
        raise typer.Exit(1)
