"""The formula registry: one pure function per layer kind.

A formula takes a :class:`~paramscope.graph.LayerNode` and returns a
:class:`Cost`: the numbers *and* the arithmetic that produced them, so that
``explain`` never re-derives anything.  Register with :func:`formula`; a second
registration of the same kind raises.  A kind with no formula is *unsupported*:
:func:`cost_of` returns a Cost with ``status="unsupported"`` and ``macs=None``,
never a silent zero.  No torch import here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from paramscope.graph import LayerNode

# Counting conventions (README "Counting conventions" repeats these):
#   params = numel of the layer's parameters (weight and bias apart);
#   MACs   = multiply-accumulates of conv / linear / matmul, bias excluded;
#   FLOPs  = 2 x MACs + every other arithmetic op, per-element cost per kind.


@dataclass(frozen=True)
class Term:
    """One line of arithmetic: ``quantity = expression = value``."""

    quantity: str  # "weight", "bias", "params", "macs", "flops", ...
    expression: str  # "3×64×7×7", human readable, × for multiplication
    value: int


@dataclass(frozen=True)
class Cost:
    """What one layer call costs under paramscope's conventions."""

    kind: str
    params: Mapping[str, int]  # numel per parameter name, {} on a shared module's later calls
    macs: int | None  # None when unsupported
    flops: int | None  # None when unsupported
    terms: tuple[Term, ...] = ()
    status: str = "ok"  # "ok" | "zero" (costs nothing by definition) | "unsupported"
    note: str = ""

    @property
    def total_params(self) -> int:
        return sum(self.params.values())


FormulaFn = Callable[[LayerNode], Cost]
_REGISTRY: dict[str, FormulaFn] = {}


def formula(*kinds: str) -> Callable[[FormulaFn], FormulaFn]:
    """Register ``fn`` as the formula of each kind in ``kinds``."""

    def register(fn: FormulaFn) -> FormulaFn:
        for kind in kinds:
            if kind in _REGISTRY:
                raise ValueError(f"a formula for {kind!r} is already registered")
            _REGISTRY[kind] = fn
        return fn

    return register


def registered_kinds() -> frozenset[str]:
    return frozenset(_REGISTRY)


def cost_of(node: LayerNode) -> Cost:
    """The cost of one layer call; ``status="unsupported"`` when no formula exists."""
    fn = _REGISTRY.get(node.kind)
    if fn is None:
        counted = {n: p.numel for n, p in node.params.items()} if node.counts_params else {}
        return Cost(node.kind, counted, None, None, (), "unsupported",
                    f"no formula for {node.kind}")
    return fn(node)
