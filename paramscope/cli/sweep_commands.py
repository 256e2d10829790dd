"""The sweep command: one row per point of a design space (analytic unless --measure)."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from paramscope.cli.app import app
from paramscope.cli.options import (FORMAT_CHOICES, MEASURE_HELP, BatchOpt, DtypeOpt, FreezeOpt, ImportPathOpt,
                                    ModeOpt, OptimizerOpt, TargetArg,
                                    one_of, parse_choice, train_options)

SweepSetOpt = Annotated[Optional[list[str]], typer.Option(
    "--set", "-s", help="A parameter and its values: key=v1,v2,... (YAML scalars or flow lists: "
                        "depths=[3,4,6,3],[3,4,23,3]). Repeatable; the points are the Cartesian product.",
    show_default=False)]
SweepInputOpt = Annotated[Optional[list[str]], typer.Option(
    "--input", "-i", help="Input sizes: 224,320,448 (H=W), 3x32x32 or 2x3x224x224 each. Repeatable.",
    show_default=False)]
ZipOpt = Annotated[bool, typer.Option(
    "--zip", help="Pair the i-th values of every list (equal lengths; a single value applies to all) "
                  "instead of taking the Cartesian product.")]
SweepMeasureOpt = Annotated[str, typer.Option(
    "--measure", "-m", help=f"Tools to run at every point: {MEASURE_HELP}")]
SweepFormatOpt = Annotated[str, typer.Option("--format", "-f", help=f"Output format, {one_of(FORMAT_CHOICES)}.")]


@app.command("sweep")
def sweep_command(target: TargetArg, set: SweepSetOpt = None, zip_: ZipOpt = False,
                  input: SweepInputOpt = None, batch: BatchOpt = None, measure: SweepMeasureOpt = "none",
                  dtype: DtypeOpt = "float32", fmt: SweepFormatOpt = "table",
                  import_path: ImportPathOpt = None, mode: ModeOpt = "infer",
                  freeze: FreezeOpt = None, optimizer: OptimizerOpt = "adamw") -> None:
    """One row per point of a design space: params, MACs, FLOPs, activations and ratios to the first row."""
    from paramscope.sweep import parse_axes, parse_inputs, sweep, to_csv, to_markdown

    parse_choice("--format", fmt, FORMAT_CHOICES)
    train = train_options(mode, freeze, optimizer)
    result = sweep(target, parse_axes(set), parse_inputs(input), batch=batch, zip=zip_,
                   measure=measure, dtype=dtype, **train)
    from paramscope.render.export import deliver

    if fmt == "json":
        deliver(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", None, json_format=True)
    elif fmt == "csv":
        deliver(to_csv(result), None)
    elif fmt == "markdown":
        deliver(to_markdown(result), None)
    else:
        _print_table(result)


def _print_table(result) -> None:
    from paramscope.render.console import make_console, simple_table
    from paramscope.sweep import cells, columns

    numeric = ("params", "MACs", "FLOPs", "activations", "params ×", "MACs ×", "FLOPs ×",
               "backward MACs", "train FLOPs", "train peak")
    table = simple_table(columns(result), numeric=numeric)
    for row in result.rows:
        table.add_row(*cells(result, row))
    from paramscope.render.export import print_escaped

    console = make_console()
    print_escaped(console, table)
    notes = dict.fromkeys(n for row in result.rows for n in row.notes)
    print_escaped(console, *(f"note: {note}" for note in notes))
    failed = sum(1 for r in result.rows if r.error)
    if failed:
        print_escaped(console, f"{failed} of {len(result.rows)} points could not be analysed (see their rows)")
