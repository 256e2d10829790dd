"""``analyze``: a target or a model in, a Report out.  Returns data, never prints.

YAML targets are analysed from their spec with pure-Python shape inference (no
torch unless a measurer runs); factories and nn.Modules through one forward
pass on the meta device.  Measurers run on meta copies; the user's model is
never modified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from paramscope.errors import ParamscopeError, TargetError
from paramscope.formulas import cost_of
from paramscope.graph import Graph, Shape
from paramscope.reconciling.report import DTYPES, LayerRow, Report, activation_bytes

DEFAULT_MEASURERS = ("torchinfo", "fvcore", "flop_counter")
#: named explicitly only, never part of "all": they run the model for real (flop_counter_cpu:
#: FlopCounterMode on a CPU copy; time: not deterministic)
OPT_IN_MEASURERS = ("flop_counter_cpu", "time")


@dataclass
class Subject:
    """What is analysed: its graph, and how to get a meta-device model for the measurers."""

    label: str
    graph: Graph
    meta_model: Callable[[], Any]  # builds (or clones) the model on the meta device
    source: str  # "spec" | "module"
    extra_params: int = 0
    buffers: int = 0
    notes: list[str] = field(default_factory=list)  # copied into Report.notes
    device: str = "meta"  # where the graph was traced: "cpu" after a real-run fallback
    cpu_flops: int | None = None  # FlopCounterMode's FLOPs of that real CPU run
    depth: Callable[[], int] | None = None  # paramscope.tracing.depth's figure, computed on demand


def parse_measure(measure: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"torchinfo,fvcore"`` / ``["fvcore"]`` / ``"none"`` / ``"all"`` / ``"all,flop_counter_cpu"``
    -> tool names, validated."""
    from paramscope.errors import closest

    if measure is None or measure == "none" or measure == ():
        return ()
    if measure == "all":
        return DEFAULT_MEASURERS
    names = [m.strip() for m in (measure.split(",") if isinstance(measure, str) else measure)]
    names = [n for m in names for n in (DEFAULT_MEASURERS if m == "all" else (m,))]  # all,time
    for name in names:
        if name and name not in DEFAULT_MEASURERS + OPT_IN_MEASURERS:
            known = DEFAULT_MEASURERS + OPT_IN_MEASURERS
            raise ParamscopeError(f"--measure: unknown tool {name!r}{closest(name, known)}; "
                                  f"tools: {', '.join(known)}, all (= {','.join(DEFAULT_MEASURERS)}), none")
    return tuple(dict.fromkeys(n for n in names if n))


def subject_for(target: Any, input_shape: Shape | None = None, batch: int | None = None,
                overrides: dict[str, Any] | None = None, dtype: str | None = None, *,
                inputs: Any = None, mode: str = "prefill", context: int | None = None,
                budget: int | None = None) -> Subject:
    """Resolve a target string or an nn.Module into a Subject (graph + meta model).

    ``dtype`` None analyses a Python model in its own dtype (that of its floating-point
    tensors when they all share one, else float32) and a spec in float32; a dtype given
    casts a meta copy of the model to it (``subject.graph.dtype`` is the one used).

    ``inputs`` describes several / keyword / integer / list inputs (see
    :func:`paramscope.tracing.input_spec.request`); ``mode``/``context`` apply to ``hf:`` decoders;
    ``budget`` bounds the real CPU run of models that cannot run on meta (bytes).
    """
    check_dtype(dtype)
    if input_shape is not None and inputs is not None:
        raise ParamscopeError("give input_shape or inputs, not both")
    from paramscope.building.hf import MODES
    from paramscope.tracing.inputs import parse_choice

    parse_choice("--mode", mode, MODES)
    req = None
    if inputs is not None or (input_shape is None and batch is not None):
        from paramscope.tracing.input_spec import request
        req = request(inputs, batch)
    if isinstance(target, str):
        from paramscope.building.targets import parse_target

        t = parse_target(target)
        if t.kind == "hf":
            if input_shape is not None:  # exact, batch included: read like "[1,128]"
                from paramscope.tracing.input_spec import request
                req = request(tuple(input_shape), batch)
            return _hf_subject(t, req, overrides or {}, dtype, mode, context, budget)
        _decoder_only(mode, context)
        if t.kind == "spec":
            return _spec_subject(t, input_shape, batch, req, overrides or {}, dtype)
        return _factory_subject(t, input_shape, batch, overrides or {}, dtype, req, budget)
    _decoder_only(mode, context)
    return _module_subject(target, type(target).__name__, input_shape, batch, dtype, req, budget=budget)


