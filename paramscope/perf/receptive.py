"""Receptive fields: for every layer call, the window of input positions one output sees.

One forward pass on the meta device under a ``TorchDispatchMode`` carries, for every
tensor, which input spatial axis (the input's dims 2, 3, ...) each of its dims indexes
and, per input axis, the window of output position ``i``:
``[start + i·jump, start + i·jump + size − 1]`` (input pixels, padding included, so
``start`` may be negative).  Rules per aten op:

- convolution / max & avg pooling: ``size += (k − 1)·dilation·jump``, ``start −= padding·jump``,
  ``jump ·= stride``; adaptive pooling with equal windows is a pool of ``k = s = in/out``;
- ops with several tensor inputs (residual adds, concatenation along channels, gates):
  the union of the inputs' windows — the maximum over the paths through the graph;
- views, permutes, slices, selects and constant padding move the axes with the dims;
- ops that mix every position along a dim (linear / matmul over flattened features,
  global pooling, mean, softmax, layer / group norm) make every element see the union of
  that axis's windows: the axis is then *global* (no longer indexed by any dim).

An op that touches spatial axes and has no rule (transposed convolution, interpolation,
reflection padding, uneven adaptive windows ...) makes the result *unknown* with the op
named, never a silently wrong window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Any, Sequence

Comp = tuple  # (axis | None, length): one factor of a dim, row-major within the dim


@dataclass(frozen=True)
class AxisRF:
    """The window along one input spatial axis: position ``i`` sees
    ``[start + i·jump, start + i·jump + size − 1]``; ``indexed`` False means every element
    sees the same window (the axis was mixed: global pooling, a linear layer)."""

    size: int
    jump: int
    start: int
    indexed: bool = True

    def window(self, i: int = 0) -> tuple[int, int]:
        """First and last input position of output position ``i`` (0 when not indexed)."""
        left = self.start + (i * self.jump if self.indexed else 0)
        return left, left + self.size - 1

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "jump": self.jump, "start": self.start, "global": not self.indexed}

    def text(self) -> str:
        return f"{self.size}" + (f"/{self.jump}" if self.indexed else "g")


@dataclass(frozen=True)
class ReceptiveField:
    """One layer output's receptive field, per input spatial axis (H, W ...)."""

    axes: tuple[AxisRF, ...] = ()
    unknown: str = ""  # why it cannot be given (the op with no rule)

    def to_dict(self) -> dict[str, Any]:
        if self.unknown:
            return {"unknown": self.unknown}
        return {"axes": [a.to_dict() for a in self.axes]}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "ReceptiveField":
        """The inverse of :meth:`to_dict` (renderers read the report's JSON form)."""
        if not d:
            return cls()
        if "unknown" in d:
            return cls(unknown=d["unknown"])
        return cls(tuple(AxisRF(a["size"], a["jump"], a["start"], not a["global"]) for a in d["axes"]))

    def text(self) -> str:
        """``11×11 /4`` (size per axis, jump), ``427×427 global``, or ``?``."""
        if self.unknown:
            return "?"
        if not self.axes:
            return "--"
        sizes = "×".join(str(a.size) for a in self.axes)
        if not any(a.indexed for a in self.axes):
            return f"{sizes} global"
        jumps = {a.jump for a in self.axes}
        jump = "×".join(str(a.jump) for a in self.axes) if len(jumps) > 1 else str(jumps.pop())
        return f"{sizes} /{jump}"

    def formula(self) -> str:
        """Per axis: ``size 11, jump 4, start -3`` (explain)."""
        if self.unknown:
            return f"unknown: {self.unknown}"
        return "; ".join(f"axis {i}: size {a.size}, jump {a.jump}, start {a.start}"
                         + ("" if a.indexed else " (global: every output sees it)")
                         for i, a in enumerate(self.axes))


@dataclass
class RFResult:
    """Receptive fields of a model: per row key, plus the ops that had no rule."""

    axes: int  # number of input spatial axes
    layers: dict[str, ReceptiveField] = field(default_factory=dict)
    output: ReceptiveField = ReceptiveField()  # of the model's (first) output
    unknown_ops: dict[str, int] = field(default_factory=dict)


class Unknown(Exception):
    """No rule gives a regular window here; the message names the op and why."""


