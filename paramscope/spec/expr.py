"""Safe arithmetic for spec values: ``${planes * 4}``.

Expressions are parsed with :mod:`ast` and evaluated by walking a whitelist of
node types: literals, names bound in the current scope, arithmetic, comparisons,
``and/or/not``, ``a if c else b``, indexing lists, list literals and a few pure
functions (min, max, abs, int, len, round).  No attribute access, no calls to
anything else, no ``eval``; sizes and exponents are bounded.
"""

from __future__ import annotations

import ast
import operator
import re
from typing import Any, Mapping

from paramscope.errors import SpecError, closest

MAX_EXPR_CHARS = 500
MAX_MAGNITUDE = 10**18
MAX_LENGTH = 10_000  # characters of a string / items of a list
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
    if value.count("${") != len(_EXPR.findall(value)):
        raise SpecError(f"unbalanced '${{' in {value!r}, expected ${{expression}}")
    return _EXPR.sub(lambda m: _text(evaluate(m.group(1), scope)), value)


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def evaluate(source: str, scope: Mapping[str, Any]) -> Any:
    """Evaluate one expression against ``scope``; raise SpecError on anything unsafe."""
    source = source.strip()
    if not source:
        raise SpecError("empty expression ${}")
    if len(source) > MAX_EXPR_CHARS:
        raise SpecError(f"expression longer than {MAX_EXPR_CHARS} characters")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as err:
        raise SpecError(f"cannot parse expression ${{{source}}}: {err.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise SpecError(f"expression ${{{source[:40]}...}} is nested too deeply") from None
    try:
        return _Evaluator(scope, source).visit(tree.body)
    except RecursionError:
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
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if abs(value) > MAX_MAGNITUDE:
                raise self.fail(f"value {value:.3g} exceeds the limit {MAX_MAGNITUDE:.0e}")
        elif isinstance(value, (str, list)) and len(value) > MAX_LENGTH:
            raise self.fail(f"a {type(value).__name__} of {len(value):,} items exceeds the limit "
                            f"of {MAX_LENGTH:,}")
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
        return [self.visit(e) for e in node.elts]

    visit_Tuple = visit_List

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.visit(node.left), self.visit(node.right)
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise self.fail(f"operator {type(node.op).__name__} is not allowed")
        for v in (left, right):
            if not isinstance(v, (int, float)) and not (isinstance(v, (str, list)) and op is operator.add):
                raise self.fail(f"arithmetic on {type(v).__name__} {v!r}")
        if op is operator.pow and (abs(right) > 64 or abs(left) > 2**32):
            raise self.fail("exponent too large")
        if op is operator.add and isinstance(left, (str, list)) and len(left) + len(right) > MAX_LENGTH:
            raise self.fail(f"a {type(left).__name__} longer than the limit of {MAX_LENGTH:,}")
        try:
            return op(left, right)
        except ZeroDivisionError:
            raise self.fail("division by zero") from None
        except OverflowError:
            raise self.fail(f"value exceeds the limit {MAX_MAGNITUDE:.0e}") from None

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
        try:
            return _FUNCS[node.func.id](*args)
        except (TypeError, ValueError) as err:
            raise self.fail(f"{node.func.id}(): {err}") from None
