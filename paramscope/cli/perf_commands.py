"""``paramscope profile``: measured time per layer beside the roofline and receptive fields."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from paramscope.cli.analysis_commands import DeviceSpecOpt, analyze_target
from paramscope.cli.app import app, fail
from paramscope.cli.options import (CLOCKS, BatchOpt, DtypeOpt, ExportFormatOpt, ImportPathOpt, ModelInputOpt,
                                    OutputOpt, SetOpt,
                                    TargetArg, parse_choice)


@app.command()
def profile(target: TargetArg, input: ModelInputOpt = None, batch: BatchOpt = None, set: SetOpt = None,
            dtype: DtypeOpt = None,
            device: Annotated[str, typer.Option("--device", help="Run on cpu, or cuda[:N] when present.")] = "cpu",
            device_spec: DeviceSpecOpt = None,
            warmup: Annotated[int, typer.Option("--warmup", help="Untimed passes first.")] = 3,
            repeats: Annotated[int, typer.Option("--repeats", help="Timed passes (median and min..max).")] = 10,
            threads: Annotated[Optional[int], typer.Option(
                "--threads", help="CPU threads for torch (default: torch's own choice).", show_default=False)] = None,
            time_budget: Annotated[Optional[str], typer.Option(
                "--time-budget", help="Memory the real run may use (default 2GB; e.g. 16GB, inf).",
                show_default=False)] = None,
            clock: Annotated[str, typer.Option(
                "--clock", help="One of: wall (elapsed), cpu (this process's CPU time: on a shared "
                                "machine, with --threads 1).")] = "wall",
            rf: Annotated[bool, typer.Option("--rf/--no-rf", help="Receptive field per layer.")] = True,
            fmt: ExportFormatOpt = "table", output: OutputOpt = None,
            import_path: ImportPathOpt = None) -> None:
    """Time every layer for real (median of repeated passes) beside its roofline and receptive field."""
    from paramscope.tracing.inputs import parse_bytes
    from paramscope.perf import PerfOptions
    from paramscope.render.export import FORMATS, check_output, publish

    parse_choice("--format", fmt, FORMATS)
    check_output(output)
    parse_choice("--clock", clock, CLOCKS)
    if warmup < 0 or repeats < 1 or (threads is not None and threads < 1):
        raise fail(f"--warmup must be >= 0, --repeats >= 1 and --threads >= 1 (got {warmup}, {repeats}, {threads})")
    spec = device_spec or ("cpu" if device == "cpu" else None)
    budget = parse_bytes(time_budget, "--time-budget") if time_budget is not None else None
    perf = PerfOptions(receptive_field=rf, device_spec=spec, time=True, device=device, warmup=warmup,
                       repeats=repeats, threads=threads, budget_bytes=budget, clock=clock)
    report = analyze_target(target, input, batch, set, "time", dtype, None, None, None, perf)
    from paramscope.render import perf as render
    from paramscope.render.summary import head_line

    publish(fmt, output,
            table=lambda width, plain: render.profile_renderables(report, head_line(report), width, plain),
            json_data=report.to_dict,
            csv=lambda: render.perf_csv(report),
            markdown=lambda: render.profile_markdown(report))
