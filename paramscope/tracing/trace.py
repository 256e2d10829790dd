"""Lower an ``nn.Module`` to a :class:`~paramscope.graph.Graph` by one meta-device forward pass.

Every leaf-module call becomes a :class:`LayerNode` (forward hooks); arithmetic done by
functions outside any leaf module -- residual ``+``, ``*``, ``@``, ``F.relu``,
``torch.flatten`` ... -- is recorded by a ``TorchFunctionMode`` and attributed to the
innermost running module.  Functional ops that are neither recognised nor pure shape
ops are counted in ``Graph.unrecorded_ops``.  The pass runs on a meta clone, so the
user's model is never touched (see :mod:`paramscope.building.materialize`).
"""

from __future__ import annotations

import inspect
from collections import Counter
from typing import Any

from paramscope.errors import ParamscopeError, clip
from paramscope.formulas.hparams import SKIP, normalise, simple
from paramscope.graph import Graph, LayerNode, ParamInfo, Shape

_SKIP_ARGS = frozenset({"self", "device", "dtype", "args", "kwargs"})

#: functional ops that move or view data without arithmetic: never listed as unrecorded.
PURE_OPS = frozenset("""
    __get__ __set__ __getitem__ __setitem__ __len__ __iter__ __format__ __repr__ __hash__
    __bool__ __index__ __int__ __float__ __contains__ __reversed__ __array__ __deepcopy__
    size dim ndimension numel nelement stride storage_offset element_size data_ptr
    get_device is_floating_point is_complex is_contiguous item tolist type_as
    view view_as reshape reshape_as permute transpose t swapaxes swapdims movedim moveaxis
    squeeze unsqueeze squeeze_ unsqueeze_ unflatten expand expand_as repeat
    contiguous clone detach detach_ to type float double half bfloat16 long int short bool byte
    char cpu cuda requires_grad_
    cat concat concatenate stack hstack vstack split split_with_sizes chunk unbind
    tensor_split narrow select index_select gather flip roll pad pixel_shuffle
    pixel_unshuffle channel_shuffle
    new_zeros new_ones new_empty new_full new_tensor zeros_like ones_like empty_like
    full_like zeros ones empty full arange _assert zero_ fill_ masked_fill masked_fill_
""".split())

def trace(model, input_shape, dtype: str = "float32", device: str = "meta", *,
          grad: bool = False) -> Graph:
    """The Graph of ``model`` on an input of ``input_shape`` (batch included).

    ``input_shape`` is a shape or an :class:`~paramscope.tracing.input_spec.InputSet`.  Runs one
    forward pass on a meta clone; ``device="cpu"`` runs ``model`` itself (a real copy the
    caller made) on seeded inputs instead.  Raises :class:`ParamscopeError` with a
    one-line message when the shape/dtype is invalid or the forward pass fails.
    ``grad=True`` runs it with autograd on and records, per node, which tensor inputs
    require grad (``LayerNode.requires_grad``), as a training analysis needs.
    """
    import torch

    shape = input_shape if hasattr(input_shape, "specs") else check_shape(input_shape)
    torch_dtype(dtype)  # a bad dtype: a ParamscopeError before anything runs
    _refuse_torchscript(model)
    work = meta_model(model) if device == "meta" else model
    rec = _record(model, work, input_shape, dtype, device, grad=grad)
    unfaithful = _params_differ(rec.nodes)
    if unfaithful:  # cost those modules from the ops they run, not as their kind
        rec = _record(model, work, input_shape, dtype, device, unfaithful, grad=grad)
    return Graph(nodes=rec.nodes, input_shape=shape, source="module", dtype=dtype,
                 modules={name: _display_kind(m) for m, name in rec.names.items()},
                 unrecorded_ops=dict(rec.unrecorded), container_params=rec.container_params(),
                 unused_params=rec.unused_params(),
                 subtree_params={name: sum(p.numel() for p in m.parameters())
                                 for m, name in rec.names.items()},
                 subtree_trainable={name: sum(p.numel() for p in m.parameters() if p.requires_grad)
                                    for m, name in rec.names.items()},
                 called=tuple(rec.names[m] for m in rec.called))


