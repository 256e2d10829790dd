"""Network depth as the papers count it: weighted layers on the longest input-to-output path.

The weighted layers are convolutions (transposed ones included) and fully connected (linear)
layers; the path is the longest through the data flow.  Parallel branches count once, along
the longer one, so a residual block adds its body's layers and never its projection
shortcut's: ResNet-50 is 50 (49 convolutions and the fc layer), ResNet-18 is 18 and VGG-16
is 16 (13 convolutions and 3 fc layers), the numbers in their names.

A spec is walked along its resolved module tree (no torch); a model runs one forward pass
on the meta device in which every tensor carries the depth of the path that produced it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

#: the label every output gives the figure
LABEL = "depth (conv + linear, longest path)"
#: the definition, for JSON output and the README
DEFINITION = ("convolution and fully connected (linear) layers on the longest path from the input to "
              "the output; parallel branches (projection shortcuts) count once, along the longer one")
#: layer kinds (torch class names) that add one to a path
WEIGHTED_KINDS = frozenset({"Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
                            "ConvTranspose3d", "Linear"})
#: torch functions that add to a path, and how many weighted layers each runs in sequence
#: (multi-head attention: its input projection, then its output projection)
WEIGHTED_FUNCTIONS = {"conv1d": 1, "conv2d": 1, "conv3d": 1, "conv_transpose1d": 1,
                      "conv_transpose2d": 1, "conv_transpose3d": 1, "linear": 1,
                      "multi_head_attention_forward": 2}
#: matrix products that are a linear layer when a parameter is one of their operands (GPT-2's
#: Conv1D runs ``torch.addmm(bias, x, weight)``; ``x @ self.weight``)
PARAMETER_PRODUCTS = frozenset({"addmm", "mm", "matmul", "__matmul__", "bmm", "baddbmm", "einsum"})


def spec_depth(root) -> int:
    """The depth of a resolved spec (:class:`paramscope.spec.resolve.Module` tree)."""
    return _walk(root, 0)


def _walk(module, depth: int) -> int:
    if module.kind == "leaf":
        return depth + (module.leaf.torch_kind in WEIGHTED_KINDS)
    body = depth
    for name in module.order:  # a chain's layers, or a residual block's body
        body = _walk(module.children[name], body)
    if module.kind == "chain":
        return body
    shortcut = _walk(module.children[module.shortcut], depth) if module.shortcut else depth
    out = max(body, shortcut)
    for name in module.activation:  # the layers after the sum
        out = _walk(module.children[name], out)
    return out


def module_depth(model, input_shape, dtype: str = "float32") -> int:
    """The depth of ``model`` (a meta-device model, run once on ``input_shape``)."""
    import torch

    from paramscope.tracing.forward import model_inputs

    args, kwargs = model_inputs(input_shape, dtype, "meta")
    mode = _depth_mode()()
    with torch.no_grad(), mode:
        out = model(*args, **kwargs)
    return max((mode.of(t) for t in _tensors(out)), default=0)


def _tensors(value: Any) -> list:
    """Every tensor in a (nested) output: tuples, lists, dicts, model-output objects."""
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict) or hasattr(value, "to_tuple"):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    return []


@cache
def _depth_mode():
    """The TorchFunctionMode class (built on first use: importing this module needs no torch)."""
    from torch.overrides import TorchFunctionMode

    class DepthMode(TorchFunctionMode):
        """Gives each function call's outputs the deepest depth among its tensor inputs, plus
        the weighted layers the function runs; tensors no call produced (the inputs,
        parameters) have depth 0."""

        def __init__(self) -> None:
            super().__init__()
            self.depths: dict[int, int] = {}
            self.keep: list = []  # holds every tensor seen, so ids stay unique during the pass

        def of(self, tensor) -> int:
            return self.depths.get(id(tensor), 0)

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            inputs = _tensors([*args, *kwargs.values()])
            depth = max((self.of(t) for t in inputs), default=0) + _weighted(func, inputs)
            for t in _tensors(out):
                self.depths[id(t)] = max(self.of(t), depth)
                self.keep.append(t)
            return out

    return DepthMode


def _weighted(func, inputs: list) -> int:
    """How many weighted layers one call of ``func`` on ``inputs`` runs in sequence."""
    import torch

    name = getattr(func, "__name__", "")
    if name in PARAMETER_PRODUCTS:
        return int(any(isinstance(t, torch.nn.Parameter) for t in inputs))
    return WEIGHTED_FUNCTIONS.get(name, 0)


def report_depth(report) -> int | None:
    """The depth of the network ``report`` describes, computed once; None (and a note on the
    report saying why) when it cannot be: a model whose forward cannot run on the meta device."""
    value = None
    if report.depth_pass is None:
        report.notes.append("depth: not computed for this report (it was not made by paramscope.analyze)")
    else:
        from paramscope.sandbox import global_hooks_suspended, user_code

        try:  # a model's forward is user code: its prints and warnings are caught, as in analyze
            with user_code(report.target), global_hooks_suspended([]):
                value = report.depth_pass()
        except Exception as err:  # noqa: BLE001  (user code: the forward fails on meta)
            report.notes.append(f"depth: the meta-device pass failed: {type(err).__name__}: "
                                f"{' '.join(str(err).split())[:200]}")
    report.depth_pass = lambda: value  # computed once
    return value
