"""Lower an ``nn.Module`` to a :class:`~paramscope.graph.Graph` by one meta-device forward pass.

Every leaf-module call becomes a :class:`LayerNode` (forward hooks); arithmetic done by
functions outside any leaf module -- residual ``+``, ``*``, ``@``, ``F.relu``,
``torch.flatten`` ... -- is recorded by a ``TorchFunctionMode`` and attributed to the
innermost running module.  Functional ops that are neither recognised nor pure shape
ops are counted in ``Graph.unrecorded_ops``.  The pass runs on a meta clone, so the
user's model is never touched (see :mod:`paramscope.materialize`).
"""

from __future__ import annotations

import inspect
from collections import Counter
from typing import Any

from paramscope.errors import ParamscopeError, clip
from paramscope.graph import Graph, LayerNode, ParamInfo, Shape

#: hyper-parameters normalised to n-tuples on 1d/2d/3d kinds.
TUPLE_HPARAMS = frozenset({"kernel_size", "stride", "padding", "dilation", "output_padding",
                           "output_size"})
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

#: function name -> (kind, positional argument names after the input, defaults).
FUNCTIONAL_MODULE_OPS: dict[str, tuple[str, tuple[str, ...], dict[str, Any]]] = {
    "relu": ("ReLU", ("inplace",), {"inplace": False}),
    "relu_": ("ReLU", (), {"inplace": True}),
    "relu6": ("ReLU6", ("inplace",), {"inplace": False}),
    "hardtanh": ("Hardtanh", ("min_val", "max_val", "inplace"),
                 {"min_val": -1.0, "max_val": 1.0, "inplace": False}),
    "leaky_relu": ("LeakyReLU", ("negative_slope", "inplace"),
                   {"negative_slope": 0.01, "inplace": False}),
    "elu": ("ELU", ("alpha", "inplace"), {"alpha": 1.0, "inplace": False}),
    "gelu": ("GELU", (), {"approximate": "none"}),
    "silu": ("SiLU", ("inplace",), {"inplace": False}),
    "mish": ("Mish", ("inplace",), {"inplace": False}),
    "hardswish": ("Hardswish", ("inplace",), {"inplace": False}),
    "hardsigmoid": ("Hardsigmoid", ("inplace",), {"inplace": False}),
    "sigmoid": ("Sigmoid", (), {}),
    "tanh": ("Tanh", (), {}),
    "softmax": ("Softmax", ("dim",), {"dim": None}),
    "log_softmax": ("LogSoftmax", ("dim",), {"dim": None}),
    "flatten": ("Flatten", ("start_dim", "end_dim"), {"start_dim": 0, "end_dim": -1}),
    "dropout": ("Dropout", ("p", "training", "inplace"),
                {"p": 0.5, "training": True, "inplace": False}),
    "interpolate": ("Upsample", ("size", "scale_factor", "mode", "align_corners"),
                    {"size": None, "scale_factor": None, "mode": "nearest", "align_corners": None}),
    **{f"adaptive_{op}_pool{n}d": (f"Adaptive{op.title()}Pool{n}d", ("output_size",), {})
       for op in ("avg", "max") for n in (1, 2, 3)},
    **{f"max_pool{n}d": (f"MaxPool{n}d", ("kernel_size", "stride", "padding", "dilation",
                                          "ceil_mode", "return_indices"),
                         {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False,
                          "return_indices": False}) for n in (1, 2, 3)},
    **{f"avg_pool{n}d": (f"AvgPool{n}d", ("kernel_size", "stride", "padding", "ceil_mode",
                                         "count_include_pad", "divisor_override"),
                         {"stride": None, "padding": 0, "ceil_mode": False,
                          "count_include_pad": True, "divisor_override": None})
       for n in (1, 2, 3)},
}

#: functions that apply a weight tensor passed in: the kind whose formula costs them.
WEIGHTED_OPS: dict[str, str] = {"linear": "Linear", "conv1d": "Conv1d", "conv2d": "Conv2d",
                                "conv3d": "Conv3d"}


