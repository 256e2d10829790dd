"""Input sets: the tensors a model is called with (several, keyword, integer, list).

``--input`` (repeatable) and ``analyze(inputs=...)`` describe them; no torch import here.

Grammar of one ``--input`` item::

    [NAME[:QUAL]=]SIZES   or   QUAL[:QUAL]:SIZES

- ``NAME=`` passes the tensor as a keyword argument (``image2=1x3x520x960``); without a
  name, items are positional, in the order given.
- ``QUAL`` is a dtype (``long``/``int64``, ``int``/``int32``, ``float16``, ``bool`` ...) or
  ``list``: a Python list of ``--batch`` tensors (default 1) of the given shape, for models
  that take a list of images (torchvision detection: ``list:3x800x800``).
- A single item with no name and no qualifier keeps the classic forms (``224``,
  ``3x224x224``, ``2x3x224x224``, ``[2,10,64]``), read against the shape the target
  expects: the batch is added when one size fewer than that shape is given.  The
  expected shape of an nn.Module comes from its first convolution: ``Conv3d`` means a
  video model (N×C×T×H×W, default 1×3×16×224×224), so ``3x16x112x112`` is C×T×H×W and
  ``112`` is T=16, H=W=112; otherwise images (N×C×H×W).  ``hf:`` targets expect token
  ids (batch × tokens, int64): ``1x128`` is batch 1, 128 tokens; ``128`` is 128 tokens.
- Every other item gives its full shape, batch included; ``--batch`` replaces it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from math import prod
from typing import Any, Callable, Iterable

from paramscope.errors import ParamscopeError
from paramscope.graph import Shape, dtype_bytes

#: dtype spellings accepted in an ``--input`` qualifier -> torch dtype name.
DTYPE_ALIASES = {
    "long": "int64", "int64": "int64", "int": "int32", "int32": "int32", "int16": "int16",
    "short": "int16", "int8": "int8", "uint8": "uint8", "bool": "bool",
    "float": "float32", "float32": "float32", "half": "float16", "float16": "float16",
    "bfloat16": "bfloat16", "double": "float64", "float64": "float64",
}
_NAME = re.compile(r"^[A-Za-z_]\w*$")


@dataclass(frozen=True)
class TensorSpec:
    """One model input: its shape (batch first), dtype, keyword name and list form."""

    shape: Shape  # for a list input: (list length, *element shape)
    dtype: str | None = None  # None: the analysis dtype (--dtype)
    name: str | None = None  # keyword argument; None: positional
    as_list: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype, "list": self.as_list}

    def text(self, sep: str = "x") -> str:
        """As ``--input`` spells it (``ids:int64=1x128``); ``sep="×"`` for a table."""
        sizes = sep.join(map(str, self.shape[1:] if self.as_list else self.shape))
        quals = (["list"] if self.as_list else []) + ([self.dtype] if self.dtype else [])
        if self.name:
            return f"{self.name}{''.join(':' + q for q in quals)}={sizes}" + (
                f" ({self.shape[0]} tensors)" if self.as_list and self.shape[0] != 1 else "")
        return "".join(q + ":" for q in quals) + sizes


class InputSet(tuple):
    """The first tensor's shape (what single-input code reads) with every input's spec.

    ``extra(device, dtype)`` returns further keyword arguments built per call (a KV
    cache for decoding); ``note`` says what they are.
    """

    specs: tuple[TensorSpec, ...]
    extra: Callable[[Any, Any], dict] | None
    note: str

    def __new__(cls, specs: Iterable[TensorSpec], extra=None, note: str = ""):
        specs = tuple(specs)
        if not specs:
            raise ParamscopeError("an input set needs at least one tensor")
        self = super().__new__(cls, specs[0].shape)
        self.specs, self.extra, self.note = specs, extra, note
        return self

    def __getnewargs__(self):
        return (self.specs, self.extra, self.note)

    def __deepcopy__(self, memo):
        return self

    def nbytes(self, dtype: str) -> int:
        """Bytes of every input tensor (the analysis dtype where a tensor names none)."""
        return sum(prod(s.shape) * dtype_bytes(s.dtype or dtype) for s in self.specs)

    def text(self, sep: str = "x") -> str:
        return ", ".join(s.text(sep) for s in self.specs) + (f" + {self.note}" if self.note else "")

    @property
    def plain(self) -> bool:
        """True for one positional tensor of the analysis dtype (the classic single input)."""
        s = self.specs[0]
        return len(self.specs) == 1 and not (s.name or s.dtype or s.as_list or self.extra)


@dataclass(frozen=True)
class Item:
    """One parsed ``--input`` item before the target's expected shape is known."""

    text: str
    sizes: str  # "3x224x224", "[2,10,64]"
    name: str | None = None
    dtype: str | None = None
    as_list: bool = False

    @property
    def plain(self) -> bool:
        return not (self.name or self.dtype or self.as_list)


