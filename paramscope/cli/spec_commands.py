"""Commands that read specs without torch: list, show, schema."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from paramscope.cli.app import app
from paramscope.cli.options import BatchOpt, ImportPathOpt, InputOpt, SetOpt, TargetArg, parse_input, parse_sets
from paramscope.errors import ParamscopeError


@app.command("list")
def list_configs(
    fmt: Annotated[str, typer.Option("--format", "-f", help="Output format, one of: table, json.")] = "table",
) -> None:
    """List the built-in configs: name, description, input."""
    from paramscope.api import builtin_targets
    from paramscope.cli.options import parse_choice

    parse_choice("--format", fmt, ("table", "json"))
    rows = []
    for name, doc in builtin_targets().items():
        shape = doc.data.get("input", [])
        rows.append({"name": name, "description": doc.description,
                     "input": "×".join(str(d) for d in shape)})
    if fmt == "json":
        from paramscope.render.export import deliver

        deliver(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", None, json_format=True)
        return
    from paramscope.render.console import make_console, simple_table

    table = simple_table(("name", "input", "description"))
    for row in rows:
        table.add_row(row["name"], row["input"], row["description"])
    from paramscope.render.export import print_escaped

    print_escaped(make_console(), table)


@app.command()
def show(target: TargetArg, input: InputOpt = None, batch: BatchOpt = None, set: SetOpt = None,
         import_path: ImportPathOpt = None) -> None:
    """Print the fully resolved spec: templates expanded, parameters substituted, module names shown."""
    from paramscope.api import load_document, resolve_spec
    from paramscope.spec.resolve import default_input
    from paramscope.spec.emit import emit
    from paramscope.building.targets import parse_target

    t = parse_target(target)
    if t.kind != "spec":
        raise ParamscopeError(f"show works on YAML specs; {target} is a Python factory "
                              "(use 'paramscope summary' for it)")
    overrides = parse_sets(set)
    doc = load_document(t)
    resolved = resolve_spec(doc, overrides, parse_input(input, default_input(doc), batch))
    from paramscope.render.export import deliver

    deliver(emit(resolved), None)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the spec format (for editor validation)."""
    from paramscope.spec.schema import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))
