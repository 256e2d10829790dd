"""Normalisation layers: parameters when affine, no MACs, FLOPs per element.

Buffers (running_mean / running_var / num_batches_tracked) are not parameters.
"""

from __future__ import annotations

from math import prod

from paramscope.graph import LayerNode
from paramscope.formulas._expr import dims, per_element, same_shape
from paramscope.formulas.hparams import bind, shape_of
from paramscope.formulas.registry import Cost, counted, formula, functional, shape_rule
from paramscope.measure import fvcore as fv
from paramscope.formulas.backward import Backward, backward, elementwise

#: FLOPs per output element before the affine step, and what they are.
NORM_FLOPS: dict[str, tuple[int, str]] = {
    "batch": (2, "inference: statistics folded into one scale and one shift"),
    "stats": (5, "mean, subtract mean, square, variance sum, scale by 1/std"),
    "rms": (3, "square, mean of squares, scale by 1/rms"),
}
#: plus one FLOP per element for each of an affine weight and an affine bias
#: (BatchNorm folds its affine step into the scale and shift).
AFFINE_FLOPS_EACH = 1


def _norm(node: LayerNode, family: str, weight_shape, weight: bool, bias: bool) -> Cost:
    base, why = NORM_FLOPS[family]
    size, expr = prod(weight_shape), dims(weight_shape)
    parts = ([("weight", expr, size)] if weight else []) + ([("bias", expr, size)] if bias else [])
    extra = 0 if family == "batch" else AFFINE_FLOPS_EACH * len(parts)
    if extra:
        why += f", + {extra} affine"
    return per_element(node, base + extra, why, parts)


@formula("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm")
def batch_norm(node: LayerNode) -> Cost:
    """BatchNorm: weight and bias = num_features when affine; 2 FLOPs per element."""
    h = node.hparams
    affine = h.get("affine", True)
    return _norm(node, "batch", (h["num_features"],), affine, affine)


@formula("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")
def instance_norm(node: LayerNode) -> Cost:
    """InstanceNorm (affine off by default): per-instance statistics, 5 FLOPs + affine."""
    h = node.hparams
    affine = h.get("affine", False)
    return _norm(node, "stats", (h["num_features"],), affine, affine)


@formula("GroupNorm")
def group_norm(node: LayerNode) -> Cost:
    """GroupNorm: weight and bias = num_channels when affine; 5 FLOPs + affine."""
    h = node.hparams
    affine = h.get("affine", True)
    return _norm(node, "stats", (h["num_channels"],), affine, affine)


@formula("LayerNorm")
def layer_norm(node: LayerNode) -> Cost:
    """LayerNorm: weight (and bias unless bias=False) = prod(normalized_shape)."""
    h = node.hparams
    affine = h.get("elementwise_affine", True)
    shape = _shape(h["normalized_shape"])
    return _norm(node, "stats", shape, affine, affine and h.get("bias", True))


@formula("RMSNorm")
def rms_norm(node: LayerNode) -> Cost:
    """RMSNorm: weight = prod(normalized_shape) when elementwise_affine; 3 FLOPs + affine."""
    h = node.hparams
    return _norm(node, "rms", _shape(h["normalized_shape"]), h.get("elementwise_affine", True), False)


counted("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", fvcore=fv.batch_norm)
counted("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", fvcore=fv.norm("affine", False))
counted("GroupNorm", fvcore=fv.norm("affine"))
counted("LayerNorm", fvcore=fv.norm("elementwise_affine"))
counted("RMSNorm", fvcore=fv.unsupported("rms_norm"))


def _shape(value) -> tuple[int, ...]:
    return (value,) if isinstance(value, int) else tuple(value)


def _affine(shape, weight: bool, bias: bool) -> dict:
    return {**({"weight": shape} if weight else {}), **({"bias": shape} if bias else {})}


def _running_stats(h, default: bool) -> dict:
    """running_mean, running_var = num_features and num_batches_tracked (a scalar) when tracked."""
    c = h["num_features"]
    return ({"running_mean": (c,), "running_var": (c,), "num_batches_tracked": ()}
            if h.get("track_running_stats", default) else {})


shape_rule("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm",
           params=lambda h: _affine((h["num_features"],), h.get("affine", True), h.get("affine", True)),
           buffers=lambda h: _running_stats(h, True))(same_shape)