def weighted_hparams(kind: str, args, kwargs, out_shape: Shape) -> dict[str, Any] | None:
    """Hyper-parameters of ``F.linear`` / ``F.convNd`` from the weight's shape and the
    call's arguments (torch.nn names, as the module would have them); None if unreadable."""
    names = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
    bound = dict(zip(names, args))
    bound.update({k: v for k, v in kwargs.items() if k in names})
    weight = bound.get("weight")
    if weight is None or not hasattr(weight, "shape"):
        return None
    has_bias = bound.get("bias") is not None
    if kind == "Linear":
        return {"in_features": int(weight.shape[-1]), "out_features": int(weight.shape[0]),
                "bias": has_bias}
    groups = int(bound.get("groups", 1))
    raw = {"in_channels": int(weight.shape[1]) * groups, "out_channels": int(weight.shape[0]),
           "kernel_size": tuple(int(k) for k in weight.shape[2:]), "stride": bound.get("stride", 1),
           "padding": bound.get("padding", 0), "dilation": bound.get("dilation", 1),
           "groups": groups, "bias": has_bias, "padding_mode": "zeros"}
    raw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in raw.items()}
    return normalise_hparams(kind, raw, out_shape)


def einsum_hparams(args) -> dict[str, Any] | None:
    """Equation and operand shapes of a two-operand ``torch.einsum``, else None."""
    from paramscope.formulas.einsum import parse_equation

    if not args or not isinstance(args[0], str):
        return None
    operands = args[1] if len(args) == 2 and isinstance(args[1], (list, tuple)) else args[1:]
    shapes = [tuple(int(d) for d in getattr(t, "shape", ())) for t in operands]
    if parse_equation(args[0], shapes) is None:
        return None
    return {"equation": args[0], "shapes": shapes}


#: attention functions -> the kind whose formula costs them.
ATTENTION_OPS = {"multi_head_attention_forward": "MultiheadAttention",
                 "scaled_dot_product_attention": "scaled_dot_product_attention"}
_MHA_ARGS = ("query", "key", "value", "embed_dim_to_check", "num_heads", "in_proj_weight",
             "in_proj_bias", "bias_k", "bias_v", "add_zero_attn", "dropout_p", "out_proj_weight",
             "out_proj_bias")


def attention_hparams(name: str, args, kwargs) -> dict[str, Any] | None:
    """q/k/v shapes (and heads, biases) of an attention call; None if they are not batched."""
    names = _MHA_ARGS if name == "multi_head_attention_forward" else ("query", "key", "value")
    bound = dict(zip(names, args))
    bound.update({k: v for k, v in kwargs.items() if k in names})
    shapes = [tuple(int(d) for d in getattr(bound.get(k), "shape", ())) for k in ("query", "key", "value")]
    if name == "scaled_dot_product_attention":
        if any(len(s) < 2 for s in shapes):
            return None
        return {"q_shape": shapes[0], "k_shape": shapes[1], "v_shape": shapes[2]}
    if any(len(s) == 2 for s in shapes):  # unbatched (L, E): one sequence
        shapes = [(s[0], 1, s[1]) for s in shapes]
    if any(len(s) != 3 for s in shapes):
        return None
    return {"q_shape": shapes[0], "k_shape": shapes[1], "v_shape": shapes[2],
            "num_heads": int(bound.get("num_heads", 1)),
            "in_proj_bias": bound.get("in_proj_bias") is not None,
            "out_proj_bias": bound.get("out_proj_bias") is not None,
            "bias_k": bound.get("bias_k") is not None,
            "add_zero_attn": bool(bound.get("add_zero_attn", False))}


#: function name -> functional kind (``"add"``, ``"mul"``, ``"matmul"``).
ARITHMETIC_OPS: dict[str, str] = {
    **dict.fromkeys(("add", "add_", "__add__", "__radd__", "__iadd__"), "add"),
    **dict.fromkeys(("mul", "mul_", "multiply", "__mul__", "__rmul__", "__imul__"), "mul"),
    **dict.fromkeys(("matmul", "__matmul__", "__rmatmul__", "bmm", "mm"), "matmul"),
}

def trace(model, input_shape, dtype: str = "float32", device: str = "meta") -> Graph:
    """The Graph of ``model`` on an input of ``input_shape`` (batch included).

    ``input_shape`` is a shape or an :class:`~paramscope.input_spec.InputSet`.  Runs one
    forward pass on a meta clone; ``device="cpu"`` runs ``model`` itself (a real copy the
    caller made) on seeded inputs instead.  Raises :class:`ParamscopeError` with a
    one-line message when the shape/dtype is invalid or the forward pass fails.
    """
    import torch

    from paramscope.forward import call_model

    shape = input_shape if hasattr(input_shape, "specs") else check_shape(input_shape)
    torch_dtype(dtype)  # a bad dtype: a ParamscopeError before anything runs
    _refuse_torchscript(model)
    work = meta_model(model) if device == "meta" else model
    rec = _Recorder(work)
    handles = []
    try:
        for module in rec.names:
            handles.append(module.register_forward_pre_hook(rec.enter, with_kwargs=True))
            handles.append(module.register_forward_hook(rec.leave, with_kwargs=True))
        with torch.no_grad(), _function_recorder(rec):
            call_model(work, input_shape, dtype, device, fill="random")
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
    return Graph(nodes=rec.nodes, input_shape=shape, source="module", dtype=dtype,
                 modules={name: type(m).__name__ for m, name in rec.names.items()},
                 unrecorded_ops=dict(rec.unrecorded), container_params=rec.container_params())


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
    """A meta clone of ``model`` (the original is never run or modified).

    Falls back to ``model`` itself only when it cannot be deep-copied and already lives
    entirely on the meta device (hooks are still removed afterwards).
    """
    from paramscope.materialize import meta_clone

    try:
        return meta_clone(model)
    except Exception as err:
        tensors = list(model.parameters()) + list(model.buffers())
        if all(t.is_meta for t in tensors):
            return model
        raise ParamscopeError(f"cannot make a meta copy of {type(model).__name__}: "
                              f"{type(err).__name__}: {err}") from err


