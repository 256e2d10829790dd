"""The formula registry: one pure function per layer kind.

A formula takes a :class:`~paramscope.graph.LayerNode` and returns a
:class:`Cost`: the numbers *and* the arithmetic that produced them, so that
``explain`` never re-derives anything.  Register with :func:`formula`; a second
registration of the same kind raises.  A kind with no formula is *unsupported*:
:func:`cost_of` returns a Cost with ``status="unsupported"`` and ``macs=None``,
never a silent zero.  What each measurer counts for a kind is declared beside its formula
with :func:`counted` (:class:`Counts`; one default, :data:`DEFAULT_COUNTS`).  No torch import here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Mapping

from paramscope.graph import LayerNode, Shape

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
#: kind -> dotted paths of module classes outside ``torch.nn`` that are this kind
_MODULES: dict[str, tuple[str, ...]] = {}
#: function name (``relu``, ``conv2d``, ``layer_norm``, ``__matmul__``) -> its extractor
_ALIASES: dict[str, Callable] = {}


def registrar(table: dict, what: str) -> Callable:
    """A decorator factory filling ``table``: ``@register("Conv2d", ...)`` maps each key to the
    decorated function; a key registered twice raises (``what`` names the table)."""

    def keys(*names: str) -> Callable:
        def register(fn):
            for name in names:
                if name in table:
                    raise ValueError(f"{what} for {name!r} is already registered")
                table[name] = fn
            return fn
        return register

    return keys


formula = registrar(_REGISTRY, "a formula")
formula.__doc__ = """Register ``fn`` as the formula of each kind in ``kinds``.

A kind's module class is ``torch.nn.<Kind>`` when torch.nn defines it; see
:func:`module_classes` for classes defined elsewhere.
"""


@dataclass(frozen=True)
class Counts:
    """What each measurer counts for a kind, declared beside its formula with :func:`counted`.

    A rule is a word or a function.  ``torchinfo``: ``"macs"`` (its weight rule stands for
    the formula's MACs; the rest is bias terms) or ``"params"`` (its parameter rule counts
    this kind's other terms).  ``fvcore``: ``"macs"`` (1 flop per MAC), ``"ignored"`` (an op
    in its ignore list: 0, silently), ``"zero"`` (no op it sees: 0, silently) or a function
    ``(node, cost, graph) -> NodeCount`` (its handle, or an op it reports unsupported: see
    :mod:`paramscope.measure.fvcore`).  ``flop_counter``: ``"macs"`` (2 per MAC) or ``"zero"``,
    for module calls (a function call is counted from the aten ops it ran).
    ``flop_counter_cpu``: None when FlopCounterMode counts a CPU run as a meta one, else a
    function ``(node, cost) -> (MACs not counted on the CPU, the kernel that runs them)``.
    """

    torchinfo: str = "params"
    fvcore: str | Callable = "zero"
    flop_counter: str = "zero"
    flop_counter_cpu: Callable | None = None


#: The one default, for a kind that declares nothing: it runs no op a tool counts --
#: torchinfo counts its parameters by its own rule, fvcore and FlopCounterMode count 0
#: (a kind with MACs that declares nothing has no FlopCounterMode rule: ``no-formula``).
DEFAULT_COUNTS = Counts()
#: kind -> what each measurer counts for it; a kind not listed: DEFAULT_COUNTS
_COUNTS: dict[str, Counts] = {}


def counted(*kinds: str, torchinfo: str = DEFAULT_COUNTS.torchinfo,
            fvcore: str | Callable = DEFAULT_COUNTS.fvcore,
            flop_counter: str = DEFAULT_COUNTS.flop_counter,
            flop_counter_cpu: Callable | None = None) -> None:
    """Declare what each measurer counts for ``kinds`` (see :class:`Counts`); once per kind."""
    registrar(_COUNTS, "what the measurers count")(*kinds)(
        Counts(torchinfo, fvcore, flop_counter, flop_counter_cpu))


def rules_for(kind: "str | LayerNode") -> Counts:
    """What each measurer counts for ``kind`` (a node: the kind its formula is registered
    under, ``op`` for a function call costed from its aten ops); DEFAULT_COUNTS if undeclared."""
    if not isinstance(kind, str):
        kind = formula_kind(kind)
    return _COUNTS.get(kind, DEFAULT_COUNTS)


def declared_counts() -> dict[str, Counts]:
    """kind -> its declared :class:`Counts` (kinds on DEFAULT_COUNTS are not listed)."""
    return dict(_COUNTS)


def formula_kind(node: LayerNode) -> str:
    """The registry key that costs ``node``: its kind, or ``op`` for a function call with no
    kind of its own (costed from its aten ops)."""
    if node.kind not in _REGISTRY and "callable" in node.hparams:
        return "op"
    return node.kind


def module_classes(kind: str, *paths: str) -> None:
    """Declare module classes outside torch.nn that are ``kind``, by dotted path (resolved
    by identity, and only when their package is already imported)."""
    _MODULES[kind] = _MODULES.get(kind, ()) + paths


def functional(*names: str, extract: Callable) -> None:
    """Register ``extract(name, args, kwargs, out_shape) -> (kind, hparams) | None`` for
    the functions called ``names`` (``F.x``, ``torch.x`` and ``Tensor.x`` share a name)."""
    registrar(_ALIASES, "a function alias")(*names)(extract)


def alias_kind(name: str, args, kwargs, out_shape=()) -> tuple[str, dict] | None:
    """``(kind, hparams)`` of a call to the function ``name`` when it is an alias of a kind
    and its arguments can be read; None otherwise (the trace then costs its aten ops)."""
    extract = _ALIASES.get(name)
    return extract(name, args, kwargs, out_shape) if extract is not None else None


def aliases() -> dict[str, Callable]:
    return dict(_ALIASES)


def external_modules() -> dict[str, tuple[str, ...]]:
    """kind -> module class paths outside torch.nn."""
    return dict(_MODULES)


def registered_kinds() -> frozenset[str]:
    return frozenset(_REGISTRY)


def cost_of(node: LayerNode) -> Cost:
    """The cost of one layer call; ``status="unsupported"`` when no formula exists.

    A functional op (``F.conv2d(x, w)``) counts no parameters: its tensors belong to a
    module, which counts them.  A *composite* leaf (a module with no formula whose
    functional ops were recorded) counts its own parameters and no arithmetic: the
    ops it called carry that.
    """
    fn = _REGISTRY.get(formula_kind(node))  # a function call: costed from its aten ops ("op")
    if fn is None and node.hparams.get("composite"):
        counted = ({n: p.numel for n, p in node.params.items() if not p.tied_to}
                   if node.counts_params else {})
        terms = tuple(Term(n, "×".join(f"{d:,}" for d in p.shape) or "1", p.numel)
                      for n, p in node.params.items() if node.counts_params)
        return Cost(node.kind, counted, 0, 0, terms + (Term("macs", "0", 0), Term("flops", "0", 0)),
                    "ok", f"{node.kind} has no formula: its arithmetic is counted through the "
                          "functional ops it calls (rows ':conv2d', ':add' ... of this module)")
    if fn is None:
        counted = ({n: p.numel for n, p in node.params.items() if not p.tied_to}
                   if node.counts_params else {})
        return Cost(node.kind, counted, None, None, (), "unsupported",
                    f"no formula for {node.kind}")
    cost = fn(node)
    if node.functional:
        if cost.params:
            cost = replace(cost, params={}, note=_join(
                cost.note, "functional call: its tensors are counted by the module that owns them"))
        return cost
    return _own_params(node, cost)


def formula_params(node: LayerNode) -> dict[str, int] | None:
    """The parameters (name -> numel) a module node's formula derives from its
    hyper-parameters; None when its kind has no formula or the formula cannot run."""
    fn = _REGISTRY.get(node.kind)
    if fn is None or node.functional:
        return None
    try:
        return dict(fn(replace(node, call_index=0)).params)
    except Exception:  # hyper-parameters the formula cannot read: no formula for this module
        return None


def _own_params(node: LayerNode, cost: Cost) -> Cost:
    """A module's parameters are its own ``parameters()``, never what its class implies.

    Tied tensors count once, on their first owner; a formula whose parameters differ from
    the module's own is not trusted (status ``unsupported``)."""
    if not node.counts_params:
        return cost
    actual = {n: p.numel for n, p in node.params.items()}
    notes = [f"{n} is shared with {p.tied_to} (counted there)" for n, p in node.params.items() if p.tied_to]
    counted = {n: p.numel for n, p in node.params.items() if not p.tied_to}
    if cost.status != "unsupported" and dict(cost.params) != actual:
        return Cost(node.kind, counted, None, None, (), "unsupported", _join(
            f"the module's parameters {sorted(actual)} differ from what the {node.kind} formula "
            f"derives {sorted(cost.params)}: no formula for this module", *notes))
    if notes:
        cost = replace(cost, params=counted, note=_join(cost.note, *notes))
    return cost


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


