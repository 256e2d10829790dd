"""``paramscope.summary``: torchinfo's ``summary()`` call, answered by paramscope.

A torchinfo user switches by changing the import: ``summary(model, input_size=(1, 3, 224, 224),
depth=3, col_names=..., verbose=...)`` takes torchinfo's own argument names.  What maps onto
paramscope is honoured (the inputs, ``batch_dim``, ``dtypes``, ``depth``, ``verbose``); what
does not is accepted and named in the report's notes.  Returns the Report (printed unless
``verbose=0``).  No torch import here.
"""

from __future__ import annotations

from typing import Any

from paramscope.errors import ParamscopeError

#: analyze() keywords summary() passes through (paramscope's own, beside torchinfo's)
PASSED_THROUGH = ("measure", "overrides", "dtype", "fvcore_budget", "batch", "perf")
#: torchinfo's mode values; "same"/"eval"/None describe the forward paramscope analyses
TORCHINFO_MODES = (None, "same", "eval", "train")


def summary(model: Any = None, input_size: Any = None, input_data: Any = None, batch_dim: int | None = None,
            cache_forward_pass: bool | None = None, col_names: Any = None, col_width: int | None = None,
            depth: int = 3, device: Any = None, dtypes: Any = None, mode: str | None = None,
            row_settings: Any = None, verbose: int | None = None, **kwargs: Any):
    """Analyse ``model`` (an nn.Module or any paramscope target) with torchinfo's arguments.

    ``input_size``: one shape (batch included unless ``batch_dim`` is given) or a list of
    shapes; ``input_data``: a tensor, a list of tensors or ``{name: tensor}`` (their shapes and
    dtypes are used); ``dtypes``: torch dtypes of the inputs; ``depth``: the module tree down
    to that depth, deeper rows folded into their ancestor (torchinfo's default 3);
    ``col_names``: torchinfo's column names (``input_size``, ``output_size``, ``kernel_size``,
    ``num_params``, ``params_percent``, ``trainable``, ``mult_adds``) or paramscope's
    (``flops``, ``memory``, ``status``, a tool); ``verbose``: 0 returns quietly, otherwise the
    summary is printed.  ``col_width``, ``row_settings``, ``cache_forward_pass``, ``device``
    and ``mode="train"`` are accepted and noted.  Keywords of :func:`paramscope.analyze`
    (``measure``, ``dtype``, ``overrides`` ...) pass through.
    """
    from paramscope.analysis import DEFAULT_MEASURERS, OPT_IN_MEASURERS, analyze

    unknown = [k for k in kwargs if k not in PASSED_THROUGH]
    if unknown:
        raise ParamscopeError(f"summary() got unknown argument(s) {', '.join(unknown)}: torchinfo passes extra "
                              "keywords to forward(); give keyword tensors as input_data={name: tensor}")
    if model is None:
        raise ParamscopeError("summary() needs a model (an nn.Module or a paramscope target)")
    if depth is not None and (not isinstance(depth, int) or depth < 1):
        raise ParamscopeError(f"summary(): depth must be a positive integer, got {depth!r}")
    if mode not in TORCHINFO_MODES:
        raise ParamscopeError(f"summary(): mode must be one of train, eval, same, got {mode!r}")
    columns = _columns(col_names, DEFAULT_MEASURERS + OPT_IN_MEASURERS)
    items = _input_items(input_size, input_data, batch_dim, dtypes)
    if items is not None and len(items) == 1 and isinstance(items[0], tuple):
        report = analyze(model, items[0], **kwargs)  # one float tensor: its exact shape
    else:
        report = analyze(model, inputs=items, **kwargs)
    report.notes.extend(_ignored_notes(col_width=col_width, row_settings=row_settings,
                                       cache_forward_pass=cache_forward_pass, device=device, mode=mode))
    missing = [c for c in columns or () if c in DEFAULT_MEASURERS + OPT_IN_MEASURERS and c not in report.measurers]
    if missing:
        raise ParamscopeError(f"summary(col_names=...): {', '.join(missing)} did not run; "
                              f"measure={', '.join(report.measurers) or 'none'}")
    report.display = {"depth": depth, "columns": columns}
    if verbose is None or verbose != 0:
        print(report)
    return report


def _columns(col_names: Any, tools: tuple[str, ...]) -> tuple[str, ...] | None:
    """torchinfo's ``col_names`` (``("input_size", "num_params", "mult_adds")``), paramscope's
    column names or tool names -> the summary's columns; None (the defaults) when not given."""
    if col_names is None:
        return None
    from paramscope.render.summary import parse_columns

    names = [col_names] if isinstance(col_names, str) else list(col_names)
    return parse_columns(names, tools, option="summary(col_names=...)")


