"""Activations: no MACs; FLOPs = per-element cost × numel(out).

Convention: one FLOP per add, multiply, divide, compare, clamp bound, and per
transcendental (exp, log, tanh, erf).
"""

from __future__ import annotations

from math import prod

from paramscope.graph import LayerNode
from paramscope.formulas._expr import num, per_element, same_shape
from paramscope.formulas.hparams import bind, positional, shape_of
from paramscope.formulas.registry import Cost, counted, formula, functional, shape_rule
from paramscope.measure import fvcore as fv
from paramscope.formulas.backward import Backward, backward, elementwise

#: kind -> (FLOPs per output element, what they are).
ACTIVATION_FLOPS: dict[str, tuple[int, str]] = {
    "ReLU": (1, "max(x, 0)"),
    "ReLU6": (2, "clamp to [0, 6]"),
    "Hardtanh": (2, "clamp to [min_val, max_val]"),
    "LeakyReLU": (2, "compare, multiply by slope"),
    "PReLU": (2, "compare, multiply by learned slope"),
    "ELU": (4, "compare, exp, subtract 1, multiply by alpha"),
    "CELU": (5, "compare, divide by alpha, exp, subtract 1, multiply by alpha"),
    "SELU": (5, "compare, exp, subtract 1, multiply by alpha, multiply by scale"),
    "Sigmoid": (3, "exp(-x), add 1, divide"),
    "Tanh": (1, "tanh"),
    "SiLU": (4, "sigmoid (3), multiply by x"),
    "GELU": (5, "scale by 1/sqrt 2, erf, add 1, multiply by x, multiply by 0.5"),
    "GELU(tanh)": (9, "x^3 (2), scale, add x, scale, tanh, add 1, multiply by x, multiply by 0.5"),
    "Hardsigmoid": (4, "add 3, clamp to [0, 6] (2), divide by 6"),
    "Hardswish": (5, "add 3, clamp to [0, 6] (2), divide by 6, multiply by x"),
    "Softplus": (6, "multiply by beta, compare to threshold, exp, add 1, log, divide by beta"),
    "Mish": (5, "softplus as exp, add 1, log (3), tanh, multiply by x"),
    "Softmax": (5, "running max, subtract max, exp, sum, divide"),
    "LogSoftmax": (5, "running max, subtract max, exp, sum, subtract log-sum"),
}


def activation_key(node: LayerNode) -> str:
    """The table row of a node: GELU's tanh approximation has its own."""
    if node.kind == "GELU" and node.hparams.get("approximate", "none") == "tanh":
        return "GELU(tanh)"
    return node.kind


@formula(*(k for k in ACTIVATION_FLOPS if k != "GELU(tanh)"))
def activation(node: LayerNode) -> Cost:
    """Per-element activation; PReLU also owns ``num_parameters`` slopes."""
    cost, why = ACTIVATION_FLOPS[activation_key(node)]
    parts = []
    if node.kind == "PReLU":
        slopes = node.hparams.get("num_parameters", 1)
        parts = [("weight", num(slopes), slopes)]
    return per_element(node, cost, why, parts)


shape_rule(*(k for k in ACTIVATION_FLOPS if k not in ("GELU(tanh)", "PReLU")))(same_shape)
shape_rule("PReLU", params=lambda h: {"weight": (h.get("num_parameters", 1),)})(same_shape)


#: the jit op fvcore sees per activation: it has no handle for any (counted 0, reported
#: unsupported) and ignores relu; nn.ReLU6 is a Hardtanh, F.relu6 its own op
FVCORE_OPS = {"ReLU6": lambda node: "relu6" if node.functional else "hardtanh", "Hardtanh": "hardtanh",
              "LeakyReLU": "leaky_relu", "ELU": "elu", "CELU": "celu", "SELU": "selu", "Sigmoid": "sigmoid", "Tanh": "tanh", "SiLU": "silu",
              "GELU": "gelu", "Hardsigmoid": "hardsigmoid", "Hardswish": "hardswish",
              "Softplus": "softplus", "Mish": "mish", "PReLU": "prelu", "Softmax": "softmax",
              "LogSoftmax": "log_softmax"}
counted("ReLU", fvcore="ignored")
for _kind, _op in FVCORE_OPS.items():
    counted(_kind, fvcore=fv.unsupported(_op))


#: function name -> (kind, plain arguments after the input, torch's defaults).
ACTIVATION_FUNCTIONS: dict[str, tuple[str, tuple[str, ...], dict]] = {
    "relu": ("ReLU", ("inplace",), {"inplace": False}),
    "relu_": ("ReLU", (), {"inplace": True}),
    "relu6": ("ReLU6", ("inplace",), {"inplace": False}),
    "hardtanh": ("Hardtanh", ("min_val", "max_val", "inplace"),
                 {"min_val": -1.0, "max_val": 1.0, "inplace": False}),
    "leaky_relu": ("LeakyReLU", ("negative_slope", "inplace"),
                   {"negative_slope": 0.01, "inplace": False}),
    "elu": ("ELU", ("alpha", "inplace"), {"alpha": 1.0, "inplace": False}),
    "celu": ("CELU", ("alpha", "inplace"), {"alpha": 1.0, "inplace": False}),
    "selu": ("SELU", ("inplace",), {"inplace": False}),
    "gelu": ("GELU", (), {"approximate": "none"}),
    "silu": ("SiLU", ("inplace",), {"inplace": False}),
    "mish": ("Mish", ("inplace",), {"inplace": False}),
    "hardswish": ("Hardswish", ("inplace",), {"inplace": False}),
    "hardsigmoid": ("Hardsigmoid", ("inplace",), {"inplace": False}),
    "sigmoid": ("Sigmoid", (), {}),
    "tanh": ("Tanh", (), {}),
    "softplus": ("Softplus", ("beta", "threshold"), {"beta": 1.0, "threshold": 20.0}),
    "softmax": ("Softmax", ("dim",), {"dim": None}),
    "log_softmax": ("LogSoftmax", ("dim",), {"dim": None}),
}
for _name, (_kind, _order, _defaults) in ACTIVATION_FUNCTIONS.items():
    functional(_name, extract=positional(_kind, _order, _defaults))


def _prelu(name, args, kwargs, out_shape):
    """``F.prelu(input, weight)``: one slope per weight element."""
    w = shape_of(bind(("input", "weight"), args, kwargs).get("weight"))
    if not w:
        return None
    return "PReLU", {"num_parameters": prod(w)}


functional("prelu", extract=_prelu)


@backward(*(k for k in ACTIVATION_FLOPS if k != "GELU(tanh)"))
def activation_backward(node: LayerNode) -> Backward:
    """grad_input = f'(x) · grad_out: the derivative costs what the function costs (the
    forward table), plus 1 multiply by grad_out, per element; PReLU's slope gradient is
    2 per element (multiply, reduce)."""
    cost, why = ACTIVATION_FLOPS[activation_key(node)]
    params = [("weight", 2, "x · grad_out, summed per slope")] if node.kind == "PReLU" else []
    return elementwise(node, cost + 1, f"derivative {cost} + multiply by grad_out", params)
