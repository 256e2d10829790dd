"""Name a forward pass's calls with the Graph's row keys, for passes other than the trace.

``RowKeys(model, on_exit, on_enter)`` is a context manager: while it is active, every
leaf-module call and every functional op the trace would record (``x + y`` in a residual
block, ``F.relu`` in a container) calls ``on_enter(key)`` before and ``on_exit(key, output)``
after, with ``key`` exactly as :attr:`paramscope.graph.LayerNode.key` spells it
(``layer1.0.conv1``, ``layer1.0.relu#1``, ``layer1.0:add``).  Hooks are removed on exit.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable


def function_kind(func, args=(), kwargs=None) -> str | None:
    """The Graph kind the trace gives this function call: the kind it is an alias of (read
    from its arguments, as the trace does), else its label (``Tensor.mean``: the trace records
    it when it does arithmetic), None for pure data movement."""
    from paramscope.formulas.registry import alias_kind
    from paramscope.tracing.trace import PURE_OPS, label_of

    name = getattr(func, "__name__", "") or ""
    found = alias_kind(name, args, kwargs or {})
    if found is not None:
        return found[0]
    return None if name in PURE_OPS or not name else label_of(func, name)


class RowKeys:
    """Hooks and a TorchFunctionMode that report each recorded call by its row key."""

    def __init__(self, model, on_exit: Callable[[str, Any], None],
                 on_enter: Callable[[str], None] | None = None, owners: set[str] | None = None) -> None:
        """``owners``: the modules known to run recorded functional ops (a Graph's functional
        nodes' names); only they and the leaves are hooked, and no function mode runs when
        it is empty (fewer timers: the time measurer's overhead).  None hooks every module."""
        from paramscope.formulas import registered_kinds
        from paramscope.tracing.trace import resolve_kind

        self.model, self.on_exit, self.on_enter = model, on_exit, on_enter or (lambda key: None)
        self.names: dict[Any, str] = {}
        for name, module in model.named_modules():
            self.names.setdefault(module, name)
        self.leaves = {m for m in self.names if next(m.children(), None) is None}
        kinds = registered_kinds()
        self.opaque = {m for m in self.leaves if resolve_kind(m)[2] and resolve_kind(m)[0] in kinds}
        self.owners = owners
        #: with owners: the mode is on only while an owner (not a costed leaf) runs
        self.scoped = bool(owners)
        self.mode_on = False
        self.toggles: list[int] = []
        self.open_keys: dict[int, str] = {}  # id(leaf) -> the key of its running call
        self.stack: list[Any] = []
        self.calls: Counter = Counter()
        self.handles: list = []
        self.mode = None

    def _key(self, base: str, counter_key) -> str:
        index = self.calls[counter_key]
        self.calls[counter_key] += 1
        return base if index == 0 else f"{base}#{index}"

    def _pre(self, module, args):
        self.stack.append(module)
        if self.scoped:  # the function mode runs only inside owners, never inside a costed leaf
            if module in self.opaque:
                self.toggles.append(-1 if self._switch(False) else 0)
            else:  # an owner
                self.toggles.append(1 if self._switch(True) else 0)
        if module in self.leaves:
            key = self._key(self.names[module], id(module))
            self.open_keys[id(module)] = key  # not an attribute: nn.Module.__setattr__ is slow
            self.on_enter(key)

    def _post(self, module, args, output):
        if self.stack and self.stack[-1] is module:
            self.stack.pop()
        if module in self.leaves:
            self.on_exit(self.open_keys.pop(id(module)), output)
        if self.scoped and self.toggles:
            toggled = self.toggles.pop()
            if toggled:
                self._switch(toggled < 0)  # back as it was

    def _switch(self, on: bool) -> bool:
        """Turn the function mode on or off; True when that changed anything."""
        if self.mode_on == on:
            return False
        if on:
            self.mode.__enter__()
        else:
            self.mode.__exit__(None, None, None)
        self.mode_on = on
        return True

    def function_key(self, func, args=(), kwargs=None) -> str | None:
        """The key of a function call now, or None when the trace would not record it."""
        if not self.stack or self.stack[-1] in self.opaque:
            return None
        kind = function_kind(func, args, kwargs)
        if kind is None:
            return None
        owner = self.names[self.stack[-1]]
        return self._key(f"{owner}:{kind}", (owner, kind))

    def __enter__(self):
        from torch.overrides import TorchFunctionMode

        for module, name in self.names.items():
            if self.owners is None or module in self.leaves or name in self.owners:
                self.handles.append(module.register_forward_pre_hook(self._pre))
                self.handles.append(module.register_forward_hook(self._post))
        if self.owners is not None and not self.owners:
            return self
        keys = self

        class KeyMode(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                key = keys.function_key(func, args, kwargs)
                if key is None:
                    return func(*args, **(kwargs or {}))
                keys.on_enter(key)
                out = func(*args, **(kwargs or {}))
                keys.on_exit(key, out)
                return out

        self.mode = KeyMode()
        if not self.scoped:
            self._switch(True)
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.mode is not None and self.mode_on:
                self.mode.__exit__(*exc)
                self.mode_on = False
        finally:
            for h in self.handles:
                h.remove()
            self.handles.clear()
