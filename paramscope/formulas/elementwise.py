"""Functional ops recorded inside a module: residual add, mul, matmul.

add / mul: numel(out) × (inputs - 1) FLOPs (a tensor with a scalar counts as one op per element).
matmul:    MACs = numel(out) × k, k the contracted length (= batch·m·n·k); FLOPs = 2 × MACs.
"""

from __future__ import annotations

from math import prod

from paramscope.graph import LayerNode
from paramscope.formulas._expr import dims, num, times
from paramscope.formulas.registry import Cost, counted, formula, functional, Term
from paramscope.measure import fvcore as fv
from paramscope.formulas.backward import Backward, backward, input_grad, mac_backward, summed


@formula("add", "mul")
def binary(node: LayerNode) -> Cost:
    """One FLOP per output element per extra operand (broadcasting included)."""
    ops = max(len(node.in_shapes) - 1, 1)
    out = node.out_shape
    flops = ops * prod(out)
    expr = dims(out) if ops == 1 else times(num(ops), dims(out))
    return Cost(node.kind, {}, 0, flops, (Term("macs", "0", 0), Term("flops", expr, flops)), "ok",
                f"{node.kind} of {len(node.in_shapes)} tensor inputs")


counted("add", fvcore=fv.unsupported("add"))
counted("mul", fvcore=fv.unsupported("mul"))


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


counted("matmul", torchinfo="macs", fvcore=fv.matmul, flop_counter="macs")


def _arithmetic(kind: str):
    def extract(name, args, kwargs, out_shape):
        inplace = name.startswith("__i") or (name.endswith("_") and not name.endswith("__"))
        return kind, {"op": name, "inplace": inplace}
    return extract


functional("add", "add_", "__add__", "__radd__", "__iadd__", extract=_arithmetic("add"))
functional("mul", "mul_", "multiply", "__mul__", "__rmul__", "__imul__", extract=_arithmetic("mul"))
functional("matmul", "__matmul__", "__rmatmul__", "bmm", "mm", extract=_arithmetic("matmul"))


def _roles(node: LayerNode) -> list[str]:
    return ["input" if i == 0 else f"input{i}" for i in range(len(node.in_shapes))]


@backward("add", "mul")
def binary_backward(node: LayerNode) -> Backward:
    """add passes grad_out through unchanged (0 FLOPs); mul multiplies it by the other
    operand (1 FLOP per output element for each input that requires grad)."""
    roles = [r for r in _roles(node) if input_grad(node, r)]
    if node.kind == "add":
        return summed(node.kind, [], [], note="add: grad_out passes through to each input")
    parts = [(f"grad_{r}", dims(node.out_shape), prod(node.out_shape)) for r in roles]
    return summed(node.kind, [], parts, note="mul: grad_out × the other operand, per input")


@backward("matmul")
def matmul_backward(node: LayerNode) -> Backward:
    """grad_a = grad_out · bᵀ and grad_b = aᵀ · grad_out: the forward MACs for each operand
    that requires grad."""
    return mac_backward(node, matmul(node), [("grad_input", "input", input_grad(node)),
                                             ("grad_input1", "input1", input_grad(node, "input1"))])
