"""Functional ops recorded inside a module: residual add, mul, matmul.

add / mul: numel(out) × (inputs - 1) FLOPs (a tensor with a scalar counts as one op per element).
matmul:    MACs = numel(out) × k, k the contracted length (= batch·m·n·k); FLOPs = 2 × MACs.
"""

from __future__ import annotations

from math import prod

from paramscope.graph import LayerNode
from paramscope.formulas._expr import dims, num, times
from paramscope.formulas.registry import Cost, Term, formula, functional


@formula("add", "mul")
def binary(node: LayerNode) -> Cost:
    """One FLOP per output element per extra operand (broadcasting included)."""
    ops = max(len(node.in_shapes) - 1, 1)
    out = node.out_shape
    flops = ops * prod(out)
    expr = dims(out) if ops == 1 else times(num(ops), dims(out))
    return Cost(node.kind, {}, 0, flops, (Term("macs", "0", 0), Term("flops", expr, flops)), "ok",
                f"{node.kind} of {len(node.in_shapes)} tensor inputs")


@formula("matmul")
def matmul(node: LayerNode) -> Cost:
    """torch.matmul with broadcasting; 1-D operands included."""
    a, b = node.in_shapes[:2]
    k = a[-1]
    other = b[0] if len(b) == 1 else b[-2]
    note = "" if other == k else f"contracted lengths differ: {a} @ {b}"
    macs = prod(node.out_shape) * k
    terms = (Term("macs", times(dims(node.out_shape), num(k)), macs),
             Term("flops", times("2", num(macs)), 2 * macs))
    return Cost(node.kind, {}, macs, 2 * macs, terms, "ok", note)


def _arithmetic(kind: str):
    def extract(name, args, kwargs, out_shape):
        inplace = name.startswith("__i") or (name.endswith("_") and not name.endswith("__"))
        return kind, {"op": name, "inplace": inplace}
    return extract


functional("add", "add_", "__add__", "__radd__", "__iadd__", extract=_arithmetic("add"))
functional("mul", "mul_", "multiply", "__mul__", "__rmul__", "__imul__", extract=_arithmetic("mul"))
functional("matmul", "__matmul__", "__rmatmul__", "bmm", "mm", extract=_arithmetic("matmul"))
