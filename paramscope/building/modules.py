"""The nn.Module classes specs build into: a chain and a residual block.

Children carry the names the spec gives them, so ``named_modules()`` and
``state_dict()`` keys read like hand-written code (``layer1.0.conv1``).  A name
may be called more than once (torchvision's shared ``relu``).  A built container's
class is a subclass named as the spec names it (:func:`named_class`: ``Bottleneck``,
``Sequential``), so torchinfo and ``print(model)`` show that name.
"""

from __future__ import annotations

from torch import Tensor, nn


class Chain(nn.Module):
    """Calls its children in ``order`` (names may repeat)."""

    def __init__(self, children: dict[str, nn.Module], order: list[str]) -> None:
        super().__init__()
        for name, module in children.items():
            self.add_module(name, module)
        self._ps_order = list(order)

    def forward(self, x: Tensor) -> Tensor:
        for name in self._ps_order:
            x = self._modules[name](x)
        return x

    def __getitem__(self, index: int | str) -> nn.Module:
        """``chain[0]`` / ``chain["conv1"]``, like ``nn.Sequential``."""
        if isinstance(index, str):
            return self._modules[index]
        return list(self._modules.values())[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Residual(nn.Module):
    """``activation(body(x) + shortcut(x))``; shortcut is identity when absent, activation
    is a list of children called in order after the sum (none, one or several)."""

    def __init__(self, children: dict[str, nn.Module], body: list[str], shortcut: str | None,
                 activation: str | list[str] | None) -> None:
        super().__init__()
        for name, module in children.items():
            self.add_module(name, module)
        self._ps_body = list(body)
        self._ps_shortcut = shortcut
        self._ps_activation = [activation] if isinstance(activation, str) else list(activation or ())

    def forward(self, x: Tensor) -> Tensor:
        out = x
        for name in self._ps_body:
            out = self._modules[name](out)
        identity = self._modules[self._ps_shortcut](x) if self._ps_shortcut else x
        out = out + identity
        for name in self._ps_activation:
            out = self._modules[name](out)
        return out

    def extra_repr(self) -> str:
        return f"shortcut={self._ps_shortcut or 'identity'}, activation={','.join(self._ps_activation) or None}"


_NAMED: dict[tuple[type, str], type] = {}


def named_class(base: type, name: str) -> type:
    """A subclass of ``base`` (Chain or Residual) called ``name``, one per (base, name):
    behaviour and ``isinstance(m, base)`` unchanged, only the class name differs."""
    if name == base.__name__:
        return base
    key = (base, name)
    if key not in _NAMED:
        _NAMED[key] = type(name, (base,), {"__module__": __name__, "__qualname__": name,
                                           "__doc__": f"{base.__name__} built from a spec ({name})."})
    return _NAMED[key]
