"""The layer graph: the one structure formulas, measurers and renderers agree on.

A :class:`Graph` is the ordered list of *calls* a forward pass makes to leaf
layers (plus functional ops such as residual adds).  It comes either from a
YAML spec (pure-Python shape inference, no torch) or from an ``nn.Module``
(one forward pass on the meta device with hooks, see :mod:`paramscope.tracing.trace`).

Shapes always include the batch dimension.  Nothing in this module imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Any, Mapping

Shape = tuple[int, ...]

_DTYPE_BYTES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int64": 8,
                "int32": 4, "int16": 2, "int8": 1, "uint8": 1, "bool": 1,
                "complex64": 8, "complex128": 16}


def shape_text(shape, *, batch: bool = True, sep: str = "×", empty: str = "") -> str:
    """``(1, 64, 56, 56)`` -> ``"1×64×56×56"`` (``batch=False``: ``"64×56×56"``); the one
    spelling of a shape in every output (``sep="x"`` in CSV)."""
    dims = tuple(shape) if batch else tuple(shape)[1:]
    return sep.join(str(d) for d in dims) if dims else empty


def dtype_bytes(dtype: str) -> int:
    """Bytes per element of a dtype name (``"float32"`` -> 4)."""
    return _DTYPE_BYTES.get(dtype, 4)


@dataclass(frozen=True)
class ParamInfo:
    """One parameter (or buffer) tensor owned by a layer."""

    shape: Shape
    trainable: bool = True
    #: element type name (``"float32"``); traced graphs fill it, specs keep the default.
    dtype: str = "float32"
    #: ``"<module>.<param>"`` of the first owner when this very tensor is shared
    #: (tied weights); ``""`` when this module is the first (or only) owner.
    tied_to: str = ""

    @property
    def numel(self) -> int:
        return prod(self.shape)


@dataclass(frozen=True)
class LayerNode:
    """One call of a leaf layer (or a functional op) during the forward pass.

    name:       qualified module name as ``named_modules()`` spells it
                (``layer3.0.conv2``; ``""`` for the root).  A functional op
                recorded inside a module is named ``<module>.<op>``-free: it
                carries the owning module's name and a kind such as ``"add"``.
    kind:       registry key: the torch.nn class name (``"Conv2d"``,
                ``"BatchNorm2d"``, ``"ReLU"``) or a functional op name
                (``"add"``, ``"mul"``, ``"matmul"``).
    hparams:    hyper-parameters under torch.nn's own argument names, with
                tuples normalised: Conv2d has ``in_channels, out_channels,
                kernel_size (kh, kw), stride (sh, sw), padding ((ph, pw) or
                "same"/"valid"), dilation (dh, dw), groups, bias (bool),
                padding_mode``; Linear ``in_features, out_features, bias``;
                BatchNorm2d ``num_features, eps, momentum, affine,
                track_running_stats``; pools ``kernel_size, stride, padding,
                dilation, ceil_mode`` (tuples); AdaptiveAvgPool2d
                ``output_size (oh, ow)``; activations their own arguments.
    in_shapes:  shapes of the tensor inputs, batch included.
    out_shape:  shape of the output, batch included.
    params:     parameters the *module* owns directly (``"weight"``, ``"bias"``),
                local names.  Repeated on every call of a shared module; only
                the call with ``call_index == 0`` counts them.
    buffers:    buffers the module owns directly (``running_mean`` ...).
    call_index: 0 for a module's first call, 1, 2, ... for later calls of the
                same (shared) module, e.g. torchvision's ``layer1.0.relu``.
    dtype:      element type name of the output (``"float32"`` ...).
    """

    name: str
    kind: str
    hparams: Mapping[str, Any]
    in_shapes: tuple[Shape, ...]
    out_shape: Shape
    params: Mapping[str, ParamInfo] = field(default_factory=dict)
    buffers: Mapping[str, ParamInfo] = field(default_factory=dict)
    call_index: int = 0
    dtype: str = "float32"
    #: True for an op recorded from a function call (``F.relu``, ``x + y``) rather
    #: than a module call; its ``name`` is the innermost running module's.
    functional: bool = False
    #: the module's ``training`` flag at trace time (BatchNorm counts differ by mode).
    training: bool = False
    #: for a functional op: the aten ops it ran on the meta device
    #: (:class:`paramscope.formulas.aten.AtenCall`), from which tools' counts are predicted.
    aten: tuple = ()


    #: training analyses only: whether each tensor input requires grad, by role --
    #: ``"input"``, ``"input1"`` ... in argument order, plus argument names for ops that
    #: take weights (``"weight"``, ``"bias"``; attention's ``"query"``, ``"in_proj_weight"``
    #: ...).  Empty for inference graphs.  Module parameters carry ``ParamInfo.trainable``.
    requires_grad: Mapping[str, bool] = field(default_factory=dict)
    #: training analyses only: ``(tokens of the tensor inputs, token of the output)``; two
    #: calls that see the same token see the same tensor storage (an in-place op or a view
    #: keeps its input's token), so a tensor saved for backward by both is counted once.
    #: Token 0 is not an activation (a parameter).  ``()`` for inference graphs.
    flow: tuple = ()

    @property
    def in_shape(self) -> Shape:
        """The first input's shape (most layers have exactly one input)."""
        return self.in_shapes[0] if self.in_shapes else ()

    @property
    def counts_params(self) -> bool:
        """True on the call that owns this module's parameters in totals."""
        return self.call_index == 0

    @property
    def key(self) -> str:
        """Unique row key: the name, with ``#k`` for a shared module's k-th later call
        and ``:kind`` for a functional op recorded inside a module."""
        base = self.name if not self.is_functional else f"{self.name}:{self.kind}"
        return base if self.call_index == 0 else f"{base}#{self.call_index}"

    @property
    def is_functional(self) -> bool:
        return self.functional or self.kind in FUNCTIONAL_KINDS


