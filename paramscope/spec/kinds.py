"""Leaf layer kinds of the spec language, one registered function each.

A kind function receives validated arguments and the incoming shape (batch
first) and returns a :class:`Leaf`: the torch.nn class and constructor
arguments, normalised hyper-parameters (as in :mod:`paramscope.graph`), the
output shape and the parameter / buffer shapes torch will allocate.  The shapes
come from the torch kind's shape rule (:func:`paramscope.formulas.registry.shape_rule`,
declared next to its formula); a kind function only checks its arguments against
the incoming shape.  Argument names are torch.nn's own; defaults follow torch.nn.
Pure Python, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import paramscope.formulas  # noqa: F401  (registers every kind's shape rule)
from paramscope.errors import SpecError
from paramscope.formulas.registry import ShapeError, shape_rule_of
from paramscope.graph import Shape, shape_text
from paramscope.spec import fields as F
from paramscope.spec.fields import Field


@dataclass
class Leaf:
    torch_kind: str
    args: dict[str, Any]  # constructor keyword arguments
    hparams: dict[str, Any]
    out_shape: Shape
    params: dict[str, Shape] = field(default_factory=dict)
    buffers: dict[str, Shape] = field(default_factory=dict)


@dataclass(frozen=True)
class Kind:
    name: str
    fields: dict[str, Field]
    infer: Callable[[dict, Shape], Leaf]
    doc: str


KINDS: dict[str, Kind] = {}


def kind(name: str, doc: str, **fields: Field):
    """Register a spec layer kind with its fields."""

    def register(fn: Callable[[dict, Shape], Leaf]):
        if name in KINDS:
            raise ValueError(f"spec kind {name!r} registered twice")
        KINDS[name] = Kind(name, fields, fn, doc)
        return fn

    return register


def _built(torch_kind: str, args: dict[str, Any], shape: Shape) -> Leaf:
    """The leaf ``torch_kind(**args)`` makes of an input of ``shape``: output, parameter and
    buffer shapes from the kind's shape rule (its ShapeError becomes a SpecError)."""
    rule, hparams = shape_rule_of(torch_kind), dict(args)
    try:
        out = rule.out_shape(hparams, shape)
    except ShapeError as err:
        raise SpecError(str(err)) from None
    return Leaf(torch_kind, args, hparams, out, rule.param_shapes(hparams), rule.buffer_shapes(hparams))


def _fmt(shape: Shape) -> str:
    return shape_text(shape, batch=False) if len(shape) > 1 else str(list(shape))


def _image(shape: Shape, what: str) -> tuple[int, int, int, int]:
    if len(shape) != 4:
        raise SpecError(f"{what} expects a C×H×W input, got {_fmt(shape)} "
                        "(after flatten or linear the input has no spatial size)")
    return shape  # type: ignore[return-value]


def _channels(args: dict, key: str, actual: int) -> int:
    given = args.get(key)
    if given is not None and given != actual:
        raise SpecError(f"{key} is {given} but the incoming tensor has {actual} channels/features")
    return actual


