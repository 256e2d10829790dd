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

    from paramscope.building.modules import Chain, Residual, named_class

    if node.kind == "leaf":
        return getattr(nn, node.leaf.torch_kind)(**node.leaf.args)
    children = {name: _instantiate(child) for name, child in node.children.items()}
    if node.kind == "residual":
        return named_class(Residual, node.class_name)(children, node.order, node.shortcut, node.activation)
    return named_class(Chain, node.class_name)(children, node.order)


def call_factory(factory, overrides: dict[str, Any], label: str, device: Any = None):
    """Call a user factory with ``overrides`` as keyword arguments, on ``device`` if given.

    A factory that raised while building on the meta device gives a TargetError with
    ``retry_on_cpu = True`` (the caller may try the CPU); arguments the factory does not
    accept are rejected before it runs.
    """
    import inspect

    import torch
    from torch import nn

    try:
        inspect.signature(factory).bind(**overrides)
    except TypeError as err:
        raise TargetError(f"{label}: cannot be called with {_kwargs(overrides)}: {err}") from None
    except ValueError:  # no signature (some builtins): let the call itself decide
        pass
    try:
        if device is not None:
            with torch.device(device):
                model = factory(**overrides)
        else:
            model = factory(**overrides)
    except ParamscopeError:
        raise
    except Exception as err:
        from paramscope.errors import clip
        from paramscope.sandbox import safe_text

        error = TargetError(f"{label}: the factory raised {type(err).__name__}: {clip(safe_text(err))}")
        # a wrong keyword fails on any device; anything else may be the meta device's doing
        error.retry_on_cpu = str(device) == "meta" and not (
            isinstance(err, TypeError) and "keyword argument" in str(err))
        raise error from None
    if not isinstance(model, nn.Module):
        raise TargetError(f"{label}: the factory returned {type(model).__name__}, not an nn.Module")
    return model


def _kwargs(overrides: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in overrides.items()) or "no arguments"