def check_dtype(dtype: str | None) -> None:
    """A ParamscopeError unless ``dtype`` is one paramscope analyses in (None: the model's own)."""
    if dtype is not None and dtype not in DTYPES:
        raise ParamscopeError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")


def _decoder_only(mode: str, context: int | None) -> None:
    if mode != "prefill" or context is not None:
        raise ParamscopeError("--mode decode and --context apply to hf: decoder models only")


def with_batch(shape: Shape, batch: int | None) -> Shape:
    return shape if batch is None else (batch, *shape[1:])


def _spec_subject(t, input_shape, batch, req, overrides, dtype) -> Subject:
    from paramscope.api import load_document, resolve_spec
    from paramscope.spec.resolve import default_input

    doc = load_document(t)  # parsed once, resolved once, at the final input shape
    default = default_input(doc)
    if req is not None and req.items:
        if not req.plain:
            raise ParamscopeError(f"{t.text}: a YAML spec takes one input tensor (--input SIZES); names, "
                                  "dtypes, list inputs and several --input values are for Python models")
        from paramscope.tracing.inputs import parse_input
        input_shape = parse_input(req.items[0].sizes, default, batch)
    shape = input_shape or (with_batch(default, batch) if default else None)
    return resolved_subject(resolve_spec(doc, overrides, shape), dtype)


def resolved_subject(resolved, dtype: str | None = None) -> Subject:
    """The Subject of an already resolved spec (sweeps resolve one parsed document many times)."""
    from dataclasses import replace

    dtype = dtype or "float32"
    resolved.graph.dtype = dtype
    if any(n.dtype != dtype for n in resolved.graph.nodes):  # every output and parameter in --dtype
        resolved.graph.nodes = [replace(n, dtype=dtype, params={k: replace(p, dtype=dtype)
                                                                for k, p in n.params.items()})
                                for n in resolved.graph.nodes]

    def meta_model():  # inference, like the spec graph (BatchNorm counts depend on the mode)
        from paramscope.building.builder import module_from_resolved
        from paramscope.tracing.trace import torch_dtype
        return module_from_resolved(resolved, device="meta").eval().to(torch_dtype(dtype))

    def depth():
        from paramscope.tracing.depth import spec_depth
        return spec_depth(resolved.root)

    buffers = sum(b.numel for n in resolved.graph if n.counts_params for b in n.buffers.values())
    return Subject(resolved.name, resolved.graph, meta_model, "spec", buffers=buffers, depth=depth)


def _factory_subject(t, input_shape, batch, overrides, dtype, req=None, budget=None) -> Subject:
    from paramscope.building.targets import load_factory

    return factory_subject(load_factory(t), t.text, input_shape, batch, overrides, dtype, req, budget)


def factory_subject(factory, label, input_shape, batch, overrides, dtype, req=None, budget=None) -> Subject:
    """Call ``factory(**overrides)`` on the meta device (on the CPU, with a note, when it
    fails on meta but not on the CPU) and trace the model it returns."""
    from paramscope.building.builder import call_factory

    try:
        model = call_factory(factory, overrides, label, device="meta")
        notes = []
    except TargetError as meta_err:
        if not getattr(meta_err, "retry_on_cpu", False):
            raise
        model = call_factory(factory, overrides, label, device="cpu")  # its error, if it fails too
        notes = [f"built on the CPU: the factory fails on the meta device ({meta_err.message}); "
                 "the analysis itself still ran on a meta copy"]
    model.eval()  # paramscope's own instance: analysed for inference, like a spec
    rebuild = lambda: call_factory(factory, overrides, label, device="cpu")  # noqa: E731
    subject = _module_subject(model, label, input_shape, batch, dtype, req, rebuild, budget)
    subject.notes[:0] = notes
    return subject


