"""``torch.einsum`` with two operands, costed the way torch evaluates it.

Letters that appear in one operand only and not in the output are summed away first
(no multiplies).  If some letter is shared by both operands and absent from the output,
the rest is one batched matrix product: MACs = the product of the remaining letters'
sizes.  Otherwise the result is an elementwise (or outer) product: no MACs, one multiply
per output element.
"""

from __future__ import annotations

from math import prod

from paramscope.formulas._expr import dims, num, times
from paramscope.formulas.hparams import shape_of
from paramscope.formulas.registry import Cost, counted, formula, functional, Term
from paramscope.measure import fvcore as fv
from paramscope.formulas.backward import Backward, backward, input_grad, mac_backward, summed
from paramscope.graph import LayerNode


def parse_equation(equation: str, shapes) -> tuple[list[str], str, dict[str, int]] | None:
    """``("bld,bmd->blm", shapes)`` -> (input letter strings, output letters, sizes), or None
    when the equation is not a plain two-operand one (ellipsis, bad letters)."""
    text = equation.replace(" ", "")
    if "." in text:
        return None
    lhs, arrow, out = text.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != 2 or len(shapes) != 2 or not all(s.isalpha() for s in inputs):
        return None
    if not arrow:
        letters = "".join(inputs)
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    sizes: dict[str, int] = {}
    for letters, shape in zip(inputs, shapes):
        if len(letters) != len(shape):
            return None
        for c, d in zip(letters, shape):
            if sizes.setdefault(c, d) != d and 1 not in (d, sizes[c]):
                return None
            sizes[c] = max(sizes[c], d)
    return inputs, out, sizes


@formula("einsum")
def einsum(node: LayerNode) -> Cost:
    """Two-operand einsum: a batched matmul when a letter is contracted, else elementwise."""
    equation = node.hparams["equation"]
    inputs, out, sizes = parse_equation(equation, node.hparams["shapes"])
    a, b = set(inputs[0]), set(inputs[1])
    kept = [c for c in sorted(sizes) if c in out or (c in a and c in b)]
    contracted = [c for c in kept if c not in out]
    numel_out = prod(node.out_shape)
    if contracted:
        macs = prod(sizes[c] for c in kept)
        expr = dims(sizes[c] for c in kept)
        terms = (Term("macs", expr, macs), Term("flops", times("2", num(macs)), 2 * macs))
        return Cost(node.kind, {}, macs, 2 * macs, terms, "ok",
                    f"{equation}: batched matmul over {''.join(kept)}, contracting {''.join(contracted)}")
    terms = (Term("macs", "0", 0), Term("flops", dims(node.out_shape), numel_out))
    return Cost(node.kind, {}, 0, numel_out, terms, "ok", f"{equation}: elementwise product")


counted("einsum", torchinfo="macs", fvcore=fv.einsum, flop_counter="macs")


def _einsum(name, args, kwargs, out_shape):
    """Equation and operand shapes of a plain two-operand ``torch.einsum``, else None (then
    it is costed from the aten products it runs)."""
    if not args or not isinstance(args[0], str):
        return None
    operands = args[1] if len(args) == 2 and isinstance(args[1], (list, tuple)) else args[1:]
    shapes = [shape_of(t) for t in operands]
    if parse_equation(args[0], shapes) is None:
        return None
    return "einsum", {"equation": args[0], "shapes": shapes}


functional("einsum", extract=_einsum)


@backward("einsum")
def einsum_backward(node: LayerNode) -> Backward:
    """Each operand that requires grad gets grad_out contracted with the other operand: the
    forward MACs again (a batched matmul), or 1 multiply per output element (elementwise)."""
    fwd = einsum(node)
    needs = [("grad_input", input_grad(node)), ("grad_input1", input_grad(node, "input1"))]
    if fwd.macs:
        return mac_backward(node, fwd, [(q, "", n) for q, n in needs])
    parts = [(q, dims(node.out_shape), prod(node.out_shape)) for q, n in needs if n]
    return summed(node.kind, [], parts, note="elementwise product: grad_out × the other operand")
