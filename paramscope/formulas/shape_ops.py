"""Kinds that cost nothing by definition: reshapes, copies, identity, inference dropout."""

from __future__ import annotations

from math import prod

from paramscope.graph import LayerNode
from paramscope.formulas._expr import same_shape, zero
from paramscope.formulas.hparams import positional
from paramscope.formulas.registry import (Cost, counted, formula, functional, module_classes, shape_rule,
                                          ShapeError, Term)
from paramscope.measure import fvcore as fv
from paramscope.formulas.backward import Backward, backward

#: kind -> why it costs nothing.
ZERO_KINDS: dict[str, str] = {
    **{k: "reshape only" for k in ("Flatten", "Unflatten", "Permute")},
    "Identity": "identity",
    **{k: "dropout is the identity at inference"
       for k in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
                 "FeatureAlphaDropout")},
    # torchvision.ops.StochasticDepth (EfficientNet, ConvNeXt, Swin): drops whole residual
    # branches while training, the identity at inference
    "StochasticDepth": "stochastic depth is the identity at inference",
}


@formula(*ZERO_KINDS)
def zero_cost(node: LayerNode) -> Cost:
    """Zero params, MACs and FLOPs; status ``"zero"``."""
    return zero(node, ZERO_KINDS[node.kind])


shape_rule("Identity", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
           "FeatureAlphaDropout")(same_shape)


@shape_rule("Flatten")
def flatten_out_shape(h, in_shape):
    """Dimensions start_dim..end_dim (negative counts from the end) become their product."""
    rank, start, end = len(in_shape), h.get("start_dim", 1), h.get("end_dim", -1)
    if not (-rank <= start < rank and -rank <= end < rank and start % rank <= end % rank):
        raise ShapeError(f"flatten dims start_dim={start}, end_dim={end} "
                         f"do not fit a {rank}-d input (batch included)")
    start, end = start % rank, end % rank
    return (*in_shape[:start], prod(in_shape[start:end + 1]), *in_shape[end + 1:])


@shape_rule("Unflatten")
def unflatten_out_shape(h, in_shape):
    """Dimension dim becomes unflattened_size (one -1 entry takes what is left)."""
    rank, sizes = len(in_shape), tuple(h["unflattened_size"])
    if not -rank <= h["dim"] < rank:
        raise ShapeError(f"unflatten dim={h['dim']} does not fit a {rank}-d input (batch included)")
    dim = h["dim"] % rank
    known = prod(s for s in sizes if s != -1)
    if (sizes.count(-1) > 1 or known <= 0 or in_shape[dim] % known
            or (-1 not in sizes and known != in_shape[dim])):
        raise ShapeError(f"unflattened_size {list(sizes)} does not split dimension {h['dim']} "
                         f"of size {in_shape[dim]}")
    sizes = tuple(in_shape[dim] // known if s == -1 else s for s in sizes)
    return (*in_shape[:dim], *sizes, *in_shape[dim + 1:])


# fvcore ignores dropout and flatten; the other ops it has no handle for
counted("Flatten", "Identity", fvcore="ignored")
counted("Unflatten", fvcore=fv.unsupported("unflatten"))
counted("Dropout", fvcore=fv.dropout)
counted("Dropout1d", "Dropout2d", "Dropout3d", fvcore=fv.unsupported("feature_dropout"))
counted("AlphaDropout", fvcore=fv.unsupported("alpha_dropout"))
counted("FeatureAlphaDropout", fvcore=fv.unsupported("feature_alpha_dropout"))


functional("flatten", extract=positional("Flatten", ("start_dim", "end_dim"),
                                         {"start_dim": 0, "end_dim": -1}))
functional("dropout", extract=positional("Dropout", ("p", "training", "inplace"),
                                         {"p": 0.5, "training": True, "inplace": False}))
module_classes("StochasticDepth", "torchvision.ops.stochastic_depth.StochasticDepth")
module_classes("Permute", "torchvision.ops.misc.Permute")


@backward(*ZERO_KINDS)
def zero_backward(node: LayerNode) -> Backward:
    """Reshapes, copies, identity: the gradient is moved, never computed on."""
    return Backward(node.kind, 0, 0, 0, (Term("backward", "0", 0),), "ok", ZERO_KINDS[node.kind])