def _hf_subject(t, req, overrides, dtype, mode, context, budget) -> Subject:
    """Trace without an attention mask first; a model whose mask code then needs tensor
    values (decoders) is traced again with an ``attention_mask`` input."""
    from paramscope.building import hf
    from paramscope.tracing.fallback import is_data_dependent

    if mode == "prefill" and context is not None:
        raise ParamscopeError("--context applies to --mode decode")
    config = hf.config_for(t.module, overrides, t.text)
    if mode == "decode":
        config.use_cache = True
    model = hf.build(t.module, t.attr, config, t.text)
    for mask in (False, True):
        expected = hf.expected_inputs(config, mask=mask)
        inputs = req.resolve(expected) if req is not None else expected
        ids = inputs.specs[0]
        if ids.dtype == "int64" and len(ids.shape) == 2:  # token ids: batch × positions
            hf.check_positions(config, ids.shape[1] if mode == "prefill" else (context or 0) + 1, t.text)
        try:
            if mode == "prefill":
                return _module_subject(model, t.text, inputs, None, dtype, budget=budget, fallback=mask)
            return _decode_subject(model, t.text, config, inputs, context, dtype, mask)
        except ParamscopeError as err:
            if not mask and is_data_dependent(err):
                continue
            if inputs.specs[0].dtype == "int64" and not inputs.specs[0].name and "forward pass" in err.message:
                err.message += ("; hf: models get token ids (int64, batch × tokens) by default: give other "
                                "inputs by name, e.g. --input pixel_values=1x3x224x224")
                err.args = (err.message,)
            raise
    raise AssertionError("unreachable")


def _decode_subject(model, label, config, inputs, context, dtype, mask) -> Subject:
    """One generated token with a KV cache of ``context``; the prefill's cost in a note."""
    from paramscope.building import hf

    step = hf.decode_inputs(config, inputs, context, mask)
    prefill = hf.expected_inputs(config, inputs.specs[0].shape[0], context, mask)
    before = report_for(_module_subject(model, label, prefill, None, dtype, fallback=False), dtype)
    subject = _module_subject(model, label, step, None, dtype, fallback=False)
    totals = before.totals
    subject.notes.append(f"decode: one generated token per sequence with a {step.note}; the prefill of "
                         f"the {context}-token context ({prefill.text()}) costs {totals['macs']:,} MACs, "
                         f"{totals['flops']:,} FLOPs")
    return subject


def _in_dtype(model, dtype: str | None):
    """``(model, dtype, 0)`` when ``dtype`` is None (the model's own: that of its floating-point
    tensors when they share one, else float32) or all its floating-point tensors are in it;
    else ``(meta copy cast to dtype, dtype, how many tensors were cast)``; the original is
    never modified."""
    from paramscope.building.materialize import meta_clone
    from paramscope.tracing.trace import torch_dtype

    tensors = [t for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()]
    if dtype is None:
        own = {str(t.dtype).removeprefix("torch.") for t in tensors}
        return model, own.pop() if len(own) == 1 and own <= set(DTYPES) else "float32", 0
    target = torch_dtype(dtype)
    cast = sum(t.dtype != target for t in tensors)
    return (meta_clone(model).to(target), dtype, cast) if cast else (model, dtype, 0)


