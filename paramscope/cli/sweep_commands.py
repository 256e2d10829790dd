"""The sweep command: one row per point of a design space (analytic unless --measure)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from paramscope.cli.app import app
from paramscope.cli.options import (MEASURE_HELP, BatchOpt, DtypeOpt, ExportFormatOpt, FreezeOpt, ImportPathOpt,
                                    ModeOpt, OptimizerOpt, OutputOpt, TargetArg, parse_choice, train_options)

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


@app.command("sweep")
def sweep_command(target: TargetArg, set: SweepSetOpt = None, zip_: ZipOpt = False,
                  input: SweepInputOpt = None, batch: BatchOpt = None, measure: SweepMeasureOpt = "none",
                  dtype: DtypeOpt = None, fmt: ExportFormatOpt = "table", output: OutputOpt = None,
                  import_path: ImportPathOpt = None, mode: ModeOpt = "infer",
                  freeze: FreezeOpt = None, optimizer: OptimizerOpt = "adamw") -> None:
    """One row per point of a design space: params, MACs, FLOPs, activations and ratios to the first row.
    Exit 1 when some points could not be analysed (each one's error is in its row), 2 when none could."""
    from paramscope.render.export import FORMATS, check_output, publish
    from paramscope.sweep import failed, parse_axes, parse_inputs, sweep, to_csv, to_markdown

    parse_choice("--format", fmt, FORMATS)
    check_output(output)
    train = train_options(mode, freeze, optimizer)
    result = sweep(target, parse_axes(set), parse_inputs(input), batch=batch, zip=zip_,
                   measure=measure, dtype=dtype, **train)
    publish(fmt, output,
            table=lambda width, plain: _renderables(result, width, plain),
            json_data=result.to_dict,
            csv=lambda: to_csv(result),
            markdown=lambda: to_markdown(result))
    if failed(result):
        raise typer.Exit(1)


def _renderables(result, width: int | None, plain: bool) -> list:
    from rich.text import Text

    from paramscope.render.export import rich_table
    from paramscope.sweep import summary_line, sweep_grid

    notes = dict.fromkeys(n for row in result.rows for n in row.notes)
    line = summary_line(result)
    return [rich_table(sweep_grid(result), width=width, plain=plain), *(Text(f"note: {note}") for note in notes),
            *([Text(line)] if line else [])]