def _input_items(input_size: Any, input_data: Any, batch_dim: int | None, dtypes: Any) -> list | None:
    """torchinfo's input arguments -> analyze() inputs: a float tensor as its shape tuple, other
    dtypes and keyword tensors as ``--input`` strings (``ids:long=[1,128]``); None when neither
    is given (the target's default input)."""
    if input_size is not None and input_data is not None:
        raise ParamscopeError("summary(): give input_size or input_data, not both")
    if input_data is not None:
        named = _tensors(input_data)
    elif input_size is not None:
        named = [(None, shape, None) for shape in _shapes(input_size)]
    else:
        return None
    if dtypes is not None:
        dtypes = list(dtypes)
        if len(dtypes) != len(named):
            raise ParamscopeError(f"summary(): {len(dtypes)} dtypes for {len(named)} inputs")
        named = [(name, shape, _dtype_name(dt)) for (name, shape, _), dt in zip(named, dtypes)]
    items = []
    for name, shape, dtype in named:
        if batch_dim is not None:
            shape = (*shape[:batch_dim], 1, *shape[batch_dim:])
        items.append(_item(name, shape, dtype))
    return items


def _shapes(input_size: Any) -> list[tuple[int, ...]]:
    """One shape or a list of shapes (torchinfo's ``input_size``) -> a list of shapes."""
    iterable = hasattr(input_size, "__iter__") and not isinstance(input_size, (str, bytes, dict))
    seq = list(input_size) if iterable else None
    if not seq:
        raise ParamscopeError(f"summary(): input_size must be a shape or a list of shapes, got {input_size!r}")
    if all(isinstance(d, int) for d in seq):
        return [tuple(seq)]
    try:
        return [tuple(int(d) for d in shape) for shape in seq]
    except (TypeError, ValueError):
        raise ParamscopeError(f"summary(): input_size must be a shape or a list of shapes, "
                              f"got {input_size!r}") from None


def _tensors(input_data: Any) -> list[tuple[str | None, tuple[int, ...], str | None]]:
    """A tensor, a list/tuple of tensors or ``{name: tensor}`` -> (name, shape, dtype) each."""
    if isinstance(input_data, dict):
        pairs = list(input_data.items())
    elif isinstance(input_data, (list, tuple)):
        pairs = [(None, t) for t in input_data]
    else:
        pairs = [(None, input_data)]
    out = []
    for name, tensor in pairs:
        if not hasattr(tensor, "shape") or not hasattr(tensor, "dtype"):
            raise ParamscopeError(f"summary(): input_data must hold tensors, got {type(tensor).__name__}")
        out.append((name, tuple(int(d) for d in tensor.shape), _dtype_name(tensor.dtype)))
    return out


def _dtype_name(dtype: Any) -> str | None:
    """``torch.int64`` -> ``"int64"``; None for float32 (the default element type)."""
    from paramscope.tracing.input_spec import DTYPE_ALIASES

    name = str(dtype).removeprefix("torch.")
    if name not in DTYPE_ALIASES:
        raise ParamscopeError(f"summary(): unsupported input dtype {dtype}")
    name = DTYPE_ALIASES[name]
    return None if name == "float32" else name


def _item(name: str | None, shape: tuple[int, ...], dtype: str | None):
    """One input for analyze(): the shape tuple itself when plain, else an ``--input`` string."""
    if name is None and dtype is None:
        return tuple(shape)
    sizes = "[" + ",".join(str(d) for d in shape) + "]"
    qual = f":{dtype}" if dtype else ""
    return f"{name}{qual}={sizes}" if name else f"{dtype}:{sizes}"


def _ignored_notes(**given: Any) -> list[str]:
    """A note for each torchinfo argument that was given but has no paramscope counterpart."""
    reasons = {
        "col_width": "column widths follow the terminal (COLUMNS)",
        "row_settings": "rows are module groups at the given depth",
        "cache_forward_pass": "paramscope traces once per call on the meta device",
        "device": "paramscope analyses on the meta device (no memory, no compute)",
        "mode": "the forward is analysed in the model's own mode; for the cost of training use "
                "paramscope.analyze(..., mode='train')",
    }
    notes = []
    for key, value in given.items():
        if value is None or (key == "mode" and value in ("same", "eval")):
            continue
        notes.append(f"summary({key}={value!r}) accepted but not applied: {reasons[key]}")
    return notes