@dataclass
class InputRequest:
    """``--input`` items and ``--batch``, resolved against a target's expected inputs."""

    items: list[Item] = field(default_factory=list)
    batch: int | None = None
    fixed: InputSet | None = None  # given whole (analyze(inputs=InputSet(...)))

    @property
    def plain(self) -> bool:
        if self.fixed is not None:
            return self.fixed.plain
        return len(self.items) <= 1 and all(i.plain for i in self.items)

    def resolve(self, expected: InputSet) -> InputSet:
        """The input set to run: ``expected`` with the user's sizes, names and dtypes."""
        if self.fixed is not None:
            return self.fixed if self.batch is None else _rebatch(self.fixed, self.batch)
        if not self.items:
            if self.batch is None:
                return expected
            return _rebatch(expected, self.batch)
        if self.plain:
            first = expected.specs[0]
            shape = _classic(self.items[0], first.shape, self.batch)
            specs = [replace(s, shape=shape) if s.shape == first.shape and not s.as_list else s
                     for s in expected.specs]
            return InputSet(specs, expected.extra, expected.note)
        known = {s.name: s for s in expected.specs if s.name}
        specs = []
        for i, item in enumerate(self.items):
            dims = _sizes(item)
            dtype = item.dtype or (known[item.name].dtype if item.name in known else None)
            if dtype is None and not item.name and i < len(expected.specs):
                dtype = expected.specs[i].dtype
            if item.as_list:
                shape = (self.batch or 1, *dims)
            else:
                shape = (self.batch, *dims[1:]) if self.batch is not None else dims
            specs.append(TensorSpec(tuple(shape), dtype, item.name, item.as_list))
        names = [s.name for s in specs if s.name]
        if len(set(names)) != len(names):
            raise ParamscopeError(f"--input names a keyword twice: {', '.join(names)}")
        return InputSet(specs, expected.extra, expected.note)


def parse_item(text: str) -> Item:
    """One ``--input`` string -> Item (syntax only)."""
    raw = str(text).strip()
    if not raw:
        raise ParamscopeError("--input: empty value")
    name, quals = None, []
    if "=" in raw:
        left, _, sizes = raw.partition("=")
        head, *quals = [p.strip() for p in left.split(":")]
        if not _NAME.match(head):
            raise ParamscopeError(f"--input {raw!r}: {head!r} is not a keyword name "
                                  "(expected NAME=SIZES or NAME:long=SIZES)")
        name = head
    else:
        *quals, sizes = [p.strip() for p in raw.split(":")]
    as_list, dtype = False, None
    for q in quals:
        if q.lower() == "list":
            as_list = True
        elif q.lower() in DTYPE_ALIASES:
            dtype = DTYPE_ALIASES[q.lower()]
        else:
            raise ParamscopeError(f"--input {raw!r}: unknown qualifier {q!r} (expected list or a "
                                  f"dtype: {', '.join(sorted(DTYPE_ALIASES))})")
    item = Item(raw, sizes.strip(), name, dtype, as_list)
    _sizes(item)  # syntax check now, before anything is built
    return item


