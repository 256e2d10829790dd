"""Build ``nn.Module`` objects: from resolved specs, or by calling factories."""

from __future__ import annotations

from typing import Any

from paramscope.errors import ParamscopeError, TargetError
from paramscope.spec.resolve import Module, Resolved


def module_from_resolved(resolved: Resolved, device: Any = None):
    """Instantiate the resolved tree (on ``device``, e.g. ``"meta"``, when given)."""
    import torch

    if device is None:
        return _instantiate(resolved.root)
    with torch.device(device):
        return _instantiate(resolved.root)


def _instantiate(node: Module):
    from torch import nn

    from paramscope.modules import Chain, Residual

    if node.kind == "leaf":
        return getattr(nn, node.leaf.torch_kind)(**node.leaf.args)
    children = {name: _instantiate(child) for name, child in node.children.items()}
    if node.kind == "residual":
        return Residual(children, node.order, node.shortcut, node.activation)
    return Chain(children, node.order)


def call_factory(factory, overrides: dict[str, Any], label: str, device: Any = None):
    """Call a user factory with ``overrides`` as keyword arguments, on ``device`` if given."""
    import torch
    from torch import nn

    try:
        if device is not None:
            with torch.device(device):
                model = factory(**overrides)
        else:
            model = factory(**overrides)
    except ParamscopeError:
        raise
    except TypeError as err:
        raise TargetError(f"{label}: calling it with {overrides or 'no arguments'} failed: {err}") from None
    except Exception as err:
        raise TargetError(f"{label}: the factory raised {type(err).__name__}: {err}") from None
    if not isinstance(model, nn.Module):
        raise TargetError(f"{label}: the factory returned {type(model).__name__}, not an nn.Module")
    return model