# --------------------------------------------------------------------------- modules

def resolve_kind(module) -> tuple[str, type]:
    """``(kind, class)``: the first class in the MRO that is a registered torch.nn kind,
    else the module's own class name (never a substring match)."""
    from paramscope.formulas import registered_kinds

    kinds = registered_kinds()
    for cls in type(module).__mro__:
        if cls.__name__ in kinds and cls.__module__.startswith("torch."):
            return cls.__name__, cls
    return type(module).__name__, type(module)


def _rank(kind: str) -> int | None:
    return int(kind[-2]) if len(kind) > 2 and kind[-1] == "d" and kind[-2].isdigit() else None


def _simple(value) -> Any:
    """A hyper-parameter value as plain data, or ``_SKIP`` when it is not plain."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)) and all(
            v is None or isinstance(v, (bool, int, float, str)) for v in value):
        return tuple(value)
    return _SKIP


_SKIP = object()


def normalise_hparams(kind: str, raw: dict[str, Any], out_shape: Shape) -> dict[str, Any]:
    """graph.py's normalisation: n-tuples on 1d/2d/3d kinds, pool stride None -> kernel,
    adaptive output_size None entries -> the traced output size."""
    n = _rank(kind)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if n and key in TUPLE_HPARAMS and value is not None and not isinstance(value, str):
            value = tuple(value) if isinstance(value, tuple) else (value,) * n
            if len(value) == 1 and n > 1:
                value = value * n
        out[key] = value
    if n and "stride" in out and out["stride"] in (None, ()) and "kernel_size" in out:
        out["stride"] = out["kernel_size"]
    if n and isinstance(out.get("output_size"), tuple) and len(out_shape) >= n:
        out["output_size"] = tuple(o if o is not None else s
                                   for o, s in zip(out["output_size"], out_shape[-n:]))
    return out


def module_hparams(module, kind: str, cls: type, out_shape: Shape) -> dict[str, Any]:
    """Constructor arguments of ``cls`` read back from ``module``'s attributes."""
    import torch

    raw: dict[str, Any] = {}
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        params = {}
    for arg in params:
        if arg in _SKIP_ARGS or arg.startswith("_") or not hasattr(module, arg):
            continue
        value = getattr(module, arg)
        if arg == "bias" and not isinstance(value, bool):
            value = value is not None
        elif isinstance(value, torch.Size):
            value = tuple(value)
        value = _simple(value)
        if value is not _SKIP:
            raw[arg] = value
    return normalise_hparams(kind, raw, out_shape)


def _tensors(values) -> list:
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


def _first_tensor(output):
    import torch

    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (list, tuple)):
        for item in output:
            t = _first_tensor(item)
            if t is not None:
                return t
    return None


def _dtype_name(t) -> str:
    return str(t.dtype).removeprefix("torch.") if t is not None else "float32"


