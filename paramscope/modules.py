"""The nn.Module classes specs build into: a chain and a residual block.

Children carry the names the spec gives them, so ``named_modules()`` and
``state_dict()`` keys read like hand-written code (``layer1.0.conv1``).  A name
may be called more than once (torchvision's shared ``relu``).
"""

from __future__ import annotations

from torch import Tensor, nn


class Chain(nn.Module):
    """Calls its children in ``order`` (names may repeat)."""

    def __init__(self, children: dict[str, nn.Module], order: list[str]) -> None:
        super().__init__()
        for name, module in children.items():
            self.add_module(name, module)
        self.order = list(order)

    def forward(self, x: Tensor) -> Tensor:
        for name in self.order:
            x = self._modules[name](x)
        return x


class Residual(nn.Module):
    """``activation(body(x) + shortcut(x))``; shortcut is identity when absent."""

    def __init__(self, children: dict[str, nn.Module], body: list[str], shortcut: str | None,
                 activation: str | None) -> None:
        super().__init__()
        for name, module in children.items():
            self.add_module(name, module)
        self.body = list(body)
        self.shortcut = shortcut
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        out = x
        for name in self.body:
            out = self._modules[name](out)
        identity = self._modules[self.shortcut](x) if self.shortcut else x
        out = out + identity
        if self.activation:
            out = self._modules[self.activation](out)
        return out

    def extra_repr(self) -> str:
        return f"shortcut={self.shortcut or 'identity'}, activation={self.activation}"
