"""``show`` as a table, JSON, CSV or Markdown: the resolved spec's modules in call order (no torch).

One row per module, as the YAML form (:func:`paramscope.spec.emit.emit`) lists them: the
qualified name (as ``named_modules`` and ``explain`` spell it), the spec kind, the arguments
that differ from the kind's defaults and the output shape.
"""

from __future__ import annotations

from typing import Any, Iterator

from paramscope.render.export import Col, Grid, csv_shape, csv_text, markdown_document
from paramscope.render.units import shape_text
from paramscope.spec.emit import leaf_arguments, scalar_text

CSV_HEADER = ("module", "kind", "arguments", "out_shape")


def in_call_order(resolved) -> Iterator[Any]:
    """Every module of the resolved tree once, in the order the YAML form lists them
    (a residual block: body, shortcut, layers after the sum)."""
    seen: set[str] = set()

    def visit(module):
        if module.qualname in seen:  # a shared module, called again
            return
        seen.add(module.qualname)
        yield module
        names = [*module.order, *([module.shortcut] if module.shortcut else []), *module.activation]
        for name in names:
            yield from visit(module.children[name])

    for name in resolved.root.order:
        yield from visit(resolved.root.children[name])


def _arguments(module) -> dict[str, Any]:
    return leaf_arguments(module) if module.kind == "leaf" else {}


def _arguments_text(module) -> str:
    return ", ".join(f"{k}={scalar_text(v)}" for k, v in _arguments(module).items())


def title(resolved) -> str:
    params = ", ".join(f"{k}={scalar_text(v)}" for k, v in resolved.params.items())
    return f"{resolved.name}: input {shape_text(resolved.input_shape)}, parameters: {params or 'none'}"


def show_grid(resolved) -> Grid:
    grid = Grid([Col("module"), Col("kind"), Col("arguments"), Col("output", numeric=True)], title=title(resolved))
    for m in in_call_order(resolved):
        grid.add(m.qualname, m.spec_kind, _arguments_text(m), shape_text(m.out_shape))
    return grid


def show_dict(resolved) -> dict[str, Any]:
    return {"name": resolved.name, "description": resolved.description, "file": resolved.file,
            "parameters": resolved.params, "input_shape": list(resolved.input_shape),
            "modules": [{"name": m.qualname, "kind": m.spec_kind, "arguments": _arguments(m),
                         "out_shape": list(m.out_shape)} for m in in_call_order(resolved)]}


def show_csv(resolved) -> str:
    rows = [[m.qualname, m.spec_kind, _arguments_text(m), csv_shape(m.out_shape)] for m in in_call_order(resolved)]
    return csv_text(CSV_HEADER, rows)


def show_markdown(resolved) -> str:
    return markdown_document([show_grid(resolved)])