def _refuse_torchscript(model) -> None:
    """A clear error for TorchScript modules: they take no hooks and hide their ops."""
    import torch

    for name, module in model.named_modules():
        if isinstance(module, torch.jit.ScriptModule):
            where = f"its submodule {name!r} is" if name else "it is"
            raise ParamscopeError(
                f"cannot analyse {type(model).__name__}: {where} a TorchScript module "
                f"({getattr(module, 'original_name', type(module).__name__)}), which takes no forward "
                "hooks and hides its ops; pass the eager nn.Module (before torch.jit.script/trace)")


def _unopaque_kind(module, kind: str) -> str:
    """The kind of a leaf costed from the ops it runs: never a registered kind's name."""
    from paramscope.formulas import registered_kinds

    if kind not in registered_kinds():
        return kind
    own = type(module)
    return f"{own.__module__}.{own.__qualname__}"


def _display_kind(module) -> str:
    """What reports call a module: its own class name (``MyConv``, ``Bottleneck``)."""
    return type(module).__name__


def _params_differ(nodes) -> frozenset:
    """Names of module nodes whose own parameters are not the ones their formula derives."""
    from paramscope.formulas import formula_params

    names = set()
    for node in nodes:
        if node.functional or node.call_index or node.hparams.get("composite"):
            continue
        expected = formula_params(node)
        if expected is not None and expected != {n: p.numel for n, p in node.params.items()}:
            names.add(node.name)
    return frozenset(names)


def _record(model, work, input_shape, dtype: str, device: str, unfaithful: frozenset = frozenset(),
            *, grad: bool = False) -> "_Recorder":
    """One forward pass of ``work`` with the recorder's hooks and modes, hooks removed after."""
    import torch

    from paramscope.tracing.forward import model_inputs

    rec = _Recorder(work, unfaithful)
    rec.grad = grad
    args, kwargs = model_inputs(input_shape, dtype, device, fill="random")
    if grad:
        for x in tensors_in([*args, *kwargs.values()]):
            rec.token(x)  # the network inputs' storages are tokens 1, 2 …, as in a spec's data flow
    handles = []
    try:
        for module in rec.names:
            handles.append(module.register_forward_pre_hook(rec.enter, with_kwargs=True))
            handles.append(module.register_forward_hook(rec.leave, with_kwargs=True))
        with torch.set_grad_enabled(grad), _function_recorder(rec), _aten_collector(rec):
            work(*args, **kwargs)
    except ParamscopeError:
        raise
    except Exception as err:  # the model's own forward failed
        where = f" in {rec.names[rec.stack[-1]] or '<root>'}" if rec.stack else ""
        error = ParamscopeError(f"forward pass of {type(model).__name__} on the {device} device "
                                f"failed{where}: {type(err).__name__}: {clip(str(err))}")
        error.nodes = list(rec.nodes)  # how far the pass got (for the CPU fallback)
        raise error from err
    finally:
        for handle in handles:
            handle.remove()
    return rec


def example_input(input_shape, dtype: str = "float32", device: str = "meta"):
    """The input tensor a tool runs on: empty on the meta device, zeros on a real one."""
    import torch

    shape, tdtype = check_shape(input_shape), torch_dtype(dtype)
    if device == "meta":
        return torch.empty(shape, dtype=tdtype, device="meta")
    return torch.zeros(shape, dtype=tdtype, device=device)


def check_shape(input_shape) -> Shape:
    """``input_shape`` as a tuple of positive ints, or a ParamscopeError."""
    try:
        shape = tuple(int(d) for d in input_shape)
        ok = all(d > 0 and d == e for d, e in zip(shape, input_shape)) and shape
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ParamscopeError(f"input shape must be a sequence of positive integers "
                              f"(batch included), got {input_shape!r}")
    return shape


