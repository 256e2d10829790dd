"""Work limits for reading and expanding specs: one budget per load + resolution.

Limits bound the *work done*, not the syntax: every item the resolver visits
(layers, ``check`` items, empty groups, ``when: false`` items, repeat copies),
every value an expression or ``with:`` evaluates, every character built by
string interpolation and every spec file parsed is charged to one
:class:`Budget`.  Exceeding it raises a :class:`LimitError` naming the limit and
how to raise it.  Limits a user may reasonably need more of are read from
environment variables (``PARAMSCOPE_MAX_WORK`` ...); the defaults are documented
in the README.
"""

from __future__ import annotations

import contextvars
import os
from contextlib import contextmanager
from typing import Any, Iterator

from paramscope.errors import LimitError

#: name -> (environment variable, default, what is counted)
LIMITS: dict[str, tuple[str, int, str]] = {
    "work": ("PARAMSCOPE_MAX_WORK", 1_000_000,
             "expansion steps (items visited, values evaluated, repeat copies)"),
    "text": ("PARAMSCOPE_MAX_TEXT", 20_000_000,
             "characters and list items built by expressions"),
    "files": ("PARAMSCOPE_MAX_FILES", 256, "spec files parsed (imports included)"),
    "layers": ("PARAMSCOPE_MAX_LAYERS", 100_000, "layer calls in one network"),
}


def limit(name: str) -> int:
    """The value of limit ``name``: its environment variable when set, else the default."""
    env, default, _ = LIMITS[name]
    raw = os.environ.get(env, "").strip().replace("_", "")
    if not raw:
        return default
    if not raw.isdigit() or len(raw) > 18 or int(raw) < 1:
        raise LimitError(f"{env}={os.environ[env]!r}: expected a positive integer")
    return int(raw)


class Budget:
    """Counters for one load + resolution, each checked against its limit as it grows."""

    def __init__(self) -> None:
        self.limits = {name: limit(name) for name in LIMITS}
        self.used = dict.fromkeys(LIMITS, 0)

    def charge(self, name: str, amount: int = 1) -> None:
        used = self.used[name] + amount
        self.used[name] = used
        if used > self.limits[name]:
            env, _, what = LIMITS[name]
            raise LimitError(f"spec needs more than {self.limits[name]:,} {what} "
                             f"(limit '{name}'; raise it with {env})")


_ACTIVE: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("paramscope_budget", default=None)


def active() -> Budget:
    """The budget of the load/resolution in progress (a fresh one outside any)."""
    budget = _ACTIVE.get()
    return budget if budget is not None else Budget()


@contextmanager
def budgeted(budget: Budget | None = None) -> Iterator[Budget]:
    """Run a load or a resolution under ``budget`` (the active one, or a new one)."""
    current = budget or _ACTIVE.get() or Budget()
    token = _ACTIVE.set(current)
    try:
        yield current
    finally:
        _ACTIVE.reset(token)


def charge(name: str, amount: int = 1) -> None:
    """Charge ``amount`` to limit ``name`` of the active budget (no-op outside one)."""
    budget = _ACTIVE.get()
    if budget is not None:
        budget.charge(name, amount)


def deep_size(value: Any, cap: int) -> int:
    """Characters of a string, or items of a list/dict counted deeply (nested items and
    their strings' characters included); stops once the count passes ``cap``, so the
    work done is at most about ``cap`` steps."""
    if isinstance(value, str):
        return len(value)
    total, stack = 0, [value]
    while stack and total <= cap:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, (list, tuple)):
            total += len(item)
            stack.extend(v for v in item if isinstance(v, (str, list, tuple, dict)))
        elif isinstance(item, dict):
            total += len(item)
            stack.extend(v for v in (*item.keys(), *item.values()) if isinstance(v, (str, list, tuple, dict)))
    return total
