"""Independent receptive-field measurement: back-propagate from one output position.

Weights are set to positive constants (1 / fan-in, biases 0, BatchNorm the identity), max
pooling is replaced by average pooling over the same window and ReLU6 by ReLU (both reach
the same inputs, and neither saturates nor picks one input), and the input is all ones in
float64, so an input position has a non-zero gradient exactly when some path of the
network connects it to the chosen output position.  The extent of those positions along
each axis is the receptive field, clipped to the input.
"""

from __future__ import annotations

import torch
from torch import nn

from paramscope.tracing.rowkeys import RowKeys


def positive_model(model: nn.Module) -> nn.Module:
    """``model`` (changed in place, float64, eval) with positive constant weights, max
    pools replaced by average pools and ReLU6 by ReLU."""
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
                assert child.dilation in (1, (1,) * 2, (1,) * 3), "no average-pool twin for a dilated max pool"
                avg = {nn.MaxPool1d: nn.AvgPool1d, nn.MaxPool2d: nn.AvgPool2d, nn.MaxPool3d: nn.AvgPool3d}
                setattr(module, child_name, avg[type(child)](child.kernel_size, child.stride, child.padding,
                                                             ceil_mode=child.ceil_mode))
            elif isinstance(child, nn.AdaptiveMaxPool2d):
                setattr(module, child_name, nn.AdaptiveAvgPool2d(child.output_size))
            elif isinstance(child, nn.ReLU6):
                setattr(module, child_name, nn.ReLU())
    model = model.double().eval().requires_grad_(False)  # only the input's gradient is needed
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.running_mean.zero_()
                module.running_var.fill_(1)
                module.eps = 0.0
                if module.affine:
                    module.weight.fill_(1)
                    module.bias.zero_()
            elif isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.fill_(1.0 / fan_in)
                if module.bias is not None:
                    module.bias.zero_()
    return model


def outputs_by_key(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every recorded call's first output tensor, by row key."""
    outs: dict[str, torch.Tensor] = {}

    def keep(key, out):
        t = out if isinstance(out, torch.Tensor) else next(
            (o for o in (out if isinstance(out, (tuple, list)) else ()) if isinstance(o, torch.Tensor)), None)
        if t is not None:
            outs[key] = t.clone()  # in-place ops later must not change what we keep

    with RowKeys(model, keep):
        model(x)
    return outs


def extent(model_outputs: dict, x: torch.Tensor, key: str, position: tuple[int, ...]) -> list[tuple[int, int]]:
    """Per input axis, the first and last input position with a non-zero gradient of
    ``out[0, :, *position]`` summed over channels (``position`` empty: the whole sample)."""
    out = model_outputs[key]
    target = out[0][(slice(None), *position)].sum() if position else out[0].sum()
    (grad,) = torch.autograd.grad(target, x, retain_graph=True)
    g = grad[0].abs().sum(0)  # the spatial axes
    spans = []
    for axis in range(g.dim()):
        other = [d for d in range(g.dim()) if d != axis]
        marginal = g.sum(other) if other else g
        nz = torch.nonzero(marginal).flatten()
        spans.append((int(nz.min()), int(nz.max())) if len(nz) else (None, None))
    return spans


def position_for(rf, out_shape, size: tuple[int, ...]) -> tuple[int, ...]:
    """An output position whose predicted window lies inside the input where possible."""
    pos = []
    for axis, a in enumerate(rf.axes):
        if not a.indexed:
            continue
        n = out_shape[2 + axis]
        centre = ((size[axis] - 1) / 2 - a.start - (a.size - 1) / 2) / a.jump if a.jump else 0
        pos.append(min(n - 1, max(0, round(centre))))
    return tuple(pos)


def check_model(model: nn.Module, input_shape, predicted, dedupe: bool = False,
                limit: int | None = None) -> tuple[int, list[str]]:
    """Compare every predicted receptive field with the gradient measurement; returns the
    number of layer outputs checked and the disagreements (``key: axis ...``).  ``dedupe``
    checks a (window, output shape, position) once; ``limit`` checks at most that many
    layer outputs, evenly spread over the network, the last one included."""
    model = positive_model(model)
    x = torch.ones(input_shape, dtype=torch.float64, requires_grad=True)
    outs = outputs_by_key(model, x)
    size = tuple(input_shape[2:])
    bad, checked, seen = [], 0, set()
    keys = list(predicted.layers)
    if limit is not None and len(keys) > limit:
        step = (len(keys) - 1) / (limit - 1)
        keys = [keys[round(i * step)] for i in range(limit)]
    for key in keys:
        rf = predicted.layers[key]
        if rf.unknown or not rf.axes or key not in outs:
            continue
        out = outs[key]
        indexed = [a for a in rf.axes if a.indexed]
        if indexed and (out.dim() != 2 + len(rf.axes) or not all(a.indexed for a in rf.axes)):
            continue  # only N×C×spatial outputs are checked position by position
        pos = position_for(rf, out.shape, size)
        sig = (rf, tuple(out.shape), pos)
        if dedupe and sig in seen:
            continue
        seen.add(sig)
        measured = extent(outs, x, key, pos)
        checked += 1
        for axis, a in enumerate(rf.axes):
            lo, hi = a.window(pos[axis] if a.indexed else 0)
            want = (max(lo, 0), min(hi, size[axis] - 1))
            if measured[axis] != want:
                bad.append(f"{key}: axis {axis}: predicted {want} (window {lo}..{hi}), gradient {measured[axis]}")
    return checked, bad
