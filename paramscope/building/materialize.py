"""Meta-device twins of a model: structure copied, no tensor data copied.

``meta_clone(model)`` deep-copies the module tree with every parameter, buffer and
plain tensor attribute replaced by an ``empty_like(..., device="meta")`` twin, so
tracing or measuring the clone can never touch (or allocate) the user's tensors.
The copy carries none of the model's hooks (forward, pre-forward, backward,
state-dict), so analysing it never runs user hook code.
``materialize(meta_module)`` makes a real-tensor copy (zeros) for tools that need one.
"""

from __future__ import annotations

import copy
from typing import Any


def _meta_twin(t: Any):
    import torch

    twin = torch.empty_like(t, device="meta")
    if isinstance(t, torch.nn.Parameter):
        return torch.nn.Parameter(twin, requires_grad=t.requires_grad)
    return twin


def meta_clone(module):
    """A deep copy of ``module`` whose tensors all live on the meta device, without hooks.

    Tied tensors stay tied (one twin per original tensor); the original is not modified
    (hook dictionaries are mapped to fresh empty ones in the copy memo, not cleared).
    """
    import torch

    memo: dict[int, Any] = {}
    for sub in module.modules():
        for attr, value in vars(sub).items():
            if attr.startswith("_") and "_hooks" in attr and isinstance(value, dict):
                memo[id(value)] = type(value)()
        tensors = list(sub._parameters.values()) + list(sub._buffers.values())
        tensors += [v for v in vars(sub).values() if isinstance(v, torch.Tensor)]
        for t in tensors:
            if t is not None and id(t) not in memo:
                memo[id(t)] = _meta_twin(t)
    return copy.deepcopy(module, memo)


def materialize(meta_module, device: str = "cpu"):
    """A copy of ``meta_module`` with real, zero-filled tensors on ``device`` (``to_empty``)."""
    import torch

    real = meta_clone(meta_module).to_empty(device=device)
    with torch.no_grad():
        for t in list(real.parameters()) + list(real.buffers()):
            t.zero_()
    return real
