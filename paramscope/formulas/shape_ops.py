"""Kinds that cost nothing by definition: reshapes, copies, identity, inference dropout."""

from __future__ import annotations

from paramscope.graph import LayerNode
from paramscope.formulas._expr import zero
from paramscope.formulas.hparams import positional
from paramscope.formulas.registry import Cost, counted, formula, functional, module_classes, Term
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