# -- shape rules: what a kind returns and allocates, from its hyper-parameters ---------------


class ShapeError(ValueError):
    """Hyper-parameters and an input shape that torch refuses (a window larger than the padded
    input, flatten dims outside the input, 'same' padding with a stride); the message says
    why, on one line."""


@dataclass(frozen=True)
class ShapeRule:
    """A kind's shapes, pure Python (no torch): what the spec engine builds from, and what
    tests hold against torch itself.  Hyper-parameters are normalised as the formulas read
    them; the input's channels / features are assumed to match them (the caller checks)."""

    out_shape: Callable[[Mapping, Shape], Shape]  # (hparams, in_shape) -> out_shape, batch included
    param_shapes: Callable[[Mapping], dict[str, Shape]]  # hparams -> {parameter name: shape}
    buffer_shapes: Callable[[Mapping], dict[str, Shape]]  # hparams -> {buffer name: shape}


_SHAPE_RULES: dict[str, ShapeRule] = {}


def _no_tensors(hparams: Mapping) -> dict[str, Shape]:
    return {}


def shape_rule(*kinds: str, params: Callable | None = None, buffers: Callable | None = None) -> Callable:
    """Register the decorated ``out_shape(hparams, in_shape) -> shape`` as the shape rule of
    each kind in ``kinds``, with ``params(hparams) -> {name: shape}`` and ``buffers`` likewise
    (none when omitted).  ``out_shape`` raises :class:`ShapeError` where torch refuses the input."""

    def register(fn: Callable) -> Callable:
        rule = ShapeRule(fn, params or _no_tensors, buffers or _no_tensors)
        registrar(_SHAPE_RULES, "a shape rule")(*kinds)(rule)
        return fn

    return register


def shape_rule_of(kind: str) -> ShapeRule:
    """The shape rule of ``kind`` (KeyError when it has none; import :mod:`paramscope.formulas`
    first, which registers every rule)."""
    return _SHAPE_RULES[kind]


def shape_rule_kinds() -> frozenset[str]:
    return frozenset(_SHAPE_RULES)