class _Recorder:
    """Hook state: the running-module stack and the nodes recorded so far."""

    def __init__(self, root) -> None:
        self.root = root
        self.names: dict[Any, str] = {}
        for name, module in root.named_modules():
            self.names.setdefault(module, name)
        self.leaves = {m for m in self.names if next(m.children(), None) is None}
        #: leaves whose kind has a formula: their inner ops are covered by it.  A leaf
        #: with no formula is *composite*: the functional ops it calls are recorded.
        from paramscope.formulas import registered_kinds

        kinds = registered_kinds()
        self.opaque = {m for m in self.leaves if resolve_kind(m)[0] in kinds}
        self.stack: list[Any] = []
        self.nodes: list[LayerNode] = []
        self.calls: Counter = Counter()
        self.unrecorded: Counter = Counter()
        self.seen_in: Counter = Counter()  # module name -> function calls seen in it (any)
        self.unrecorded_in: Counter = Counter()  # module name -> calls no formula covers
        self.called: set = set()
        self.busy = False  # True while our own hook code runs (ignore its tensor ops)
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
        """Parameters no LayerNode carries: of non-leaf modules, and of modules never called."""
        return {self.names[m]: infos for m, infos in self._param_info.items()
                if infos and (m not in self.leaves or m not in self.called)}

    # hooks --------------------------------------------------------------
    def enter(self, module, args, kwargs):
        self.stack.append(module)
        self.called.add(module)

    def leave(self, module, args, kwargs, output):
        if self.stack and self.stack[-1] is module:
            self.stack.pop()
        if module not in self.leaves:
            return
        self.busy = True
        try:
            kind, cls = resolve_kind(module)
            out = _first_tensor(output)
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
                in_shapes=tuple(tuple(t.shape) for t in _tensors([*args, *kwargs.values()])),
                out_shape=out_shape, params=self._param_info[module],
                buffers=self._infos(module, module._buffers), call_index=index,
                dtype=_dtype_name(out), training=bool(module.training)))
        finally:
            self.busy = False

    # functional ops -------------------------------------------------------
    def wants(self) -> bool:
        """True when a function call should be looked at (inside a non-leaf module)."""
        return not self.busy and bool(self.stack) and self.stack[-1] not in self.opaque

    def unmodelled(self, func, name: str) -> None:
        """A call no formula covers: listed in the graph, and its module is not composite."""
        owner = self.names[self.stack[-1]]
        self.unrecorded[f"{owner}:{_label(func, name)}"] += 1
        self.unrecorded_in[owner] += 1

    def record_function(self, func, args, kwargs, result) -> None:
        name = getattr(func, "__name__", None) or repr(func)
        self.seen_in[self.names[self.stack[-1]]] += 1
        if name in ARITHMETIC_OPS:
            kind = ARITHMETIC_OPS[name]
            inplace = name.startswith("__i") or (name.endswith("_") and not name.endswith("__"))
            hparams = {"op": name, "inplace": inplace}
        elif name == "einsum":
            kind = "einsum"
            hparams = einsum_hparams(args)
            if hparams is None:
                self.unmodelled(func, name)
                return
        elif name in ATTENTION_OPS:
            kind = ATTENTION_OPS[name]
            hparams = attention_hparams(name, args, kwargs)
            if hparams is None:
                self.unmodelled(func, name)
                return
        elif name in WEIGHTED_OPS:
            kind = WEIGHTED_OPS[name]
            out = _first_tensor(result)
            hparams = weighted_hparams(kind, args, kwargs, tuple(out.shape) if out is not None else ())
            if hparams is None:
                self.unmodelled(func, name)
                return
        elif name in FUNCTIONAL_MODULE_OPS:
            kind, order, defaults = FUNCTIONAL_MODULE_OPS[name]
            raw = dict(defaults)
            raw.update(zip(order, args[1:]))
            raw.update({k: v for k, v in kwargs.items() if k in defaults or k in order})
            raw = {k: _simple(v) for k, v in raw.items() if _simple(v) is not _SKIP}
            out = _first_tensor(result)
            hparams = normalise_hparams(kind, raw, tuple(out.shape) if out is not None else ())
        else:
            if name not in PURE_OPS:
                self.unmodelled(func, name)
            return
        owner = self.stack[-1]
        out = _first_tensor(result)
        key = (self.names[owner], kind)
        index = self.calls[key]
        self.calls[key] += 1
        self.nodes.append(LayerNode(
            name=self.names[owner], kind=kind, hparams=hparams,
            in_shapes=tuple(tuple(t.shape) for t in _tensors([*args, *kwargs.values()])),
            out_shape=tuple(out.shape) if out is not None else (), call_index=index,
            dtype=_dtype_name(out), functional=True, training=bool(owner.training)))


def _label(func, name: str) -> str:
    module = getattr(func, "__module__", None) or ""
    if module.startswith("torch.nn.functional"):
        return f"F.{name}"
    if hasattr(func, "__objclass__") or module == "torch._tensor":
        return f"Tensor.{name}"
    return f"torch.{name}"


def _function_recorder(rec: _Recorder):
    """A TorchFunctionMode that hands every function call to ``rec``."""
    from torch.overrides import TorchFunctionMode

    class FunctionRecorder(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            result = func(*args, **kwargs)
            if rec.wants():
                rec.busy = True
                try:
                    rec.record_function(func, args, kwargs, result)
                finally:
                    rec.busy = False
            return result

    return FunctionRecorder()
