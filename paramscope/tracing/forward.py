"""Call a model with an input set: the one forward invocation trace and the measurers share.

``input_shape`` is a shape tuple (one tensor) or an :class:`~paramscope.tracing.input_spec.InputSet`
(several, keyword, integer or list inputs).  On the meta device tensors are empty; on a
real device floats are zeros (``fill="zeros"``) or seeded uniform noise
(``fill="random"``, deterministic), integers zeros.  Outputs of any structure (tensor,
tuple, list, dict, ``ModelOutput``) are returned as the model gives them.
"""

from __future__ import annotations

from typing import Any

from paramscope.tracing.input_spec import as_input_set

SEED = 0


def model_inputs(input_shape, dtype: str = "float32", device: str = "meta",
                 fill: str = "zeros") -> tuple[list, dict[str, Any]]:
    """``(args, kwargs)`` to call a model with: one tensor (or list of tensors) per spec."""
    import torch

    from paramscope.tracing.trace import check_shape, torch_dtype

    inputs = as_input_set(input_shape)
    gen = torch.Generator().manual_seed(SEED) if fill == "random" else None

    def tensor(shape, name):
        tdtype = torch_dtype(name or dtype)
        if device == "meta":
            return torch.empty(shape, dtype=tdtype, device="meta")
        if gen is not None and tdtype.is_floating_point:
            return torch.rand(shape, generator=gen).to(device=device, dtype=tdtype)
        return torch.zeros(shape, dtype=tdtype, device=device)

    args, kwargs = [], {}
    for spec in inputs.specs:
        shape = check_shape(spec.shape)
        value = [tensor(shape[1:], spec.dtype) for _ in range(shape[0])] if spec.as_list \
            else tensor(shape, spec.dtype)
        if spec.name:
            kwargs[spec.name] = value
        else:
            args.append(value)
    if inputs.extra is not None:
        kwargs.update(inputs.extra(device, torch_dtype(dtype)))
    return args, kwargs


def call_model(model, input_shape, dtype: str = "float32", device: str = "meta", fill: str = "zeros"):
    """Run ``model`` once on inputs built by :func:`model_inputs`; returns its output."""
    args, kwargs = model_inputs(input_shape, dtype, device, fill)
    return model(*args, **kwargs)


def input_text(input_shape) -> str:
    """``image1=1x3x520x960, image2=...`` (or ``1x3x224x224`` for one plain tensor)."""
    return as_input_set(input_shape).text()


#: default sizes per input layout: images N×C×H×W, video N×C×T×H×W.
IMAGE = (224, 224)
VIDEO = (16, 224, 224)


def default_inputs(model):
    """The input a module expects when the user gives none (or only its sizes).

    Read from the first convolution in ``named_modules()`` order: ``Conv3d`` means video
    (1×C_in×16×224×224), ``Conv2d`` images (1×3×224×224, the classic default); anything
    else gets 1×3×224×224 too.  Only the layout (rank) decides how ``--input`` sizes
    without a batch are read.
    """
    from torch import nn

    from paramscope.tracing.input_spec import single

    for module in model.modules():
        if isinstance(module, nn.Conv3d):
            return single((1, module.in_channels, *VIDEO))
        if isinstance(module, (nn.Conv1d, nn.Conv2d)):
            break
    return single((1, 3, *IMAGE))