@dataclass(frozen=True)
class State:
    """What one tensor's elements see: ``dims[d]`` factors dim ``d`` into components
    ``(axis, length)`` (axis None: not spatial); ``rf[axis]`` = (start, jump, size)."""

    dims: tuple[tuple[Comp, ...], ...]
    rf: tuple[tuple[int, tuple[int, int, int]], ...] = ()
    unknown: str = ""

    @property
    def rfs(self) -> dict[int, tuple[int, int, int]]:
        return dict(self.rf)

    def indexed(self) -> set[int]:
        return {a for comps in self.dims for a, _ in comps if a is not None}

    def _replace_dims(self, dims) -> "State":
        return State(tuple(dims), self.rf, self.unknown)

    @property
    def spatial(self) -> bool:
        return bool(self.rf) or bool(self.unknown)


def plain(shape: Sequence[int]) -> State:
    return State(tuple(((None, int(n)),) for n in shape))


def _mk(dims, rfs: dict, unknown: str = "") -> State:
    return State(tuple(tuple(d) for d in dims), tuple(sorted(rfs.items())), unknown)


def _single_axis(comps) -> int | None:
    """The axis a dim indexes alone, None for a plain dim; raise when it mixes several."""
    axes = [a for a, n in comps if a is not None]
    if not axes:
        return None
    if len(comps) != 1:
        raise Unknown("a window over a dim that merges a spatial axis with other dims")
    return axes[0]


# -- unions -------------------------------------------------------------------------


def union_lines(lines: list[tuple[int, int, int, bool]], length: int) -> tuple[int, int, int]:
    """Union of windows over positions ``0..length−1``; lines are (start, jump, size, indexed).

    Uniform when one line is leftmost (and one rightmost) at both ends, with equal jumps."""
    def ends(pick, edge):
        vals = [[edge(s, j if ix else 0, z, i) for s, j, z, ix in lines] for i in (0, length - 1)]
        best = [pick(v) for v in vals]
        for k in range(len(lines)):
            if vals[0][k] == best[0] and vals[1][k] == best[1]:
                return k
        raise Unknown("paths with different strides meet: the window is not the same at every position")

    left = ends(min, lambda s, j, z, i: s + i * j)
    right = ends(max, lambda s, j, z, i: s + i * j + z - 1)
    ls, lj, _, lix = lines[left]
    rs, rj, rz, rix = lines[right]
    lj, rj = (lj if lix else 0), (rj if rix else 0)
    if length > 1 and lj != rj:
        raise Unknown("paths with different strides meet: the window is not the same at every position")
    jump = lj if length > 1 else max((j for _, j, _, ix in lines if ix), default=lines[left][1])
    return ls, jump, rs + rz - 1 - ls + 1


def contract(state: State, dims: Sequence[int]) -> State:
    """Every element sees all positions of ``dims``: their axes become global (unions)."""
    rfs = state.rfs
    new_dims = [list(c) for c in state.dims]
    for d in dims:
        for a, n in state.dims[d]:
            if a is not None:
                s, j, z = rfs[a]
                rfs[a] = (s, j * n, z + (n - 1) * j)
        new_dims[d] = [(None, prod(n for _, n in state.dims[d]))]
    return _mk(new_dims, rfs, state.unknown)


def merge(states: list[State], shape: Sequence[int]) -> State:
    """Elementwise combination with broadcasting: per axis the union of the inputs' windows."""
    rank = len(shape)
    unknown = next((s.unknown for s in states if s.unknown), "")
    if unknown:
        return _mk([[(None, n)] for n in shape], {}, unknown)
    out_dims: list[list] = []
    per_axis: dict[int, list] = {}
    axis_len: dict[int, int] = {}
    for d in range(rank):
        structure = None
        for st in states:
            k = d - (rank - len(st.dims))
            if k < 0:
                continue
            comps = st.dims[k]
            if prod(n for _, n in comps) != shape[d] or not any(a is not None for a, _ in comps):
                continue  # broadcast (size 1) or plain
            if structure is not None and structure != comps:
                raise Unknown("inputs index spatial axes differently")
            structure = comps
        out_dims.append(list(structure) if structure else [(None, shape[d])])
        for a, n in structure or ():
            if a is not None:
                axis_len[a] = n
    for st in states:
        indexed = set()
        for k, comps in enumerate(st.dims):
            d = k + rank - len(st.dims)
            if prod(n for _, n in comps) == shape[d]:
                indexed |= {a for a, _ in comps if a is not None}
        for a, (s, j, z) in st.rfs.items():
            per_axis.setdefault(a, []).append((s, j, z, a in indexed))
    rfs = {a: union_lines(lines, axis_len.get(a, 1)) for a, lines in per_axis.items()}
    return _mk(out_dims, rfs)


