"""Kinds that cost nothing by definition: reshapes, copies, identity, inference dropout."""

from __future__ import annotations

from paramscope.graph import LayerNode
from paramscope.formulas._expr import zero
from paramscope.formulas.registry import Cost, formula

#: kind -> why it costs nothing.
ZERO_KINDS: dict[str, str] = {
    **{k: "reshape only" for k in ("Flatten", "Unflatten", "flatten", "flatten_op", "Permute")},
    "Identity": "identity",
    "cat": "copy only",
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