def _module_subject(model, label, input_shape, batch, dtype, req=None, rebuild=None, budget=None,
                    fallback: bool = True) -> Subject:
    """Trace ``model`` on its inputs: a shape, an InputSet, or ``req`` read against the
    model's default inputs; a forward that stops on a value-dependent op runs once on the
    CPU instead (``fallback``; ``rebuild`` makes the real copy, see paramscope.tracing.fallback)."""
    from paramscope.tracing.forward import default_inputs
    from paramscope.tracing.input_spec import InputSet
    from paramscope.building.materialize import meta_clone
    from paramscope.tracing.trace import trace

    from paramscope.tracing.inputs import check_numel

    if isinstance(input_shape, InputSet):
        shape = input_shape
    elif input_shape is not None:
        shape = check_numel(with_batch(tuple(input_shape), batch))
    elif req is not None:
        shape = req.resolve(default_inputs(model))
    else:
        shape = tuple(default_inputs(model))
    if isinstance(shape, InputSet) and shape.plain:
        shape = tuple(shape)
    for spec in (shape.specs if isinstance(shape, InputSet) else ()):
        check_numel(tuple(spec.shape), f"--input {spec.name or ''}".rstrip())
    if not isinstance(shape, InputSet):
        check_numel(tuple(shape))
    hooks = sum(len(getattr(m, attr, ())) for m in model.modules()
                for attr in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks"))
    original, (model, dtype, cast) = model, _in_dtype(model, dtype)
    notes, device, cpu_flops = [], "meta", None
    try:
        graph = trace(model, shape, dtype=dtype)
    except ParamscopeError as err:
        from paramscope.tracing.fallback import is_data_dependent, run_on_cpu

        if not fallback or not is_data_dependent(err):
            raise
        graph, notes, cpu_flops = run_on_cpu(original, shape, dtype, budget or _default_budget(), err, rebuild)
        device = "cpu"
    if cast:
        notes.insert(0, f"analysed in {dtype}: a meta copy of the model with its {cast} floating-point "
                        f"parameters and buffers cast to {dtype} (as model.to(torch.{dtype}))")
    unowned = {name: sum(p.numel for p in infos.values() if not p.tied_to)
               for name, infos in graph.unowned_params().items()}
    buffers = sum(b.numel() for b in model.buffers())

    def depth():
        from paramscope.tracing.depth import module_depth
        return module_depth(meta_clone(model), shape, dtype)

    subject = Subject(label, graph, lambda: meta_clone(model), "module",
                      extra_params=sum(unowned.values()), buffers=buffers, notes=notes, device=device,
                      cpu_flops=cpu_flops, depth=depth)
    if hasattr(shape, "specs") and not shape.plain:
        subject.notes.insert(0, f"inputs: {shape.text()}")
    if hooks:
        subject.notes.append(f"the model has {hooks} hook(s) registered; they were not run "
                             "(paramscope analyses a hook-free meta copy, so figures are those "
                             "of the modules alone)")
    if graph.unused_params:
        names = ", ".join(f"{n} ({unowned.get(n, 0):,})" for n in graph.unused_params)
        subject.notes.append(f"unused modules (their forward never ran; their parameters are in "
                             f"the total): {names}")
    return subject


def _default_budget() -> int:
    from paramscope.measure.fvcore import FvcoreMeasurer

    return FvcoreMeasurer().budget_bytes


def analyze(target: Any, input_shape: Shape | None = None, *, batch: int | None = None,
            overrides: dict[str, Any] | None = None, measure: str | Iterable[str] | None = DEFAULT_MEASURERS,
            dtype: str | None = None, fvcore_budget: int | None = None, inputs: Any = None,
            mode: str = "infer", context: int | None = None, freeze: Iterable[str] = (),
            optimizer: str = "adamw", perf=None) -> Report:
    """Analyse a built-in name, YAML path, ``module:callable`` factory, ``hf:NAME`` or an nn.Module.

    ``input_shape`` includes the batch (``(1, 3, 224, 224)``); or ``inputs`` gives several,
    keyword, integer or list inputs: ``--input`` strings (``["image1=1x3x520x960",
    "image2=1x3x520x960"]``, ``"ids:long=1x128"``, ``"list:3x800x800"``), a list of shapes, or
    ``{name: shape}``.  ``measure`` names the tools to run (``"none"`` for formulas only);
    ``fvcore_budget`` (bytes) also bounds the real CPU run of models that cannot run on the
    meta device.  The model passed in is left untouched.

    ``dtype``: float32, float16, bfloat16 or float64, the model cast to it (a meta copy); None
    (the default) is the model's own (float32 for a spec).  ``mode``: ``"infer"`` (forward only, the default), ``"train"`` (adds the backward pass and
    training memory; ``freeze``: module-name prefixes whose parameters are frozen;
    ``optimizer``: sgd, momentum, adam, adamw, adagrad, rmsprop or none, see
    :mod:`paramscope.training`) or ``"decode"`` with ``context=N`` (one generated token of an
    ``hf:`` decoder with a KV cache of N; ``"prefill"`` is the same as ``"infer"``).
    """
    from paramscope.sandbox import global_hooks_suspended, user_code
    from paramscope.training.analysis import analyze_train, check_mode, split_memtracker

    label = target if isinstance(target, str) else type(target).__name__
    hook_notes: list[str] = []
    if check_mode(mode) == "train":
        if inputs is not None:
            raise ParamscopeError("--mode train takes one plain --input (several, keyword or typed "
                                  "inputs are analysed for inference)")
        measure, memtracker = split_memtracker(measure)
        if "flop_counter_cpu" in parse_measure(measure):
            raise ParamscopeError("--measure flop_counter_cpu counts an inference forward pass; "
                                  "it does not run with --mode train")
        with user_code(label) as captured, global_hooks_suspended(hook_notes):
            report = analyze_train(target, input_shape, batch=batch, overrides=overrides,
                                   tools=parse_measure(measure), dtype=dtype,
                                   fvcore_budget=fvcore_budget, freeze=freeze,
                                   optimizer=optimizer, memtracker=memtracker)
        report.notes.extend(hook_notes + captured.notes())
        return report
    tools = parse_measure(measure)
    if freeze:
        raise ParamscopeError("--freeze applies to --mode train only")
    with user_code(label) as captured, global_hooks_suspended(hook_notes):
        subject = subject_for(target, input_shape, batch, overrides, dtype, inputs=inputs,
                              mode="decode" if mode == "decode" else "prefill", context=context,
                              budget=fvcore_budget)  # factories, forward passes
        report = report_for(subject, dtype, tools, fvcore_budget, perf)  # tools' imports and runs
    report.notes.extend(hook_notes + captured.notes())
    return report


def report_for(subject: Subject, dtype: str | None = None, tools: tuple[str, ...] = (),
               fvcore_budget: int | None = None, perf=None) -> Report:
    """Apply the formulas to every layer call of ``subject`` and run ``tools`` on it;
    ``perf`` (a :class:`paramscope.perf.PerfOptions`) adds time, roofline, receptive fields.
    ``dtype`` None: the subject's own (``subject.graph.dtype``)."""
    dtype = dtype or subject.graph.dtype
    rows = [LayerRow(node, cost_of(node), activation_bytes(node, dtype)) for node in subject.graph]
    report = Report(subject.label, subject.graph.input_shape, dtype, subject.source, rows,
                    extra_params=subject.extra_params, buffers=subject.buffers,
                    modules=dict(subject.graph.modules), depth_pass=subject.depth,
                    extra_by_module={name: sum(p.numel for p in infos.values() if not p.tied_to)
                                     for name, infos in subject.graph.unowned_params().items()})
    report.notes.extend(subject.notes)
    container = sum(p.numel for infos in subject.graph.container_params.values()
                    for p in infos.values() if not p.tied_to)
    if container:
        report.notes.append(f"{container:,} parameters belong to container modules "
                            f"({', '.join(subject.graph.container_params)}); counted in the total")
    report.unrecorded_ops = dict(subject.graph.unrecorded_ops)
    for gap in report.gaps:
        report.notes.append(f"{gap}: its MACs/FLOPs are not in the totals (they are lower bounds)")
    counting = tuple(t for t in tools if t != "time")
    if counting and subject.device != "meta":
        from paramscope.tracing.fallback import flop_counter_result
        from paramscope.reconciling.report import MeasurerResult

        skipped = ("not run: it runs on the meta device (fvcore on a zero-filled copy), where this "
                   "model's forward cannot proceed; FlopCounterMode measured the real CPU run")
        cpu_note = "not run: FlopCounterMode counted the real CPU run itself (see flop_counter)"
        for tool in counting:
            report.measurers[tool] = (flop_counter_result(subject.graph, subject.cpu_flops)
                                      if tool == "flop_counter" else MeasurerResult(
                                          tool, "", "skipped", note=cpu_note if tool == "flop_counter_cpu" else skipped))
    elif counting:
        from paramscope.reconciling.run import run_measurers

        run_measurers(report, subject, counting, fvcore_budget=fvcore_budget)
    if "time" in tools or perf is not None:
        from dataclasses import replace

        from paramscope.perf import PerfOptions, add_perf

        perf = perf or PerfOptions()
        add_perf(report, subject, replace(perf, time=perf.time or "time" in tools))
    return report
