"""Parsing of user-given option strings (--input, --set, choices) into values.

Shared by the CLI and the library (sweeps); every parse error is a
ParamscopeError with one line naming the option.  No torch, no typer.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from paramscope.errors import ParamscopeError, closest
from paramscope.graph import Shape

MAX_DIM = 10**9


def parse_input(text: str | None, default: Shape | None, batch: int | None) -> Shape | None:
    """Combine ``--input`` and ``--batch`` with the spec's default input (batch first).

    ``default`` is the spec's input including batch, or None for a factory (3×224×224).
    ``224`` sets H=W, ``3x32x32`` C×H×W, ``2x3x224x224`` adds the batch; ``[2,10,64]`` is
    the exact tensor shape (any rank, batch first; for token and sequence models), as is
    ``NxF`` for a factory.
    """
    if batch is not None and batch < 1:
        raise ParamscopeError(f"--batch must be a positive integer, got {batch}")
    if text is None and batch is None:
        return default
    base = default or (1, 3, 224, 224)
    if text is None:
        return (batch, *base[1:])
    exact = text.strip().startswith("[")
    body = text.strip()[1:-1] if exact and text.strip().endswith("]") else text
    parts = re.split(r"[x×,]", body.strip().lower())
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        raise ParamscopeError(f"--input expects 224, 3x32x32, 2x3x224x224 or an exact shape "
                              f"such as [2,10,64], got {text!r}") from None
    if any(d < 1 or d > MAX_DIM for d in dims):
        raise ParamscopeError(f"--input sizes must be between 1 and {MAX_DIM:,}, got {text!r}")
    if len(dims) > 8:
        raise ParamscopeError(f"--input {text!r} has {len(dims)} dimensions; at most 8")
    if exact or (default is None and len(dims) == 2):  # the tensor's own shape, batch first
        if default is not None and len(dims) != len(default):
            raise ParamscopeError(f"--input {text!r} has {len(dims)} dimensions; this spec's input "
                                  f"has {len(default)} with the batch")
        shape = tuple(dims)
    elif len(dims) == 1:
        shape = (base[0], *base[1:2], dims[0], dims[0]) if len(base) == 4 else (base[0], dims[0])
    elif len(dims) == len(base) - 1:
        shape = (base[0], *dims)
    elif len(dims) == len(base):
        shape = tuple(dims)
        if batch is not None and batch != dims[0]:
            raise ParamscopeError(f"--batch {batch} contradicts the batch in --input {text}")
    else:
        layout = {1: "features", 2: "C×L", 3: "C×H×W"}.get(len(base) - 1, f"{len(base) - 1} sizes")
        raise ParamscopeError(f"--input {text!r} has {len(dims)} sizes; this target takes "
                              f"{len(base) - 1} ({layout}) or {len(base)} with the batch")
    if batch is not None:
        shape = (batch, *shape[1:])
    return check_numel(tuple(shape), f"--input {text!r}")


MAX_NUMEL = 2**59  # elements torch can address at 8 bytes each (numel × 8 < 2^63)


def check_numel(shape: Shape, what: str = "the input") -> Shape:
    """``shape`` unchanged, or an error when a tensor of that shape could not exist."""
    numel = 1
    for d in shape:
        numel *= d
    if numel > MAX_NUMEL:
        raise ParamscopeError(f"{what} has {numel:.3g} elements, more than a tensor can hold "
                              f"(2^59; limit 'tensor size')")
    return shape


def _short(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def parse_value(text: str) -> Any:
    """A --set value, read as a YAML 1.2 scalar or flow list: 32, 0.5, true, [3, 4, 6, 3], name.

    YAML 1.2, not 1.1: ``010`` is 10 (never octal 8), ``0b100000`` and ``1:00`` are text."""
    from paramscope.spec.yamlsafe import load_text

    try:
        return load_text(text, "--set", schema="1.2") if text.strip() else ""
    except ParamscopeError as err:
        raise ParamscopeError(f"--set value {_short(text)}: {err.message}") from None


def split_sets(items: Iterable[str] | None, *, values: str = "value", twice: str = "give each key once"
               ) -> list[tuple[str, str]]:
    """``["groups=32", ...]`` -> ``[("groups", "32"), ...]``: identifier keys, each given once."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ParamscopeError(f"--set expects key={values}, got {_short(item)}")
        if key in out:
            raise ParamscopeError(f"--set {key} is given twice; " + twice.format(key=key))
        out[key] = text
    return list(out.items())


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    """``["groups=32", ...]`` -> ``{"groups": 32}``; a key given twice is an error."""
    return {key: parse_value(text) for key, text in split_sets(items)}


def parse_choice(option: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ParamscopeError(f"{option} must be one of {', '.join(choices)}, got {value!r}"
                              f"{closest(value, choices)}")
    return value


_BYTE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
               "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_bytes(text: str, option: str = "--fvcore-budget") -> int:
    """``8GB`` / ``512MiB`` / ``2e9`` / ``inf`` -> bytes."""
    match = re.fullmatch(r"\s*([0-9]{0,30}\.?[0-9]{1,30}(?:e[0-9]{1,3})?|inf)\s*([kmgt]i?b|b)?\s*",
                         str(text).lower())
    if not match:
        raise ParamscopeError(f"{option} expects a size such as 8GB, 512MiB or 2e9 bytes, got {_short(str(text))}")
    number, unit = match.groups()
    if number == "inf":
        return 2**63
    value = float(number) * _BYTE_UNITS[unit or ""]
    if not value < 2**63:
        raise ParamscopeError(f"{option} {_short(str(text))} is more than 2^63 bytes; use inf for no limit")
    return int(value)