def request(inputs: Any = None, batch: int | None = None) -> InputRequest:
    """``analyze(inputs=...)`` / ``--input`` values -> InputRequest.

    Accepts a string or a list of strings (``--input`` items), a shape tuple (batch
    included), a list of shapes (positional tensors), a dict ``{name: shape}``, or an
    InputSet / InputRequest (returned as they are).
    """
    if batch is not None and (not isinstance(batch, int) or batch < 1):
        raise ParamscopeError(f"--batch must be a positive integer, got {batch}")
    if isinstance(inputs, InputRequest):
        return inputs
    if isinstance(inputs, InputSet):
        return InputRequest([], batch, inputs)
    if inputs is None:
        return InputRequest([], batch)
    if isinstance(inputs, str):
        inputs = [inputs]
    if isinstance(inputs, dict):
        items = [_shape_item(shape, name) for name, shape in inputs.items()]
    elif isinstance(inputs, (list, tuple)) and inputs and all(isinstance(d, int) for d in inputs):
        items = [_shape_item(inputs, None)]
    elif isinstance(inputs, (list, tuple)):
        items = [parse_item(i) if isinstance(i, str) else _shape_item(i, None) for i in inputs]
    else:
        raise ParamscopeError(f"inputs must be --input strings, shapes or {{name: shape}}, got "
                              f"{type(inputs).__name__}")
    return InputRequest(items, batch)


def _shape_item(shape: Any, name: str | None) -> Item:
    """A shape (sequence of sizes, exact, batch included) or a size string as an Item."""
    if isinstance(shape, str):
        return parse_item(f"{name}={shape}" if name else shape)
    try:
        dims = [int(d) for d in shape]
    except (TypeError, ValueError):
        raise ParamscopeError(f"input {name or ''} must be a shape (a sequence of sizes), "
                              f"got {shape!r}") from None
    text = "[" + ",".join(map(str, dims)) + "]"
    return parse_item(f"{name}={text}" if name else text)


def _sizes(item: Item) -> Shape:
    body = item.sizes
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
    try:
        dims = tuple(int(p) for p in re.split(r"[x×,]", body.strip().lower()))
    except ValueError:
        raise ParamscopeError(f"--input {item.text!r}: sizes must be integers such as 1x3x224x224 "
                              "or [1,128]") from None
    if any(d < 1 or d > 10**9 for d in dims) or len(dims) > 8:
        raise ParamscopeError(f"--input {item.text!r}: sizes must be 1 to 8 integers between 1 "
                              "and 1,000,000,000")
    return dims


def _classic(item: Item, base: Shape, batch: int | None) -> Shape:
    """One plain item read against the expected shape ``base`` (batch first)."""
    dims = _sizes(item)
    exact = item.sizes.startswith("[")
    if exact or len(dims) == len(base):
        shape = dims
        if not exact and batch is not None and batch != dims[0]:
            raise ParamscopeError(f"--batch {batch} contradicts the batch in --input {item.text}")
    elif len(dims) == len(base) - 1:
        shape = (base[0], *dims)
    elif len(dims) == 1 and len(base) >= 4:  # H = W (= the last two sizes)
        shape = (*base[:-2], dims[0], dims[0])
    elif len(dims) == 2 and len(base) == 4:  # NxF for a model without a known layout
        shape = dims
    else:
        layout = {2: "batch×features or batch×tokens", 4: "N×C×H×W", 5: "N×C×T×H×W"}.get(
            len(base), f"{len(base)} sizes")
        raise ParamscopeError(f"--input {item.text!r} has {len(dims)} sizes; this target takes "
                              f"{len(base)} ({layout}) or {len(base) - 1} without the batch, "
                              f"or an exact shape in brackets")
    if batch is not None:
        shape = (batch, *shape[1:])
    return tuple(shape)


def _rebatch(expected: InputSet, batch: int) -> InputSet:
    specs = [replace(s, shape=(batch, *s.shape[1:])) for s in expected.specs]
    return InputSet(specs, expected.extra, expected.note)


def single(shape: Shape, dtype: str | None = None) -> InputSet:
    """The input set of one positional tensor."""
    return InputSet([TensorSpec(tuple(shape), dtype)])


def as_input_set(inputs: Any) -> InputSet:
    """A shape tuple or an InputSet as an InputSet."""
    return inputs if isinstance(inputs, InputSet) else single(tuple(inputs))
