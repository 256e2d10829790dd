"""Commands that read specs without torch: list, show, schema."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from paramscope.cli.app import app
from paramscope.cli.options import (SHOW_FORMATS, BatchOpt, ExportFormatOpt, ImportPathOpt, InputOpt, OutputOpt,
                                    SetOpt, TargetArg, one_of, parse_choice, parse_input, parse_sets)
from paramscope.errors import ParamscopeError


@app.command("list")
def list_configs(fmt: ExportFormatOpt = "table", output: OutputOpt = None) -> None:
    """List the built-in configs: name, input, description."""
    from paramscope.api import builtin_targets
    from paramscope.render.export import FORMATS, Col, Grid, csv_shape, csv_text, markdown_table, publish, rich_table
    from paramscope.render.units import shape_text

    parse_choice("--format", fmt, FORMATS)
    configs = [(name, doc.description, tuple(doc.data.get("input", []))) for name, doc in builtin_targets().items()]
    grid = Grid([Col("name"), Col("input"), Col("description")])
    for name, description, shape in configs:
        grid.add(name, shape_text(shape), description)
    publish(fmt, output,
            table=lambda width, plain: [rich_table(grid, width=width, plain=plain)],
            json_data=lambda: [{"name": n, "description": d, "input": list(s)} for n, d, s in configs],
            csv=lambda: csv_text(("name", "input", "description"), [(n, csv_shape(s), d) for n, d, s in configs]),
            markdown=lambda: markdown_table(grid))


ShowFormatOpt = Annotated[str, typer.Option(
    "--format", "-f", help=f"Output format, {one_of(SHOW_FORMATS)} (yaml: the resolved spec itself; "
                           "the others: one row per module with its arguments and output shape).")]


@app.command()
def show(target: TargetArg, input: InputOpt = None, batch: BatchOpt = None, set: SetOpt = None,
         fmt: ShowFormatOpt = "yaml", output: OutputOpt = None, import_path: ImportPathOpt = None) -> None:
    """Print the fully resolved spec: templates expanded, parameters substituted, module names shown."""
    from paramscope.api import load_document, resolve_spec
    from paramscope.spec.resolve import default_input
    from paramscope.spec.emit import emit
    from paramscope.building.targets import parse_target
    from paramscope.render.export import check_output, deliver, publish

    parse_choice("--format", fmt, SHOW_FORMATS)
    check_output(output)
    t = parse_target(target)
    if t.kind != "spec":
        raise ParamscopeError(f"show works on YAML specs; {target} is a Python factory "
                              "(use 'paramscope summary' for it)")
    overrides = parse_sets(set)
    doc = load_document(t)
    resolved = resolve_spec(doc, overrides, parse_input(input, default_input(doc), batch))
    if fmt == "yaml":
        deliver(emit(resolved), output)
        return
    from paramscope.render import spec as render
    from paramscope.render.export import rich_table

    publish(fmt, output,
            table=lambda width, plain: [rich_table(render.show_grid(resolved), width=width, plain=plain)],
            json_data=lambda: render.show_dict(resolved),
            csv=lambda: render.show_csv(resolved),
            markdown=lambda: render.show_markdown(resolved))


@app.command()
def schema(output: OutputOpt = None) -> None:
    """Print the JSON Schema of the spec format (for editor validation)."""
    from paramscope.render.export import deliver
    from paramscope.spec.schema import json_schema

    deliver(json.dumps(json_schema(), indent=2) + "\n", output, json_format=True)
