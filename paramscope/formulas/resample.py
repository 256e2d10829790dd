"""Upsampling / interpolation: no parameters, no MACs, FLOPs per output element by mode.

Each output element is a weighted sum of its 2^d nearest inputs for the (bi/tri)linear
modes: 2^d multiplies + (2^d - 1) adds; bicubic uses 4×4 inputs (16 multiplies + 15
adds); nearest modes copy (0 FLOPs).
"""

from __future__ import annotations

from paramscope.formulas._expr import per_element, zero
from paramscope.formulas.hparams import positional
from paramscope.formulas.registry import Cost, counted, formula, functional
from paramscope.measure import fvcore as fv
from paramscope.formulas.backward import Backward, backward, elementwise
from paramscope.graph import LayerNode

#: interpolation mode -> (FLOPs per output element, what they are).
RESAMPLE_FLOPS: dict[str, tuple[int, str]] = {
    "linear": (3, "2 weighted inputs: 2 multiplies, 1 add"),
    "bilinear": (7, "4 weighted inputs: 4 multiplies, 3 adds"),
    "trilinear": (15, "8 weighted inputs: 8 multiplies, 7 adds"),
    "bicubic": (31, "16 weighted inputs: 16 multiplies, 15 adds"),
}


@formula("Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d")
def resample(node: LayerNode) -> Cost:
    """nn.Upsample / F.interpolate; nearest modes are copies (zero by definition)."""
    mode = node.hparams.get("mode", "nearest")
    if node.kind == "UpsamplingBilinear2d":
        mode = "bilinear"
    if mode not in RESAMPLE_FLOPS:
        return zero(node, f"{mode} interpolation copies inputs")
    cost, why = RESAMPLE_FLOPS[mode]
    return per_element(node, cost, f"{mode}: {why}")


counted("Upsample", fvcore=fv.upsample())
counted("UpsamplingNearest2d", fvcore=fv.upsample("nearest"))
counted("UpsamplingBilinear2d", fvcore=fv.upsample("bilinear"))


functional("interpolate", extract=positional(
    "Upsample", ("size", "scale_factor", "mode", "align_corners"),
    {"size": None, "scale_factor": None, "mode": "nearest", "align_corners": None}))


@backward("Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d")
def resample_backward(node: LayerNode) -> Backward:
    """grad_out is spread back over the same weighted inputs: the forward's FLOPs per output
    element (nearest modes: 1 add per element)."""
    mode = "bilinear" if node.kind == "UpsamplingBilinear2d" else node.hparams.get("mode", "nearest")
    cost, why = RESAMPLE_FLOPS.get(mode, (1, "add into the copied-from input"))
    return elementwise(node, cost, why)