def torch_dtype(name: str):
    """The torch dtype called ``name`` (``"float32"``), or a ParamscopeError."""
    import torch

    dtype = getattr(torch, str(name), None)
    if not isinstance(dtype, torch.dtype):
        raise ParamscopeError(f"unknown dtype {name!r} (expected e.g. float32, float16, int64)")
    return dtype


def meta_model(model):
    """A meta clone of ``model`` (the original is never run or modified); a model that
    cannot be deep-copied is an error saying why (it is never traced itself)."""
    from paramscope.building.materialize import meta_clone

    try:
        return meta_clone(model)
    except Exception as err:
        detail = " ".join(str(err).split())[:200]
        raise ParamscopeError(f"cannot analyse {type(model).__name__}: paramscope traces a deep "
                              f"copy on the meta device and copying it failed "
                              f"({type(err).__name__}: {detail})") from None


# --------------------------------------------------------------------------- modules

def _kind_classes() -> dict[type, str]:
    """Module class -> kind, by identity: ``torch.nn.<Kind>`` for every registered kind
    that torch.nn defines, plus classes a kind names elsewhere (torchvision's StochasticDepth)
    whose package is already imported (paramscope never imports it)."""
    import sys

    import torch.nn as nn

    from paramscope.formulas import registered_kinds
    from paramscope.formulas.registry import external_modules

    found: dict[type, str] = {}
    for kind in registered_kinds():
        cls = getattr(nn, kind, None)
        if isinstance(cls, type) and issubclass(cls, nn.Module):
            found[cls] = kind
    for kind, paths in external_modules().items():
        for path in paths:
            module_name, _, name = path.rpartition(".")
            cls = getattr(sys.modules.get(module_name), name, None)
            if isinstance(cls, type):
                found[cls] = kind
    return found


def resolve_kind(module) -> tuple[str, type, bool]:
    """``(kind, class, faithful)`` of a module, by class identity (never by class name).

    The kind is that of the nearest class in the MRO registered for a kind.  ``faithful``
    is False for a subclass that overrides ``forward``: it is not costed as its base (its
    own name is its kind, and the ops it runs are recorded).  A class of no kind gets its
    own name, qualified by its module when that name is also a kind's (a user's ``Linear``).
    """
    from paramscope.formulas import registered_kinds

    classes = _kind_classes()
    own = type(module)
    for cls in own.__mro__:
        kind = classes.get(cls)
        if kind is None:
            continue
        if own is cls or getattr(own, "forward", None) is getattr(cls, "forward", None):
            return kind, cls, True
        break
    name = own.__name__
    if name in registered_kinds():
        name = f"{own.__module__}.{own.__qualname__}"
    return name, own, False


def module_hparams(module, kind: str, cls: type, out_shape: Shape) -> dict[str, Any]:
    """Constructor arguments of ``cls`` read back from ``module``'s attributes."""
    import torch

    raw: dict[str, Any] = {}
    params: Any = {}
    for klass in cls.__mro__:  # nn.LSTM's __init__ is (*args, **kwargs): RNNBase names them
        try:
            params = {n: p for n, p in inspect.signature(klass.__init__).parameters.items()
                      if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        except (TypeError, ValueError):
            params = {}
        if set(params) - {"self"}:
            break
    for arg in params:
        if arg in _SKIP_ARGS or arg.startswith("_") or not hasattr(module, arg):
            continue
        value = getattr(module, arg)
        if arg == "bias" and not isinstance(value, bool):
            value = value is not None
        elif isinstance(value, torch.Size):
            value = tuple(value)
        value = simple(value)
        if value is not SKIP:
            raw[arg] = value
    return normalise(kind, raw, out_shape)


def tensors_in(values) -> list:
    """Tensors among call arguments (one level of lists/tuples/dicts flattened)."""
    import torch

    found = []
    for v in values:
        if isinstance(v, torch.Tensor):
            found.append(v)
        elif isinstance(v, (list, tuple)):
            found += [x for x in v if isinstance(x, torch.Tensor)]
        elif isinstance(v, dict):
            found += [x for x in v.values() if isinstance(x, torch.Tensor)]
    return found


def first_tensor(output):
    import torch

    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (list, tuple)):
        for item in output:
            t = first_tensor(item)
            if t is not None:
                return t
    return None


