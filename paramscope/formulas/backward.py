"""Backward-pass formulas: what one layer call's gradients cost, with the arithmetic.

Each kind's backward function sits next to its forward formula (``conv.py``,
``linear.py`` ...), registered with :func:`backward`.  It reads which tensors need a
gradient from the node -- ``LayerNode.requires_grad`` for the call's tensor inputs,
``ParamInfo.trainable`` for the module's parameters -- and applies autograd's rule:
a node's backward runs only when some input or parameter requires grad; ``grad_input``
only for an input that requires grad; ``grad_weight`` / ``grad_bias`` only for a
trainable parameter.

Conventions (README "Training cost"): MACs are multiply-accumulates of the gradient
convolutions / matrix products (bias excluded); FLOPs = 2 × MACs + every other
arithmetic op, per element, per kind (stated in each kind's terms).  No torch import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from paramscope.formulas.registry import Term, registrar
from paramscope.graph import LayerNode


@dataclass(frozen=True)
class Backward:
    """What one layer call's backward pass costs."""

    kind: str
    grad_input_macs: int | None = 0  # None when unsupported
    grad_weight_macs: int | None = 0  # every parameter-like operand (weight, in_proj ...)
    flops: int | None = 0  # 2 × MACs + non-MAC arithmetic (grad_bias sums, elementwise)
    terms: tuple[Term, ...] = ()
    status: str = "ok"  # "ok" | "none" (no gradient flows through this call) | "unsupported"
    note: str = ""
    grad_bias_flops: int = 0  # part of ``flops``: the reductions of bias gradients

    @property
    def macs(self) -> int | None:
        if self.grad_input_macs is None or self.grad_weight_macs is None:
            return None
        return self.grad_input_macs + self.grad_weight_macs

    def to_dict(self) -> dict:
        return {"grad_input_macs": self.grad_input_macs, "grad_weight_macs": self.grad_weight_macs,
                "grad_bias_flops": self.grad_bias_flops, "macs": self.macs, "flops": self.flops,
                "status": self.status,
                "terms": [{"quantity": t.quantity, "expression": t.expression, "value": t.value}
                          for t in self.terms]}


BackwardFn = Callable[[LayerNode], Backward]
_BACKWARD: dict[str, BackwardFn] = {}


#: ``@backward("Conv2d", ...)``: register ``fn`` as the backward formula of each kind.
backward = registrar(_BACKWARD, "a backward formula")


def backward_kinds() -> frozenset[str]:
    return frozenset(_BACKWARD)


# -- what needs a gradient ------------------------------------------------------

def input_grad(node: LayerNode, role: str = "input") -> bool:
    """True when the call's tensor input ``role`` requires grad (False when unknown)."""
    return bool(node.requires_grad.get(role, False))


def param_grad(node: LayerNode, name: str) -> bool:
    """True when parameter ``name`` gets a gradient: a trainable module parameter, or a
    tensor argument of that name (a functional call's weight) that requires grad."""
    info = node.params.get(name)
    if info is not None and not node.functional:
        return info.trainable
    return input_grad(node, name)


def any_grad(node: LayerNode) -> bool:
    """True when autograd runs this call's backward at all."""
    return any(node.requires_grad.values()) or (
        not node.functional and any(p.trainable for p in node.params.values()))


def no_backward(node: LayerNode) -> Backward:
    """No input and no parameter of this call requires grad: autograd skips it."""
    return Backward(node.kind, 0, 0, 0, (Term("backward", "0", 0),), "none",
                    "nothing here requires grad: no backward")


def backward_of(node: LayerNode) -> Backward:
    """The backward cost of one call; ``status="unsupported"`` when no formula exists."""
    if not any_grad(node):
        return no_backward(node)
    fn = _BACKWARD.get(node.kind)
    if fn is None and node.hparams.get("composite"):
        return Backward(node.kind, 0, 0, 0, (Term("backward", "0", 0),), "ok",
                        "composite: its backward is counted through the ops it calls")
    if fn is None:
        return Backward(node.kind, None, None, None, (), "unsupported",
                        f"no backward formula for {node.kind}")
    return fn(node)


def summed(kind: str, parts: Iterable[tuple[str, str, int]], extra: Iterable[tuple[str, str, int]] = (),
           note: str = "", bias: tuple[str, int] | None = None) -> Backward:
    """A Backward from MAC parts ``(quantity, expression, macs)`` where quantity starts with
    ``grad_input`` or ``grad_weight``, plus non-MAC FLOP parts ``(quantity, expression, flops)``
    and an optional grad_bias reduction ``(expression, flops)``."""
    parts, extra = list(parts), list(extra)
    gi = sum(v for q, _, v in parts if q.startswith("grad_input"))
    gw = sum(v for q, _, v in parts if not q.startswith("grad_input"))
    terms = [Term(q, e, v) for q, e, v in parts]
    if bias is not None:
        extra.append(("grad_bias", *bias))
    terms += [Term(q, e, v) for q, e, v in extra]
    macs = gi + gw
    flops = 2 * macs + sum(v for _, _, v in extra)
    terms.append(Term("backward macs", " + ".join(f"{v:,}" for _, _, v in parts) or "0", macs))
    flop_expr = " + ".join([f"2 × {macs:,}"] * bool(macs) + [f"{v:,}" for _, _, v in extra]) or "0"
    terms.append(Term("backward flops", flop_expr, flops))
    return Backward(kind, gi, gw, flops, tuple(terms), "ok", note,
                    grad_bias_flops=bias[1] if bias else 0)


def forward_macs(cost) -> Term:
    """The forward Cost's ``macs`` Term: a gradient product repeats the forward's arithmetic."""
    return next(t for t in cost.terms if t.quantity == "macs")


def mac_backward(node: LayerNode, cost, operands: Iterable[tuple[str, str, bool]],
                 bias: tuple[str, int] | None = None, note: str = "") -> Backward:
    """Backward of a product whose every gradient costs the forward MACs: one part per
    operand ``(quantity, role, needs_grad)`` that needs a gradient."""
    fwd = forward_macs(cost)
    parts = [(q, fwd.expression, fwd.value) for q, _, needed in operands if needed]
    return summed(node.kind, parts, note=note, bias=bias)


def elementwise(node: LayerNode, cost: int, why: str,
                params: Iterable[tuple[str, int, str]] = ()) -> Backward:
    """Per-element backward: ``cost`` FLOPs per element for grad_input when the input
    needs it, and ``(name, cost, why)`` per element for each parameter that gets a gradient."""
    from math import prod

    shape = node.out_shape
    size = prod(shape)
    text = "×".join(f"{d:,}" for d in shape) or "1"
    extra, notes = [], []
    if input_grad(node):
        extra.append(("grad_input", f"{cost:,} × {text}", cost * size))
        notes.append(f"grad_input: {cost} per element ({why})")
    for name, c, pwhy in params:
        if param_grad(node, name):
            extra.append((f"grad_{name}", f"{c:,} × {text}", c * size))
            notes.append(f"grad_{name}: {c} per element ({pwhy})")
    return summed(node.kind, [], extra, note="; ".join(notes))