def _check_padding_mode(mode: str, pad, kernel, dilation, size) -> None:
    """torch.nn pads reflect-mode by less than the input, circular-mode by at most the input."""
    if mode in ("zeros", "replicate") or pad == "valid":
        return
    if pad == "same":  # torch splits d·(k−1) into a smaller left and a larger right half
        widths = [d * (k - 1) - d * (k - 1) // 2 for k, d in zip(kernel, dilation)]
    else:
        widths = list(pad)
    for axis, width, extent in zip(("height", "width"), widths, size):
        if mode == "reflect" and width >= extent:
            raise SpecError(f"padding {width} with padding_mode reflect must be smaller than the input "
                            f"{axis} {extent} (torch.nn)")
        if mode == "circular" and width > extent:
            raise SpecError(f"padding {width} with padding_mode circular must be at most the input "
                            f"{axis} {extent} (torch.nn)")


_CONV = dict(
    in_channels=Field(F.optional(F.positive), None, F.INT, "inferred from the input"),
    out_channels=Field(F.positive, schema=F.INT),
    kernel_size=Field(F.pair(F.positive), schema=F.PAIR),
    stride=Field(F.pair(F.positive), 1, F.PAIR),
    padding=Field(F.padding, 0, {"oneOf": [F.PAIR, {"enum": ["same", "valid"]}]}),
    dilation=Field(F.pair(F.positive), 1, F.PAIR),
    groups=Field(F.positive, 1, F.INT),
    bias=Field(F.boolean, True, F.BOOL),
    padding_mode=Field(F.choice("zeros", "reflect", "replicate", "circular"), "zeros",
                       {"enum": ["zeros", "reflect", "replicate", "circular"]}),
)


@kind("conv", "nn.Conv2d", **_CONV)
def conv(a: dict, shape: Shape) -> Leaf:
    _, c, h, w = _image(shape, "conv")
    cin = _channels(a, "in_channels", c)
    cout, groups = a["out_channels"], a["groups"]
    if cin % groups or cout % groups:
        raise SpecError(f"groups={groups} must divide in_channels ({cin}) and out_channels ({cout})")
    _check_padding_mode(a["padding_mode"], a["padding"], a["kernel_size"], a["dilation"], (h, w))
    args = dict(in_channels=cin, out_channels=cout, kernel_size=a["kernel_size"], stride=a["stride"],
                padding=a["padding"], dilation=a["dilation"], groups=groups, bias=a["bias"],
                padding_mode=a["padding_mode"])
    return _built("Conv2d", args, shape)


_NORM = dict(
    eps=Field(F.positive_number, 1e-5, F.NUM),
    momentum=Field(F.optional(F.number), 0.1, F.NUM),
    affine=Field(F.boolean, True, F.BOOL),
    track_running_stats=Field(F.boolean, True, F.BOOL),
)


@kind("bn", "nn.BatchNorm2d (BatchNorm1d after flatten/linear)",
      num_features=Field(F.optional(F.positive), None, F.INT, "inferred"), **_NORM)
def bn(a: dict, shape: Shape) -> Leaf:
    if len(shape) not in (2, 3, 4):
        raise SpecError(f"bn expects a C×H×W or feature input, got {_fmt(shape)}")
    c = _channels(a, "num_features", shape[1])
    torch_kind = "BatchNorm2d" if len(shape) == 4 else "BatchNorm1d"
    args = dict(num_features=c, eps=a["eps"], momentum=a["momentum"], affine=a["affine"],
                track_running_stats=a["track_running_stats"])
    return _built(torch_kind, args, shape)


@kind("groupnorm", "nn.GroupNorm", num_groups=Field(F.positive, schema=F.INT),
      num_channels=Field(F.optional(F.positive), None, F.INT, "inferred"),
      eps=Field(F.positive_number, 1e-5, F.NUM), affine=Field(F.boolean, True, F.BOOL))
def groupnorm(a: dict, shape: Shape) -> Leaf:
    if len(shape) < 2:
        raise SpecError(f"groupnorm expects a channel dimension, got {_fmt(shape)}")
    c = _channels(a, "num_channels", shape[1])
    if c % a["num_groups"]:
        raise SpecError(f"num_groups={a['num_groups']} must divide the {c} channels")
    args = dict(num_groups=a["num_groups"], num_channels=c, eps=a["eps"], affine=a["affine"])
    return _built("GroupNorm", args, shape)


@kind("layernorm", "nn.LayerNorm over the trailing dimensions (default: the last one)",
      normalized_shape=Field(F.optional(F.int_list), None, {"oneOf": [F.INT, {"type": "array"}]}),
      eps=Field(F.positive_number, 1e-5, F.NUM),
      elementwise_affine=Field(F.boolean, True, F.BOOL), bias=Field(F.boolean, True, F.BOOL))
def layernorm(a: dict, shape: Shape) -> Leaf:
    norm = a["normalized_shape"] or (shape[-1],)
    if len(norm) >= len(shape) or tuple(shape[-len(norm):]) != norm:
        raise SpecError(f"normalized_shape {list(norm)} does not match the trailing "
                        f"dimensions of the input {_fmt(shape)}")
    args = dict(normalized_shape=norm, eps=a["eps"], elementwise_affine=a["elementwise_affine"],
                bias=a["bias"])
    return _built("LayerNorm", args, shape)


def _activation(name: str, torch_kind: str, **extra: Field) -> None:
    def infer(a: dict, shape: Shape) -> Leaf:
        return _built(torch_kind, dict(a), shape)

    kind(name, f"nn.{torch_kind}", **extra)(infer)


_INPLACE = Field(F.boolean, False, F.BOOL)
_activation("relu", "ReLU", inplace=_INPLACE)
_activation("relu6", "ReLU6", inplace=_INPLACE)
_activation("leaky_relu", "LeakyReLU", negative_slope=Field(F.number, 0.01, F.NUM), inplace=_INPLACE)
_activation("elu", "ELU", alpha=Field(F.number, 1.0, F.NUM), inplace=_INPLACE)
_activation("silu", "SiLU", inplace=_INPLACE)
_activation("gelu", "GELU", approximate=Field(F.choice("none", "tanh"), "none", {"enum": ["none", "tanh"]}))
_activation("hardswish", "Hardswish", inplace=_INPLACE)
_activation("hardsigmoid", "Hardsigmoid", inplace=_INPLACE)
_activation("sigmoid", "Sigmoid")
_activation("tanh", "Tanh")
_activation("mish", "Mish", inplace=_INPLACE)


@kind("softmax", "nn.Softmax", dim=Field(F.integer, 1, F.INT, "dimension, batch included"))
def softmax(a: dict, shape: Shape) -> Leaf:
    if not -len(shape) <= a["dim"] < len(shape):
        raise SpecError(f"dim={a['dim']} is out of range for a {len(shape)}-d input "
                        f"(batch included: {-len(shape)} to {len(shape) - 1})")
    return _built("Softmax", dict(a), shape)
_activation("identity", "Identity")


def _dropout(name: str, torch_kind: str) -> None:
    _activation(name, torch_kind, p=Field(F.probability, 0.5, F.NUM), inplace=_INPLACE)


_dropout("dropout", "Dropout")
_dropout("dropout2d", "Dropout2d")


def _pool_window(a: dict, shape: Shape, what: str) -> tuple[tuple, tuple, tuple]:
    """kernel, stride (None: the kernel) and padding, checked as torch.nn checks them."""
    _image(shape, what)
    k, p = a["kernel_size"], a["padding"]
    for ki, pi in zip(k, p):
        if pi > ki // 2:
            raise SpecError(f"padding {list(p)} must be at most half the kernel size {list(k)} (torch.nn)")
    return k, a["stride"] or k, p


_POOL = dict(
    kernel_size=Field(F.pair(F.positive), schema=F.PAIR),
    stride=Field(F.optional(F.pair(F.positive)), None, F.PAIR, "defaults to kernel_size"),
    padding=Field(F.pair(F.non_negative), 0, F.PAIR),
    ceil_mode=Field(F.boolean, False, F.BOOL),
)


@kind("maxpool", "nn.MaxPool2d", dilation=Field(F.pair(F.positive), 1, F.PAIR), **_POOL)
def maxpool(a: dict, shape: Shape) -> Leaf:
    k, s, p = _pool_window(a, shape, "maxpool")
    args = dict(kernel_size=k, stride=s, padding=p, dilation=a["dilation"], ceil_mode=a["ceil_mode"])
    return _built("MaxPool2d", args, shape)


@kind("avgpool", "nn.AvgPool2d", count_include_pad=Field(F.boolean, True, F.BOOL), **_POOL)
def avgpool(a: dict, shape: Shape) -> Leaf:
    k, s, p = _pool_window(a, shape, "avgpool")
    args = dict(kernel_size=k, stride=s, padding=p, ceil_mode=a["ceil_mode"],
                count_include_pad=a["count_include_pad"])
    return _built("AvgPool2d", args, shape)


def _adaptive(name: str, torch_kind: str) -> None:
    def infer(a: dict, shape: Shape) -> Leaf:
        _image(shape, name)
        return _built(torch_kind, dict(output_size=a["output_size"]), shape)

    kind(name, f"nn.{torch_kind}", output_size=Field(F.pair(F.positive), 1, F.PAIR))(infer)


_adaptive("adaptive_avgpool", "AdaptiveAvgPool2d")
_adaptive("adaptive_maxpool", "AdaptiveMaxPool2d")


@kind("flatten", "nn.Flatten", start_dim=Field(F.integer, 1, F.INT), end_dim=Field(F.integer, -1, F.INT))
def flatten(a: dict, shape: Shape) -> Leaf:
    return _built("Flatten", dict(start_dim=a["start_dim"], end_dim=a["end_dim"]), shape)


@kind("linear", "nn.Linear over the last dimension",
      in_features=Field(F.optional(F.positive), None, F.INT, "inferred"),
      out_features=Field(F.positive, schema=F.INT), bias=Field(F.boolean, True, F.BOOL))
def linear(a: dict, shape: Shape) -> Leaf:
    if len(shape) < 2:
        raise SpecError(f"linear expects features, got {_fmt(shape)}")
    fin = _channels(a, "in_features", shape[-1])
    args = dict(in_features=fin, out_features=a["out_features"], bias=a["bias"])
    return _built("Linear", args, shape)
