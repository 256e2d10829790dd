"""Hyper-parameters as formulas read them, from a module or from a function call's arguments.

One normalisation for every front end (``nn.Conv2d`` attributes, ``F.conv2d`` arguments, a
spec): n-tuples on 1d/2d/3d kinds, a pool's ``stride=None`` as its kernel, an adaptive pool's
``None`` output entries as the traced size.  Function-call extraction is duck-typed on
``.shape``: no torch import here.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from paramscope.formulas._expr import suffix_rank
from paramscope.graph import Shape

#: hyper-parameters normalised to n-tuples on 1d/2d/3d kinds.
TUPLE_HPARAMS = frozenset({"kernel_size", "stride", "padding", "dilation", "output_padding",
                           "output_size"})

SKIP = object()  # a value that is not plain data (a tensor, a module): not a hyper-parameter


def simple(value) -> Any:
    """A hyper-parameter value as plain data, or :data:`SKIP` when it is not plain."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)) and all(
            v is None or isinstance(v, (bool, int, float, str)) for v in value):
        return tuple(value)
    return SKIP


def normalise(kind: str, raw: dict[str, Any], out_shape: Shape) -> dict[str, Any]:
    """n-tuples on 1d/2d/3d kinds, pool stride None -> kernel, adaptive output_size None
    entries -> the traced output size."""
    n = suffix_rank(kind)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if n and key in TUPLE_HPARAMS and value is not None and not isinstance(value, str):
            value = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
            if len(value) == 1 and n > 1:
                value = value * n
        out[key] = value
    if n and "stride" in out and out["stride"] in (None, ()) and "kernel_size" in out:
        out["stride"] = out["kernel_size"]
    if n and isinstance(out.get("output_size"), tuple) and len(out_shape) >= n:
        out["output_size"] = tuple(o if o is not None else s
                                   for o, s in zip(out["output_size"], out_shape[-n:]))
    return out


def bind(names: Sequence[str], args, kwargs) -> dict[str, Any]:
    """Positional and keyword arguments of a call, by parameter name."""
    bound = dict(zip(names, args))
    bound.update({k: v for k, v in kwargs.items() if k in names})
    return bound


def shape_of(value) -> Shape:
    """A tensor argument's shape as ints; ``()`` for anything without one."""
    return tuple(int(d) for d in getattr(value, "shape", ()))


#: ``(name, args, kwargs, out_shape) -> (kind, hparams)``, or None when the arguments
#: cannot be read (the call is then costed from its aten ops).
Extractor = Callable[[str, tuple, dict, Shape], "tuple[str, dict[str, Any]] | None"]


def positional(kind: str, order: Sequence[str], defaults: dict[str, Any]) -> Extractor:
    """An extractor for a function whose plain arguments after the input are ``order``
    (``F.relu(input, inplace)``), with torch's ``defaults``."""

    def extract(name, args, kwargs, out_shape):
        raw = dict(defaults)
        raw.update(zip(order, args[1:]))
        raw.update({k: v for k, v in kwargs.items() if k in defaults or k in order})
        raw = {k: simple(v) for k, v in raw.items() if simple(v) is not SKIP}
        return kind, normalise(kind, raw, out_shape)

    return extract