def _dtype_name(t) -> str:
    return str(t.dtype).removeprefix("torch.") if t is not None else "float32"


class _Recorder:
    """Hook state: the running-module stack and the nodes recorded so far."""

    def __init__(self, root, unfaithful: frozenset = frozenset()) -> None:
        self.root = root
        self.names: dict[Any, str] = {}
        for name, module in root.named_modules():
            self.names.setdefault(module, name)
        self.leaves = {m for m in self.names if next(m.children(), None) is None}
        #: leaves whose kind has a formula: their inner ops are covered by it.  A leaf
        #: with no formula is *composite*: the functional ops it calls are recorded.
        #: ``unfaithful`` names leaves whose own parameters differ from their kind's formula
        #: (an old-style weight_norm): they are costed from the ops they run instead.
        self.opaque = {m for m in self.leaves
                       if resolve_kind(m)[2] and self.names[m] not in unfaithful}
        self.stack: list[Any] = []
        self.nodes: list[LayerNode] = []
        self.calls: Counter = Counter()
        self.unrecorded: Counter = Counter()
        self.seen_in: Counter = Counter()  # module name -> function calls seen in it (any)
        self.unrecorded_in: Counter = Counter()  # module name -> calls no formula covers
        self.called: dict = {}  # modules whose forward ran, in call order
        self.busy = False  # True while our own hook code runs (ignore its tensor ops)
        self.collecting: list[list] = []  # aten ops of the function calls being recorded
        self.grad = False  # record LayerNode.requires_grad and flow (training analyses)
        self.tokens: dict[int, int] = {}
        self.keep: list = []
        self.owners: dict[int, str] = {}  # id(tensor) -> first "<module>.<param>"
        self._param_info = {m: self._infos(m, m._parameters) for m in self.names}

    def _infos(self, module, tensors) -> dict[str, ParamInfo]:
        infos = {}
        for pname, t in tensors.items():
            if t is None:
                continue
            full = f"{self.names[module]}.{pname}".lstrip(".")
            first = self.owners.setdefault(id(t), full)
            infos[pname] = ParamInfo(tuple(t.shape), bool(t.requires_grad), _dtype_name(t),
                                     first if first != full else "")
        return infos

    def container_params(self) -> dict[str, dict[str, ParamInfo]]:
        """Parameters owned directly by non-leaf modules that ran (a class token)."""
        return {self.names[m]: infos for m, infos in self._param_info.items()
                if infos and m not in self.leaves and m in self.called}

    def unused_params(self) -> dict[str, dict[str, ParamInfo]]:
        """Parameters of modules whose forward never ran (MultiheadAttention's out_proj,
        used through its weight only, or a layer the model defines but never calls)."""
        return {self.names[m]: infos for m, infos in self._param_info.items()
                if infos and m not in self.called}

    # hooks --------------------------------------------------------------
    def enter(self, module, args, kwargs):
        self.stack.append(module)
        self.called.setdefault(module, None)

    def leave(self, module, args, kwargs, output):
        if self.stack and self.stack[-1] is module:
            self.stack.pop()
        if module not in self.leaves:
            return
        self.busy = True
        try:
            kind, cls, _ = resolve_kind(module)
            if module not in self.opaque:
                kind = _unopaque_kind(module, kind)
            out = first_tensor(output)
            out_shape = tuple(out.shape) if out is not None else ()
            index = self.calls[id(module)]
            self.calls[id(module)] += 1
            hparams = module_hparams(module, kind, cls, out_shape)
            name = self.names[module]
            if module not in self.opaque and self.seen_in[name] and not self.unrecorded_in[name]:
                hparams["composite"] = True  # costed through the functional ops it called
            self.nodes.append(LayerNode(
                name=self.names[module], kind=kind,
                hparams=hparams,
                in_shapes=tuple(tuple(t.shape) for t in tensors_in([*args, *kwargs.values()])),
                out_shape=out_shape, params=self._param_info[module],
                buffers=self._infos(module, module._buffers), call_index=index,
                dtype=_dtype_name(out), training=bool(module.training),
                requires_grad=self.grad_flags([*args, *kwargs.values()]),
                flow=self.flow([*args, *kwargs.values()], out)))
        finally:
            self.busy = False

    # functional ops -------------------------------------------------------
    def wants(self) -> bool:
        """True when a function call should be looked at (inside a non-leaf module)."""
        return not self.busy and bool(self.stack) and self.stack[-1] not in self.opaque

    def unmodelled(self, label: str, missing: list[str]) -> None:
        """A call no formula covers: listed in the graph, and its module is not composite."""
        owner = self.names[self.stack[-1]]
        self.unrecorded[f"{owner}:{label} ({', '.join(missing)})"] += 1
        self.unrecorded_in[owner] += 1

    def record_function(self, func, args, kwargs, result, calls=()) -> None:
        """Record one function call run inside a non-opaque module: as the layer kind it
        is an alias of, else as an ``op`` costed from its aten ops (:mod:`formulas.aten`)."""
        from paramscope.formulas.aten import aten_cost, unmodelled
        from paramscope.formulas.registry import alias_kind

        name = getattr(func, "__name__", None) or repr(func)
        owner = self.stack[-1]
        self.seen_in[self.names[owner]] += 1
        out = first_tensor(result)
        out_shape = tuple(int(d) for d in out.shape) if out is not None else ()
        found = alias_kind(name, args, kwargs, out_shape)
        kind, hparams = found if found is not None else (None, None)
        if kind == "MultiheadAttention":  # what decides torch's CPU fast path (fvcore sees it)
            hparams["batch_first"] = bool(getattr(owner, "batch_first", False))
        if kind is None:
            if name in PURE_OPS:
                return
            missing = unmodelled(calls)
            if not missing and not any(c.macs or c.flops for c in map(aten_cost, calls)):
                return  # moves or creates data only: no arithmetic, no row
            kind = label_of(func, name)
            hparams = {"callable": kind}
            if missing:
                self.unmodelled(kind, missing)
        key = (self.names[owner], kind)
        index = self.calls[key]
        self.calls[key] += 1
        self.nodes.append(LayerNode(
            name=self.names[owner], kind=kind, hparams=hparams,
            in_shapes=tuple(tuple(t.shape) for t in tensors_in([*args, *kwargs.values()])),
            out_shape=out_shape, call_index=index,
            dtype=_dtype_name(out), functional=True, training=bool(owner.training),
            aten=tuple(calls),
            requires_grad=self.grad_flags([*args, *kwargs.values()], _named_args(name, args, kwargs)),
            flow=self.flow([*args, *kwargs.values()], out)))

    def flow(self, values, out) -> tuple:
        """``LayerNode.flow``: storage tokens of the inputs and the output (training only)."""
        if not self.grad:
            return ()
        return tuple(self.token(t) for t in tensors_in(values)), self.token(out)

    def token(self, t) -> int:
        """A number per tensor storage (a view shares its base's); 0 for a parameter."""
        import torch

        if t is None or isinstance(t, torch.nn.Parameter):
            return 0
        base = t._base if t._base is not None else t
        self.keep.append(base)  # keeps ids unique while the trace runs
        return self.tokens.setdefault(id(base), len(self.tokens) + 1)

    def grad_flags(self, values, named=None) -> dict[str, bool]:
        """``{"input": …, "input1": …, <argument name>: …}``: requires_grad of each tensor
        input (only when tracing for training)."""
        if not self.grad:
            return {}
        flags = {("input" if i == 0 else f"input{i}"): bool(t.requires_grad)
                 for i, t in enumerate(tensors_in(values))}
        flags.update({k: bool(v.requires_grad) for k, v in (named or {}).items()
                      if hasattr(v, "requires_grad")})
        return flags


