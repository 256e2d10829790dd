"""Kinds that cost nothing by definition: reshapes, copies, identity, inference dropout."""

from __future__ import annotations

from paramscope.graph import LayerNode
from paramscope.formulas._expr import zero
from paramscope.formulas.backward import Backward, backward
from paramscope.formulas.registry import Cost, Term, formula

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


@backward(*ZERO_KINDS)
def zero_backward(node: LayerNode) -> Backward:
    """Reshapes, copies, identity: the gradient is moved, never computed on."""
    return Backward(node.kind, 0, 0, 0, (Term("backward", "0", 0),), "ok", ZERO_KINDS[node.kind])