#: kinds that are functional ops (no module of their own), named after the owning module.
FUNCTIONAL_KINDS = frozenset({"add", "mul", "matmul"})


@dataclass
class Graph:
    """An ordered list of layer calls plus where they came from."""

    nodes: list[LayerNode]
    input_shape: Shape
    source: str = "spec"  # "spec" (shape inference) or "module" (meta trace)
    dtype: str = "float32"
    #: qualified names of every module in the model (containers included), in
    #: registration order, with the parameter count each owns directly. Lets
    #: renderers group by depth and name containers that own parameters.
    modules: dict[str, str] = field(default_factory=dict)  # name -> kind/class name
    #: functional ops seen during a trace that no kind covers and that are not pure
    #: shape ops, as ``"<module>:<op>"`` -> count (``"layer1.0:Tensor.sub"``; the root
    #: module is ``""``): listed, never silently dropped.
    unrecorded_ops: dict[str, int] = field(default_factory=dict)
    #: parameters no LayerNode carries, owned directly by non-leaf modules that ran
    #: (a class token), by module name.
    container_params: dict[str, dict[str, ParamInfo]] = field(default_factory=dict)
    #: parameters of modules whose forward never ran, by module name (reported as unused;
    #: counted in the total, since they are the model's parameters).
    unused_params: dict[str, dict[str, ParamInfo]] = field(default_factory=dict)
    #: traced graphs: every module's ``sum(p.numel() for p in m.parameters())`` (its
    #: subtree, each tensor once), and the modules whose forward ran, in call order.
    subtree_params: dict[str, int] = field(default_factory=dict)
    subtree_trainable: dict[str, int] = field(default_factory=dict)
    called: tuple[str, ...] = ()

    def __iter__(self):
        return iter(self.nodes)

    def unowned_params(self) -> dict[str, dict[str, ParamInfo]]:
        """Parameters no layer call carries: containers' own, then unused modules'."""
        return {**self.container_params, **self.unused_params}

    def __len__(self) -> int:
        return len(self.nodes)