def _named_args(name: str, args, kwargs) -> dict[str, Any]:
    """Tensor arguments of a weighted or attention op by argument name."""
    from paramscope.formulas.attention import MHA_ARGS
    from paramscope.formulas.hparams import bind

    if name in ("linear", "conv1d", "conv2d", "conv3d"):
        names: tuple[str, ...] = ("input", "weight", "bias")
    elif name == "multi_head_attention_forward":
        names = MHA_ARGS + ("training", "key_padding_mask", "need_weights", "attn_mask",
                             "use_separate_proj_weight", "q_proj_weight", "k_proj_weight",
                             "v_proj_weight")
    elif name == "scaled_dot_product_attention":
        names = ("query", "key", "value")
    else:
        return {}
    return bind(names, args, kwargs)


#: C namespaces of torch's submodules -> how users spell them (torch._C._fft.fft_rfft2 is
#: torch.fft.rfft2)
_NAMESPACES = {"torch._C._fft": ("torch.fft", "fft_"), "torch._C._linalg": ("torch.linalg", "linalg_"),
               "torch._C._special": ("torch.special", "special_"), "torch._C._nn": ("F", "")}


def label_of(func, name: str) -> str:
    """How a report names a function: ``F.gelu``, ``Tensor.mean``, ``torch.fft.rfft2``."""
    module = getattr(func, "__module__", None) or ""
    if module in _NAMESPACES:
        prefix, strip = _NAMESPACES[module]
        return f"{prefix}.{name.removeprefix(strip)}"
    if module.startswith("torch.nn.functional"):
        return f"F.{name}"
    if hasattr(func, "__objclass__") or module == "torch._tensor":
        return f"Tensor.{name}"
    return f"torch.{name}"


