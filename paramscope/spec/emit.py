"""Write a resolved module tree back as a plain spec: ``paramscope show``.

Templates are expanded, parameters substituted and every module named; each
line carries the qualified module name and output shape as a comment.  The
output is itself a valid spec that resolves to the same graph.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from paramscope.spec.kinds import KINDS
from paramscope.textsafe import printable
from paramscope.spec.resolve import Module, Resolved

_INFERRED = {"in_channels", "in_features", "num_features", "num_channels"}
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: words YAML 1.1 reads as booleans or null when unquoted
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _float(value: float) -> str:
    """A float as YAML 1.1 reads it back (PyYAML needs a dot before the exponent)."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    mantissa, e, exponent = text.partition("e")
    if e and "." not in mantissa:
        text = f"{mantissa}.0e{exponent}"
    return text


def _quoted(text: str) -> str:
    """A YAML double-quoted string: characters as they are (an emoji stays one character,
    not a surrogate pair YAML would read back as two lone surrogates), control and bidi
    characters escaped."""
    from paramscope.textsafe import printable_json

    return printable_json(json.dumps(text, ensure_ascii=False))


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (tuple, list)):
        if len(value) == 2 and value[0] == value[1]:
            return _scalar(value[0])
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    if isinstance(value, str):
        plain = _PLAIN.match(value) and value.lower() not in _YAML_WORDS
        return value if plain else _quoted(value)
    if isinstance(value, float):
        return _float(value)
    return repr(value)


def leaf_arguments(module: Module) -> dict[str, Any]:
    """A leaf's spec arguments that differ from its kind's defaults (inferred sizes left out)."""
    kind = KINDS[module.spec_kind]
    out = {}
    for key, value in module.leaf.args.items():
        if key in _INFERRED or key not in kind.fields:
            continue
        default = kind.fields[key].default
        try:
            normal_default = kind.fields[key].convert(default) if default is not None else None
        except Exception:  # a required field has no default
            normal_default = object()
        if value != normal_default:
            out[key] = value
    return out


def scalar_text(value: Any) -> str:
    """``value`` as the spec writes it (``3``, ``[3, 1]``, ``"same"``)."""
    return _scalar(value)


def _leaf_args(module: Module) -> str:
    parts = [f"name: {_scalar(module.name)}"]
    parts += [f"{key}: {_scalar(value)}" for key, value in leaf_arguments(module).items()]
    return "{" + ", ".join(parts) + "}"


def _shape(shape) -> str:
    from paramscope.graph import shape_text

    return shape_text(shape, batch=False)


def _layers(parent: Module, order: list[str], indent: str, lines: list[str], seen: set[str]) -> None:
    for name in order:
        _emit(parent.children[name], indent, lines, seen)


def _emit(module: Module, indent: str, lines: list[str], seen: set[str]) -> None:
    if module.qualname in seen:  # a shared module (same name, same layer) called again
        where = f"  # {module.qualname} (the same module, called again)"
    else:
        where = f"  # {module.qualname} -> {_shape(module.out_shape)}"
        seen.add(module.qualname)
    if module.kind == "leaf":
        lines.append(f"{indent}- {module.spec_kind}: {_leaf_args(module)}{where}")
        return
    kind, key = ("sequential", "layers") if module.kind == "chain" else ("residual", "body")
    lines.append(f"{indent}- {kind}:{where}")
    lines.append(f"{indent}    name: {_scalar(module.name)}")
    lines.append(f"{indent}    {key}:{'' if module.order else ' []'}")
    _layers(module, module.order, indent + "      ", lines, seen)
    if module.shortcut:
        short = module.children[module.shortcut]
        seen.add(short.qualname)
        lines.append(f"{indent}    shortcut:  # {short.qualname} -> {_shape(short.out_shape)}")
        lines.append(f"{indent}      name: {_scalar(short.name)}")
        lines.append(f"{indent}      layers:")
        _layers(short, short.order, indent + "        ", lines, seen)
    acts = [module.children[name] for name in module.activation]
    if len(acts) == 1 and acts[0].kind == "leaf":
        seen.add(acts[0].qualname)
        lines.append(f"{indent}    activation: {{{acts[0].spec_kind}: {_leaf_args(acts[0])}}}")
    elif acts:  # each post-sum layer, in call order, like any layer list
        lines.append(f"{indent}    activation:")
        _layers(module, module.activation, indent + "      ", lines, seen)


def emit(resolved: Resolved) -> str:
    """The resolved spec as YAML text."""
    params = ", ".join(f"{k}={_scalar(v)}" for k, v in resolved.params.items())
    lines = [
        f"# {printable(resolved.name)}: resolved from {printable(resolved.file)}",
        f"# parameters: {params or 'none'}",
        f"name: {_scalar(resolved.name)}",
        f"description: {_quoted(resolved.description)}",
        f"input: [{', '.join(str(d) for d in resolved.input_shape[1:])}]"
        f"  # batch {resolved.input_shape[0]}",
        "layers:",
    ]
    _layers(resolved.root, resolved.root.order, "  ", lines, set())
    return "\n".join(lines) + "\n"
