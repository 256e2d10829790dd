"""JSON Schema of the spec language, generated from the kind registry."""

from __future__ import annotations

from typing import Any

from paramscope.spec.kinds import KINDS

EXPR = {"type": "string", "pattern": r"\$\{.+\}", "description": "${expression}"}


def _with_expr(schema: dict | None) -> dict:
    return {"anyOf": [schema or {}, EXPR]}


def _leaf(kind) -> dict:
    props: dict[str, Any] = {
        key: dict(_with_expr(f.schema), description=f.doc) if f.doc else _with_expr(f.schema)
        for key, f in kind.fields.items()
    }
    props["name"] = {"type": ["string", "integer"], "description": "module name"}
    props["when"] = {"anyOf": [{"type": "boolean"}, EXPR], "description": "include only when true"}
    required = [k for k, f in kind.fields.items() if f.required]
    body = {"type": ["object", "null"], "properties": props, "additionalProperties": False}
    if required:
        body["required"] = required
    return {"type": "object", "properties": {kind.name: body}, "required": [kind.name],
            "additionalProperties": False, "description": kind.doc}


def json_schema() -> dict:
    """The JSON Schema (draft 2020-12) a spec file validates against."""
    layer_ref = {"$ref": "#/$defs/layer"}
    layers = {"type": "array", "items": layer_ref, "minItems": 1}
    item_common = {"name": {"type": ["string", "integer"]}, "when": {"anyOf": [{"type": "boolean"}, EXPR]}}
    branch = {"anyOf": [layers, {"type": "object", "properties": dict(item_common, layers=layers),
                                 "required": ["layers"], "additionalProperties": False}]}
    structural = {
        "sequential": {"type": "object", "properties": dict(item_common, layers=layers),
                       "required": ["layers"], "additionalProperties": False},
        "residual": {"type": "object", "properties": dict(
            item_common, body=branch, shortcut={"anyOf": [{"const": "identity"}, branch]},
            activation={"anyOf": [layer_ref, {"type": "array", "items": layer_ref}]}), "required": ["body"], "additionalProperties": False},
        "repeat": {"type": "object", "properties": {
            "times": {"anyOf": [{"type": "integer", "minimum": 0}, EXPR]},
            "index": {"type": "string"}, "with": {"type": "object"}, "first": {"type": "object"},
            "layers": layers, "when": item_common["when"]},
            "required": ["times", "layers"], "additionalProperties": False},
        "check": {"type": "object", "properties": {
            "that": {"anyOf": [{"type": "boolean"}, EXPR]}, "message": {"type": "string"},
            "when": item_common["when"]}, "required": ["that"], "additionalProperties": False},
    }
    alternatives = [{"enum": sorted(KINDS)}]
    alternatives += [_leaf(k) for k in KINDS.values()]
    alternatives += [{"type": "object", "properties": {key: body}, "required": [key],
                      "additionalProperties": False} for key, body in structural.items()]
    alternatives.append({"type": "object", "properties": dict(item_common, use={"type": "string"},
                                                              **{"with": {"type": "object"}}),
                         "required": ["use"], "additionalProperties": False})
    template = {"type": "object", "properties": {
        "description": {"type": "string"}, "params": {"type": "object"}, "layers": layers},
        "required": ["layers"], "additionalProperties": False}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "paramscope spec",
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "input": {"type": "array", "items": {"type": "integer", "minimum": 1},
                      "minItems": 1, "maxItems": 3, "description": "[C, H, W] or [features]"},
            "params": {"type": "object", "description": "parameters with defaults; null = required"},
            "import": {"type": "array", "items": {"type": "string"}},
            "templates": {"type": "object", "additionalProperties": template},
            "layers": layers,
            "use": {"type": "string"},
            "with": {"type": "object"},
        },
        "additionalProperties": False,
        "$defs": {"layer": {"anyOf": alternatives}},
    }