shape_rule("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
           params=lambda h: _affine((h["num_features"],), h.get("affine", False), h.get("affine", False)),
           buffers=lambda h: _running_stats(h, False))(same_shape)
shape_rule("GroupNorm", params=lambda h: _affine((h["num_channels"],), h.get("affine", True),
                                                 h.get("affine", True)))(same_shape)
shape_rule("LayerNorm", params=lambda h: _affine(
    _shape(h["normalized_shape"]), h.get("elementwise_affine", True),
    h.get("elementwise_affine", True) and h.get("bias", True)))(same_shape)
shape_rule("RMSNorm", params=lambda h: _affine(_shape(h["normalized_shape"]),
                                               h.get("elementwise_affine", True), False))(same_shape)


def _batch_norm(name, args, kwargs, out_shape):
    b = bind(("input", "running_mean", "running_var", "weight", "bias", "training"), args, kwargs)
    x = shape_of(b.get("input"))
    n = {2: 1, 3: 1, 4: 2, 5: 3}.get(len(x))
    if n is None:
        return None
    return f"BatchNorm{n}d", {"num_features": x[1], "affine": b.get("weight") is not None,
                              "track_running_stats": b.get("running_mean") is not None}


def _instance_norm(name, args, kwargs, out_shape):
    b = bind(("input", "running_mean", "running_var", "weight", "bias"), args, kwargs)
    x = shape_of(b.get("input"))
    if len(x) not in (3, 4, 5):
        return None
    return f"InstanceNorm{len(x) - 2}d", {"num_features": x[1], "affine": b.get("weight") is not None}


def _normalized(value):
    if value is None:
        return None
    return (int(value),) if isinstance(value, int) else tuple(int(d) for d in value)


def _layer_norm(name, args, kwargs, out_shape):
    b = bind(("input", "normalized_shape", "weight", "bias", "eps"), args, kwargs)
    shape = _normalized(b.get("normalized_shape"))
    if shape is None:
        return None
    return "LayerNorm", {"normalized_shape": shape, "elementwise_affine": b.get("weight") is not None,
                         "bias": b.get("bias") is not None}


def _rms_norm(name, args, kwargs, out_shape):
    b = bind(("input", "normalized_shape", "weight", "eps"), args, kwargs)
    shape = _normalized(b.get("normalized_shape"))
    if shape is None:
        return None
    return "RMSNorm", {"normalized_shape": shape, "elementwise_affine": b.get("weight") is not None}


def _group_norm(name, args, kwargs, out_shape):
    b = bind(("input", "num_groups", "weight", "bias", "eps"), args, kwargs)
    x = shape_of(b.get("input"))
    if len(x) < 2 or not isinstance(b.get("num_groups"), int):
        return None
    return "GroupNorm", {"num_groups": b["num_groups"], "num_channels": x[1],
                         "affine": b.get("weight") is not None}


functional("batch_norm", extract=_batch_norm)
functional("instance_norm", extract=_instance_norm)
functional("layer_norm", extract=_layer_norm)
functional("rms_norm", extract=_rms_norm)
functional("group_norm", extract=_group_norm)


#: backward FLOPs per element of grad_input, by family, and what they are.
NORM_BACKWARD_FLOPS: dict[str, tuple[int, str]] = {
    "batch": (7, "x̂ · grad_out, Σ grad_out, Σ x̂·grad_out, scale by γ/σ, subtract both means"),
    "stats": (7, "x̂ · grad_out, Σ grad_out, Σ x̂·grad_out, scale by γ/σ, subtract both means"),
    "rms": (5, "x̂ · grad_out, Σ x̂·grad_out, scale by γ/rms, subtract the projection"),
}
_NORM_FAMILY = {**dict.fromkeys(("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm"), "batch"),
                **dict.fromkeys(("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "GroupNorm",
                                 "LayerNorm"), "stats"), "RMSNorm": "rms"}


@backward(*_NORM_FAMILY)
def norm_backward(node: LayerNode) -> Backward:
    """grad_input per element by family; grad_weight = Σ x̂·grad_out (2 per element),
    grad_bias = Σ grad_out (1 per element), for whichever affine parameter is trainable."""
    cost, why = NORM_BACKWARD_FLOPS[_NORM_FAMILY[node.kind]]
    return elementwise(node, cost, why, [("weight", 2, "Σ x̂ · grad_out"),
                                         ("bias", 1, "Σ grad_out")])
