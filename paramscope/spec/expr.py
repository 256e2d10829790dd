"""Safe arithmetic for spec values: ``${planes * 4}``.

Expressions are parsed with :mod:`ast` and evaluated by walking a whitelist of
node types: literals, names bound in the current scope, arithmetic, comparisons,
``and/or/not``, ``a if c else b``, indexing lists, list literals and a few pure
functions (min, max, abs, int, len, round).  No attribute access, no calls to
anything else, no ``eval``.  Every value an expression builds is bounded before it is
built: numbers by magnitude (``**`` and ``round`` are checked from their operands, never
computed first), strings and lists by their deep size, and the work of each
evaluation is charged to the active :mod:`~paramscope.spec.budget`.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from functools import lru_cache
from typing import Any, Mapping

from paramscope.errors import SpecError, closest
from paramscope.spec.budget import charge, deep_size

MAX_EXPR_CHARS = 500
MAX_MAGNITUDE = 10**18
MAX_LENGTH = 10_000  # characters of a string / items of a list, counted deeply
MAX_EXPONENT = 64
MAX_ROUND_DIGITS = 32
_EXPR = re.compile(r"\$\{([^{}]*)\}")

_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_FUNCS = {"min": min, "max": max, "abs": abs, "int": int, "len": len, "round": round}


def has_expression(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def substitute(value: Any, scope: Mapping[str, Any]) -> Any:
    """Evaluate ``${...}`` in a string value.

    A string that is exactly one ``${expr}`` becomes the expression's value (int,
    bool, list, ...); ``${}`` inside other text is interpolated as text.  Values
    without ``${`` are returned unchanged.
    """
    if not has_expression(value):
        return value
    whole = _EXPR.fullmatch(value.strip())
    if whole:
        return evaluate(whole.group(1), scope)
    parts = _EXPR.split(value)  # text, expression, text, expression, ..., text
    if value.count("${") != len(parts) // 2:
        raise SpecError(f"unbalanced '${{' in {_short(value)}, expected ${{expression}}")
    total, out = 0, []
    for i, part in enumerate(parts):
        text = _text(evaluate(part, scope)) if i % 2 else part
        total += len(text)
        if total > MAX_LENGTH and i % 2:
            raise SpecError(f"interpolating {_short(value)} builds a string longer than the "
                            f"limit of {MAX_LENGTH:,} characters (limit 'string/list size')")
        out.append(text)
    charge("text", total)
    return "".join(out)


def _short(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)) and deep_size(value, MAX_LENGTH) > MAX_LENGTH:
        raise SpecError(f"a list of more than {MAX_LENGTH:,} items cannot be interpolated "
                        "into text (limit 'string/list size')")
    return str(value)


def magnitude(value: int | float) -> str:
    """A number's size for an error message, without converting a huge int to text."""
    if isinstance(value, float) or value.bit_length() < 60:
        return f"{value:.3g}" if isinstance(value, float) else f"{value:,}"
    return f"about 10^{int(value.bit_length() * math.log10(2))}"


def evaluate(source: str, scope: Mapping[str, Any]) -> Any:
    """Evaluate one expression against ``scope``; raise SpecError on anything unsafe."""
    source = source.strip()
    if not source:
        raise SpecError("empty expression ${}")
    if len(source) > MAX_EXPR_CHARS:
        raise SpecError(f"expression longer than {MAX_EXPR_CHARS} characters (limit 'expression length')")
    tree = _parse(source)
    charge("work", 1 + len(source) // 16)
    try:
        return _Evaluator(scope, source).visit(tree.body)
    except RecursionError:
        raise SpecError(f"expression ${{{source[:40]}...}} is nested too deeply") from None


@lru_cache(maxsize=4096)
def _parse(source: str) -> ast.Expression:
    try:
        return ast.parse(source, mode="eval")
    except SyntaxError as err:
        raise SpecError(f"cannot parse expression ${{{source}}}: {err.msg}") from None
    except ValueError as err:  # e.g. an integer literal over Python's 4,300-digit limit
        raise SpecError(f"cannot parse expression ${{{source[:40]}...}}: {err}") from None
    except (RecursionError, MemoryError):
        raise SpecError(f"expression ${{{source[:40]}...}} is nested too deeply") from None


class _Evaluator:
    def __init__(self, scope: Mapping[str, Any], source: str) -> None:
        self.scope = scope
        self.source = source

    def fail(self, what: str) -> SpecError:
        return SpecError(f"in ${{{self.source}}}: {what}")

    def visit(self, node: ast.AST) -> Any:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            raise self.fail(f"{type(node).__name__} is not allowed in expressions "
                            "(arithmetic, comparisons, 'x if c else y', lists and "
                            "min/max/abs/int/len/round only)")
        return self.check(method(node))

    def check(self, value: Any) -> Any:
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, (int, float)):
            if not abs(value) <= MAX_MAGNITUDE and not (isinstance(value, float) and math.isnan(value)):
                raise self.fail(f"value {magnitude(value)} exceeds the limit {MAX_MAGNITUDE:.0e} "
                                "(limit 'number magnitude')")
        elif isinstance(value, (str, list)):
            if len(value) > MAX_LENGTH:
                raise self.fail(f"a {type(value).__name__} of {len(value):,} items exceeds the limit "
                                f"of {MAX_LENGTH:,} (limit 'string/list size')")
        else:
            raise self.fail(f"a value of type {type(value).__name__} is not allowed")
        return value

    def built(self, value: Any) -> Any:
        """Check the deep size of a list or string this expression has just built."""
        size = deep_size(value, MAX_LENGTH)
        charge("text", size)
        if size > MAX_LENGTH:
            raise self.fail(f"a {type(value).__name__} of more than {MAX_LENGTH:,} items, counted "
                            "deeply, exceeds the limit (limit 'string/list size')")
        return value

    def visit_Constant(self, node: ast.Constant) -> Any:
        if isinstance(node.value, (int, float, str, bool)) or node.value is None:
            return node.value
        raise self.fail(f"constant {node.value!r} is not allowed")

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id in self.scope:
            return self.scope[node.id]
        if node.id in ("true", "false"):
            return node.id == "true"
        raise self.fail(f"unknown name {node.id!r}{closest(node.id, self.scope)}; "
                        f"known: {', '.join(sorted(self.scope)) or 'none'}")

    def visit_List(self, node: ast.List) -> list:
        return self.built([self.visit(e) for e in node.elts])

    visit_Tuple = visit_List

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.visit(node.left), self.visit(node.right)
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise self.fail(f"operator {type(node.op).__name__} is not allowed")
        for v in (left, right):
            if not isinstance(v, (int, float)) and not (isinstance(v, (str, list)) and op is operator.add):
                raise self.fail(f"arithmetic on {type(v).__name__} {v!r}")
        if op is operator.pow:
            self.check_power(left, right)
        if op is operator.add and isinstance(left, (str, list)):
            if type(left) is not type(right):
                raise self.fail(f"cannot add {type(left).__name__} and {type(right).__name__}")
            if len(left) + len(right) > MAX_LENGTH:
                raise self.fail(f"a {type(left).__name__} longer than the limit of {MAX_LENGTH:,} "
                                "(limit 'string/list size')")
            return self.built(left + right)
        try:
            return op(left, right)
        except ZeroDivisionError:
            raise self.fail("division by zero") from None
        except OverflowError:
            raise self.fail(f"value exceeds the limit {MAX_MAGNITUDE:.0e} (limit 'number magnitude')") from None
        except TypeError as err:
            raise self.fail(str(err)) from None

    def check_power(self, base: Any, exponent: Any) -> None:
        """Refuse ``base ** exponent`` unless the result is small: decided from the operands."""
        if abs(exponent) > MAX_EXPONENT:
            raise self.fail(f"exponent {magnitude(exponent)} exceeds the limit of {MAX_EXPONENT} "
                            "(limit 'exponent')")
        if base < 0 and not float(exponent).is_integer():
            raise self.fail("a negative number to a fractional power is not a real number")
        if exponent > 0 and abs(base) > 1 and exponent * math.log10(abs(base)) > math.log10(MAX_MAGNITUDE) + 1:
            raise self.fail(f"{magnitude(base)} ** {exponent} exceeds the limit {MAX_MAGNITUDE:.0e} "
                            "(limit 'number magnitude')")

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return not value
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise self.fail(f"operator {type(node.op).__name__} is not allowed")
        if not isinstance(value, (int, float)):
            raise self.fail(f"sign of {type(value).__name__} {value!r}")
        return -value if isinstance(node.op, ast.USub) else +value

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        if isinstance(node.op, ast.And):
            result = True
            for v in node.values:
                result = self.visit(v)
                if not result:
                    return result
            return result
        result = False
        for v in node.values:
            result = self.visit(v)
            if result:
                return result
        return result

    def visit_Compare(self, node: ast.Compare) -> bool:
        left = self.visit(node.left)
        for op, comp in zip(node.ops, node.comparators):
            right = self.visit(comp)
            try:
                if not _CMPOPS[type(op)](left, right):
                    return False
            except (TypeError, KeyError):
                raise self.fail(f"cannot compare {left!r} and {right!r}") from None
            left = right
        return True

    def visit_IfExp(self, node: ast.IfExp) -> Any:
        return self.visit(node.body) if self.visit(node.test) else self.visit(node.orelse)

    def visit_Subscript(self, node: ast.Subscript) -> Any:
        value, index = self.visit(node.value), self.visit(node.slice)
        if not isinstance(value, list) or not isinstance(index, int) or isinstance(index, bool):
            raise self.fail(f"only lists can be indexed, by integers (got {value!r}[{index!r}])")
        if not -len(value) <= index < len(value):
            raise self.fail(f"index {index} out of range for a list of {len(value)}")
        return value[index]

    def visit_Call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCS or node.keywords:
            raise self.fail(f"only {', '.join(sorted(_FUNCS))} may be called")
        args = [self.visit(a) for a in node.args]
        if node.func.id == "round" and len(args) == 2 and isinstance(args[1], int) \
                and abs(args[1]) > MAX_ROUND_DIGITS:
            raise self.fail(f"round() digits must be between -{MAX_ROUND_DIGITS} and {MAX_ROUND_DIGITS} "
                            "(limit 'round digits')")
        try:
            return _FUNCS[node.func.id](*args)
        except (TypeError, ValueError, OverflowError) as err:
            raise self.fail(f"{node.func.id}(): {err}") from None