# -- views --------------------------------------------------------------------------


def reshape(state: State, shape: Sequence[int]) -> State:
    """A view to ``shape``: dims merge and split by their components (row-major); a
    plain (non-spatial) component may split, a spatial one may not."""
    comps = [c for dim in state.dims for c in dim if c != (None, 1)]
    out: list[list] = []
    pos = 0
    for n in shape:
        dim: list = []
        have = 1
        while have < n:
            if pos >= len(comps):
                raise Unknown("a view whose sizes do not line up")
            a, m = comps[pos]
            if have * m > n:
                if a is not None or n % have or m % (n // have):
                    raise Unknown("a view splits a spatial axis" if a is not None else
                                  "a view whose sizes do not line up")
                dim.append((None, n // have))
                comps[pos] = (None, m // (n // have))
                have = n
                break
            dim.append((a, m))
            have *= m
            pos += 1
        while pos < len(comps) and comps[pos][1] == 1 and (n == 1 or dim):  # size-1 spatial
            dim.append(comps[pos])
            pos += 1
        out.append(dim or [(None, 1)])
    rest = comps[pos:]
    if any(m != 1 for _, m in rest):
        raise Unknown("a view whose sizes do not line up")
    if rest and out:
        out[-1] += rest
    elif rest:  # a scalar: the size-1 axes are global
        return contract(_mk([rest], state.rfs, state.unknown), [0])._replace_dims(())
    return _mk(out, state.rfs, state.unknown)


def permute(state: State, order: Sequence[int]) -> State:
    return _mk([state.dims[o] for o in order], state.rfs, state.unknown)


def window(state: State, dim: int, kernel: int, stride: int, pad: int, dilation: int, length: int) -> tuple:
    """New (components, rfs) after a sliding window along ``dim``."""
    a = _single_axis(state.dims[dim])
    rfs = state.rfs
    if a is None:
        return [(None, length)], rfs
    s, j, z = rfs[a]
    rfs[a] = (s - pad * j, j * stride, z + (kernel - 1) * dilation * j)
    return [(a, length)], rfs


# -- the dispatch-level propagation ----------------------------------------------------

_POOLS = ("max_pool", "avg_pool")


def _ints(v, n):
    if isinstance(v, int):
        return [v] * n
    v = list(v)
    return v * n if len(v) == 1 else v


class Propagator:
    """Keeps a State per tensor and applies one rule per aten op."""

    def __init__(self) -> None:
        self.states: dict[int, tuple[Any, State]] = {}
        self.unknown_ops: dict[str, int] = {}

    def get(self, t) -> State:
        hit = self.states.get(id(t))
        if hit is not None and hit[0] is t:
            st = hit[1]
            if len(st.dims) == t.dim() and all(prod(n for _, n in c) == s for c, s in zip(st.dims, t.shape)):
                return st
        return plain(t.shape)

    def set(self, t, st: State) -> None:
        self.states[id(t)] = (t, st)

    def seed(self, t) -> None:
        dims = [[(None, t.shape[0])], [(None, t.shape[1])]] + [[(k, n)] for k, n in enumerate(t.shape[2:])]
        self.set(t, _mk(dims, {k: (0, 1, 1) for k in range(t.dim() - 2)}))

    def apply(self, func, args, kwargs, out) -> None:
        import torch
        from torch.utils._pytree import tree_flatten

        flat_in = [a for a in tree_flatten((args, kwargs))[0] if isinstance(a, torch.Tensor)]
        outs = [o for o in tree_flatten(out)[0] if isinstance(o, torch.Tensor)]
        if not outs:
            return
        states = [self.get(t) for t in flat_in]
        if not any(s.spatial for s in states):
            for o in outs:
                self.set(o, plain(o.shape))
            return
        name = func.overloadpacket.__name__
        try:
            result = self.rule(func, name, args, kwargs, states, outs)
        except Unknown as why:
            reason = f"aten.{name}: {why}"
            self.unknown_ops[f"aten.{name}"] = self.unknown_ops.get(f"aten.{name}", 0) + 1
            result = [_mk([[(None, n)] for n in o.shape], {}, reason) for o in outs]
        for o, st in zip(outs, result):
            self.set(o, st)

    def rule(self, func, name, args, kwargs, states, outs) -> list[State]:  # noqa: C901 (one table)
        import torch

        first = self.get(args[0]) if args and isinstance(args[0], torch.Tensor) else None
        known = next((s.unknown for s in states if s.unknown), "")
        if known:  # unknown stays unknown (named by the first op that had no rule)
            return [_mk([[(None, n)] for n in o.shape], {}, known) for o in outs]
        o = outs[0]
        if name == "convolution":
            stride, pad, dil, transposed = args[3], args[4], args[5], args[6]
            if transposed:
                raise Unknown("transposed convolution: windows are not a regular grid")
            st = contract(first, [1])
            dims, rfs = [st.dims[0], [(None, o.shape[1])]], st.rfs
            k = args[1].shape[2:]
            for i in range(len(k)):
                comps, rfs = window(_mk(st.dims, rfs), 2 + i, k[i], stride[i], pad[i], dil[i], o.shape[2 + i])
                dims.append(comps)
            return [_mk(dims, rfs)]
        if name.startswith(_POOLS) and "backward" not in name and "adaptive" not in name:
            nsp = int(name.split("pool")[1][0])
            kernel = _ints(args[1], nsp)
            stride = _ints(args[2] if len(args) > 2 and args[2] not in ([], None) else kernel, nsp)
            pad = _ints(args[3] if len(args) > 3 else 0, nsp)
            dil = _ints(args[4] if name.startswith("max_pool") and len(args) > 4 else 1, nsp)
            dims, rfs = [list(c) for c in first.dims[:-nsp]], first.rfs
            for i in range(nsp):
                d = o.dim() - nsp + i
                comps, rfs = window(_mk(first.dims, rfs), d, kernel[i], stride[i], pad[i], dil[i], o.shape[d])
                dims.append(comps)
            return [_mk(dims, rfs)] * len(outs)
        if "adaptive" in name and "pool" in name and "backward" not in name:
            nsp = len(args[1])
            dims, rfs = [list(c) for c in first.dims[:-nsp]], first.rfs
            for i in range(nsp):
                d = o.dim() - nsp + i
                n_in, n_out = args[0].shape[d], o.shape[d]
                if n_in % n_out:
                    raise Unknown(f"adaptive pooling {n_in} -> {n_out} positions has windows of unequal size")
                k = n_in // n_out
                comps, rfs = window(_mk(first.dims, rfs), d, k, k, 0, 1, n_out)
                dims.append(comps)
            return [_mk(dims, rfs)] * len(outs)
        if name in ("mm", "addmm", "bmm", "baddbmm"):
            a, b = (args[1], args[2]) if name.startswith(("addmm", "baddbmm")) else (args[0], args[1])
            sa, sb = contract(self.get(a), [a.dim() - 1]), contract(self.get(b), [b.dim() - 2])
            sa = _mk([*sa.dims[:-1], [(None, o.shape[-1])]], sa.rfs)
            sb = _mk([*sb.dims[:-2], [(None, o.shape[-2])], sb.dims[-1]], sb.rfs)
            parts = [sa, sb] + ([self.get(args[0])] if name in ("addmm", "baddbmm") else [])
            return [merge(parts, o.shape)]
        if name in ("view", "_unsafe_view", "reshape", "expand", "alias", "clone", "_to_copy", "contiguous",
                    "detach", "lift_fresh", "unsqueeze", "squeeze", "flatten", "unflatten", "view_as",
                    "_reshape_alias", "lift_fresh_copy") or (name.endswith("_copy") and name[:-5] in (
                    "view", "unsqueeze", "squeeze", "expand", "permute", "transpose", "t", "alias")):
            if name.startswith("expand"):
                st = first
                lead = o.dim() - len(st.dims)
                dims = [[(None, n)] for n in o.shape[:lead]]
                for k, comps in enumerate(st.dims):
                    n = o.shape[lead + k]
                    if prod(c[1] for c in comps) != n:  # a size-1 dim broadcast: its axes become global
                        st = contract(st, [k])
                        comps = [(None, n)]
                    dims.append(list(comps))
                return [_mk(dims, st.rfs)]
            return [reshape(first, o.shape)]
        if name in ("permute", "transpose", "t", "numpy_T", "movedim"):
            if name == "permute":
                order = [d % len(first.dims) for d in args[1]]
            elif name == "transpose":
                order = list(range(len(first.dims)))
                d0, d1 = args[1] % len(order), args[2] % len(order)
                order[d0], order[d1] = order[d1], order[d0]
            else:
                order = list(range(len(first.dims)))[::-1]
            return [permute(first, order)]
        if name == "slice":
            dim = args[1] % len(first.dims)
            start = args[2] if len(args) > 2 and args[2] is not None else 0
            step = args[4] if len(args) > 4 else 1
            n_in = args[0].shape[dim]
            start = max(0, start + n_in if start < 0 else start)
            dims = [list(c) for c in first.dims]
            rfs = first.rfs
            a = _single_axis(first.dims[dim])
            if a is not None:
                s, j, z = rfs[a]
                rfs[a] = (s + start * j, j * step, z)
                dims[dim] = [(a, o.shape[dim])]
            else:
                dims[dim] = [(None, o.shape[dim])]
            return [_mk(dims, rfs)]
        if name == "select":
            dim = args[1] % len(first.dims)
            idx = args[2] % args[0].shape[dim]
            a = _single_axis(first.dims[dim])
            rfs = first.rfs
            if a is not None:
                s, j, z = rfs[a]
                rfs[a] = (s + idx * j, j, z)
            return [_mk([c for k, c in enumerate(first.dims) if k != dim], rfs)]
        if name == "constant_pad_nd":
            pad = list(args[1])
            dims, rfs = [list(c) for c in first.dims], first.rfs
            for k in range(len(pad) // 2):
                d = len(dims) - 1 - k
                a = _single_axis(first.dims[d])
                if a is not None:
                    s, j, z = rfs[a]
                    rfs[a] = (s - pad[2 * k] * j, j, z)
                    dims[d] = [(a, o.shape[d])]
                else:
                    dims[d] = [(None, o.shape[d])]
            return [_mk(dims, rfs)]
        if name in ("cat", "stack"):
            tensors = list(args[0])
            dim = (args[1] if len(args) > 1 else kwargs.get("dim", 0)) % o.dim()
            parts = []
            for t in tensors:
                st = self.get(t)
                if name == "stack":
                    st = _mk([*st.dims[:dim], [(None, 1)], *st.dims[dim:]], st.rfs)
                if any(a is not None for a, _ in st.dims[dim]):
                    raise Unknown("concatenation along a spatial axis")
                dims = [list(c) for c in st.dims]
                dims[dim] = [(None, o.shape[dim])]
                parts.append(_mk(dims, st.rfs))
            return [merge(parts, o.shape)]
        if name in ("split", "split_with_sizes", "chunk", "unbind", "unsafe_split", "unsafe_split_with_sizes"):
            dim = (args[2] if len(args) > 2 else kwargs.get("dim", 0)) if name != "unbind" else \
                (args[1] if len(args) > 1 else 0)
            dim %= len(first.dims)
            if any(a is not None for a, _ in first.dims[dim]):
                raise Unknown("splitting a spatial axis")
            res = []
            for t in outs:
                dims = [list(c) for c in first.dims]
                if name == "unbind":
                    dims.pop(dim)
                else:
                    dims[dim] = [(None, t.shape[dim])]
                res.append(_mk(dims, first.rfs))
            return res
        if name in ("mean", "sum", "amax", "amin", "max", "min", "var", "std", "var_mean", "std_mean",
                    "logsumexp", "prod", "norm", "linalg_vector_norm"):
            dims_arg = args[1] if len(args) > 1 else kwargs.get("dim")
            if isinstance(dims_arg, bool):
                dims_arg = None
            rank = len(first.dims)
            red = list(range(rank)) if dims_arg in (None, []) else [d % rank for d in _ints(dims_arg, 1)]
            keep = bool(args[2]) if len(args) > 2 and isinstance(args[2], bool) else bool(kwargs.get("keepdim"))
            st = contract(first, red)
            dims = [c if k not in red else [(None, 1)] for k, c in enumerate(st.dims)]
            if not keep:
                dims = [c for k, c in enumerate(dims) if k not in red]
            return [_mk(dims, st.rfs)] * len(outs)
        if name in ("_softmax", "softmax", "_log_softmax", "log_softmax", "cumsum", "sort", "topk", "argmax",
                    "argmin"):
            dim = args[1] % len(first.dims)
            return [contract(first, [dim])] * len(outs)
        if name == "native_layer_norm":
            n = len(args[1])
            st = contract(first, list(range(len(first.dims) - n, len(first.dims))))
            return [st] + [_mk([[(None, m)] for m in t.shape], st.rfs) for t in outs[1:]]
        if name == "native_group_norm":
            st = contract(first, list(range(1, len(first.dims))))
            return [st] + [_mk([[(None, m)] for m in t.shape], st.rfs) for t in outs[1:]]
        if name in ("_native_batch_norm_legit_no_training",) or (
                name in ("native_batch_norm", "_native_batch_norm_legit") and not _training(name, args)):
            return [first] + [plain(t.shape) for t in outs[1:]]
        if name in ("native_batch_norm", "_native_batch_norm_legit"):
            st = contract(first, [0] + list(range(2, len(first.dims))))
            return [st] + [plain(t.shape) for t in outs[1:]]
        if name == "copy_":
            return [merge([self.get(args[1])], o.shape)]
        if name in ("zero_", "fill_", "zeros_like", "ones_like", "empty_like", "full_like", "new_zeros",
                    "new_ones", "new_empty", "new_full", "rand_like", "randn_like"):
            return [plain(o.shape)]
        if torch.Tag.pointwise in getattr(func, "tags", ()) or name in ("where", "masked_fill", "clamp",
                                                                        "hardtanh", "native_dropout"):
            st = merge(states, o.shape)
            return [st] * len(outs)
        raise Unknown("no receptive-field rule for this op")


def _training(name, args) -> bool:
    if name == "native_batch_norm":
        return bool(args[5])
    if name == "_native_batch_norm_legit":
        return bool(args[5]) if len(args) > 5 and isinstance(args[5], bool) else True
    return False


def _mode(prop: Propagator):
    from torch.utils._python_dispatch import TorchDispatchMode

    class RFMode(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            prop.apply(func, args, kwargs, out)
            return out

    return RFMode()


def field_of(st: State, naxes: int) -> ReceptiveField:
    """A tensor's State as a ReceptiveField over the model's ``naxes`` input axes."""
    if st.unknown:
        return ReceptiveField(unknown=st.unknown)
    rfs, indexed = st.rfs, st.indexed()
    if not rfs:
        return ReceptiveField()
    axes = []
    for a in range(naxes):
        if a not in rfs:
            return ReceptiveField(unknown=f"output does not depend on input axis {a}")
        s, j, z = rfs[a]
        axes.append(AxisRF(z, j, s, a in indexed and j != 0))  # jump 0: every position sees it
    return ReceptiveField(tuple(axes))


def receptive_fields(model, input_shape, dtype: str = "float32") -> RFResult:
    """Receptive field of every layer call of ``model`` (run on a meta clone), keyed like
    the Graph's rows (``layer1.0.conv1``, ``layer1.0.relu#1``, ``layer1.0:add``)."""
    import torch

    from paramscope.building.materialize import meta_clone
    from paramscope.tracing.rowkeys import RowKeys
    from paramscope.tracing.trace import example_input

    clone = meta_clone(model)
    x = example_input(tuple(input_shape), dtype)
    result = RFResult(max(0, len(input_shape) - 2))
    if len(input_shape) < 3:
        return result
    prop = Propagator()
    prop.seed(x)

    def record(key: str, out) -> None:
        t = out if isinstance(out, torch.Tensor) else next(
            (o for o in (out if isinstance(out, (tuple, list)) else ()) if isinstance(o, torch.Tensor)), None)
        result.layers[key] = field_of(prop.get(t), result.axes) if t is not None else \
            ReceptiveField(unknown="the call returned no tensor")

    keys = RowKeys(clone, record)
    with torch.no_grad(), keys, _mode(prop):
        out = clone(x)
    record("", out)
    result.output = result.layers.pop("")
    result.unknown_ops = dict(prop.unknown_ops)
    return result