def _function_recorder(rec: _Recorder):
    """A TorchFunctionMode that hands every function call to ``rec``, with the aten ops
    that ran inside it (collected by :func:`_aten_collector`)."""
    from torch.overrides import TorchFunctionMode

    class FunctionRecorder(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if not rec.wants():
                return func(*args, **kwargs)
            rec.collecting.append([])
            try:
                result = func(*args, **kwargs)
            finally:
                calls = tuple(rec.collecting.pop())
            if rec.wants():
                rec.busy = True
                try:
                    rec.record_function(func, args, kwargs, result, calls)
                finally:
                    rec.busy = False
            return result

    return FunctionRecorder()


def _aten_collector(rec: _Recorder):
    """A TorchDispatchMode that records each aten op (name, operand shapes) into the
    innermost function call the recorder is collecting for."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    from paramscope.formulas.aten import AtenCall

    def shapes(values):
        return tuple(tuple(int(d) for d in t.shape) for t in tensors_in(values)
                     if isinstance(t, torch.Tensor))

    class AtenCollector(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            result = func(*args, **kwargs)
            if rec.collecting:
                name = func._overloadpacket.__name__ if hasattr(func, "_overloadpacket") else str(func)
                extra = ()
                if name in ("convolution", "_convolution") and len(args) > 6:
                    extra = (("transposed", bool(args[6])),)
                elif name == "gelu":
                    extra = (("approximate", kwargs.get("approximate", args[1] if len(args) > 1 else "none")),)
                out = first_tensor(result)
                rec.collecting[-1].append(AtenCall(
                    name, shapes([*args, *kwargs.values()]),
                    tuple(int(d) for d in out.shape) if out is not None else (), extra))
            return result

    return AtenCollector()
