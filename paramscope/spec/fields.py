"""Typed fields of spec layers: validation with messages that say what was expected."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from paramscope.errors import SpecError

_REQUIRED = object()


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"{value!r}"
    return f"{value!r} ({type(value).__name__})"


def _int(value: Any, what: str, minimum: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            hint = " (use ${...} for an expression)" if isinstance(value, str) else ""
            raise SpecError(f"expected {what}, got {_describe(value)}{hint}")
    if minimum is not None and value < minimum:
        raise SpecError(f"expected {what}, got {value}")
    return value


def positive(value: Any) -> int:
    return _int(value, "a positive integer", 1)


def non_negative(value: Any) -> int:
    return _int(value, "a non-negative integer", 0)


def integer(value: Any) -> int:
    return _int(value, "an integer", None)


def pair(check: Callable[[Any], int]) -> Callable[[Any], tuple[int, int]]:
    """An int or a [h, w] pair, normalised to a tuple."""

    def convert(value: Any) -> tuple[int, int]:
        if isinstance(value, (list, tuple)):
            if len(value) != 2:
                raise SpecError(f"expected one integer or a pair [h, w], got {len(value)} values")
            return (check(value[0]), check(value[1]))
        v = check(value)
        return (v, v)

    return convert


def padding(value: Any):
    if isinstance(value, str):
        if value in ("same", "valid"):
            return value
        raise SpecError(f"expected padding as an integer, [h, w], 'same' or 'valid', got {value!r}")
    return pair(non_negative)(value)


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise SpecError(f"expected true or false, got {_describe(value)}")


def number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        hint = ""
        if isinstance(value, str):
            try:
                float(value)
                hint = " (YAML reads 1e-6 as text: write 1.0e-6)"
            except ValueError:
                pass
        raise SpecError(f"expected a number, got {_describe(value)}{hint}")
    return float(value)


def positive_number(value: Any) -> float:
    v = number(value)
    if v <= 0:
        raise SpecError(f"expected a positive number, got {value}")
    return v


def probability(value: Any) -> float:
    v = number(value)
    if not 0.0 <= v <= 1.0:
        raise SpecError(f"expected a probability between 0 and 1, got {value}")
    return v


def optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else check(value)


def choice(*options: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in options:
            raise SpecError(f"expected one of {', '.join(options)}, got {_describe(value)}")
        return value

    return convert


def int_list(value: Any) -> tuple[int, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(positive(v) for v in value)
    return (positive(value),)


@dataclass(frozen=True)
class Field:
    """One argument of a layer kind: its converter, default and JSON-schema type."""

    convert: Callable[[Any], Any]
    default: Any = _REQUIRED
    schema: dict | None = None
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


INT = {"type": "integer"}
STR_EXPR = {"type": "string", "pattern": r"\$\{.*\}"}
PAIR = {"oneOf": [INT, {"type": "array", "items": INT, "minItems": 2, "maxItems": 2}]}
BOOL = {"type": "boolean"}
NUM = {"type": "number"}
