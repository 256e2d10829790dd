"""Test helpers: LayerNodes built from real torch modules, and torch's own counts.

Everything runs on the meta device (no memory, no arithmetic).  Reusable:

    node = node_from_module(nn.Conv2d(3, 64, 7, 2, 3), (1, 3, 224, 224))
    node = functional_node("matmul", torch.matmul, (8, 4, 5), (5, 6))
    flops = torch_flops(module, (1, 3, 224, 224))      # FlopCounterMode total
    cost = checked(node)                               # cost_of + Term arithmetic checks

Import as ``from nodes import ...`` (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import ast
import inspect
import operator
from fractions import Fraction
from typing import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from paramscope.formulas import Cost, cost_of
from paramscope.graph import LayerNode, ParamInfo

#: hyper-parameters normalised to an n-tuple on 1d/2d/3d kinds.
TUPLE_HPARAMS = ("kernel_size", "stride", "padding", "dilation", "output_padding", "output_size")
SKIP_ARGS = {"self", "device", "dtype", "args", "kwargs"}


def _rank(kind: str) -> int | None:
    return int(kind[-2]) if len(kind) > 2 and kind[-1] == "d" and kind[-2].isdigit() else None


def hparams_of(module: nn.Module) -> dict:
    """The module's constructor arguments read back from its attributes, normalised as
    graph.py documents: n-tuples for conv/pool sizes, ``bias`` as a bool, stride None -> kernel."""
    kind, n = type(module).__name__, _rank(type(module).__name__)
    out = {}
    for arg in inspect.signature(type(module).__init__).parameters:
        if arg in SKIP_ARGS or arg.startswith("_") or not hasattr(module, arg):
            continue
        value = getattr(module, arg)
        if arg == "bias":
            value = value is not None if not isinstance(value, bool) else value
        elif isinstance(value, torch.Tensor):
            continue
        elif arg in TUPLE_HPARAMS and n and not isinstance(value, str):
            value = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
        elif isinstance(value, (list, torch.Size)):
            value = tuple(value)
        out[arg] = value
    if "stride" in out and "Pool" in kind and out["stride"] in (None, ()):
        out["stride"] = out.get("kernel_size")
    return out


def _params(tensors) -> dict[str, ParamInfo]:
    return {name: ParamInfo(tuple(t.shape), bool(t.requires_grad))
            for name, t in tensors if t is not None}


def _meta_inputs(inputs) -> list[torch.Tensor]:
    """Meta tensors for shapes (float32); a tensor given as is (e.g. long indices) passes through."""
    return [x.to("meta") if isinstance(x, torch.Tensor) else torch.empty(x, device="meta")
            for x in inputs]


def _shapes(inputs) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(x.shape) if isinstance(x, torch.Tensor) else tuple(x) for x in inputs)


def _first(y) -> torch.Tensor:
    return y[0] if isinstance(y, (tuple, list)) else y


def node_from_module(module: nn.Module, *in_shapes, name: str = "",
                     call_index: int = 0) -> LayerNode:
    """A LayerNode for one inference call of ``module`` (moved to meta) on inputs of
    ``in_shapes`` (shapes, or meta tensors for non-float inputs)."""
    module, training = module.to("meta"), module.training
    try:
        with torch.no_grad():
            y = _first(module.eval()(*_meta_inputs(in_shapes)))
    finally:
        module.train(training)
    return LayerNode(
        name=name, kind=type(module).__name__, hparams=hparams_of(module),
        in_shapes=_shapes(in_shapes), out_shape=tuple(y.shape),
        params=_params(module.named_parameters(recurse=False)),
        buffers=_params(module.named_buffers(recurse=False)),
        call_index=call_index, dtype=str(y.dtype).removeprefix("torch."))


def functional_node(kind: str, fn: Callable, *in_shapes, name: str = "") -> LayerNode:
    """A LayerNode for a functional op (``"add"``, ``"matmul"`` ...) applied to meta inputs."""
    y = _first(fn(*_meta_inputs(in_shapes)))
    return LayerNode(name=name, kind=kind, hparams={}, in_shapes=_shapes(in_shapes),
                     out_shape=tuple(y.shape))


def torch_flops(fn: Callable, *in_shapes) -> int:
    """torch.utils.flop_counter's total (2 per MAC, no bias) for ``fn`` on meta inputs."""
    if isinstance(fn, nn.Module):
        fn = fn.to("meta").eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        fn(*_meta_inputs(in_shapes))
    return counter.get_total_flops()


def torch_params(module: nn.Module) -> int:
    """Σ numel of the module's parameters (the truth for params)."""
    return sum(p.numel() for p in module.parameters())


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.Div: operator.truediv}


def evaluate(expression: str) -> Fraction:
    """Evaluate a Term expression (× as *, thousands separators dropped), exactly."""
    def ev(n):
        if isinstance(n, ast.BinOp) and type(n.op) in _OPS:
            return _OPS[type(n.op)](ev(n.left), ev(n.right))
        if isinstance(n, ast.Constant) and isinstance(n.value, int):
            return Fraction(n.value)
        raise ValueError(f"not plain arithmetic: {expression!r}")
    return ev(ast.parse(expression.replace("×", "*").replace(",", ""), mode="eval").body)


def checked(node: LayerNode) -> Cost:
    """cost_of(node), asserting every Term evaluates to its value and the totals match."""
    cost = cost_of(node)
    for term in cost.terms:
        assert evaluate(term.expression) == term.value, term
    by_name = {t.quantity: t.value for t in cost.terms}
    assert by_name.get("params", 0) == cost.total_params
    assert by_name["macs"] == cost.macs and by_name["flops"] == cost.flops
    assert "disagrees" not in cost.note, cost.note
    return cost
