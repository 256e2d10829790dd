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
from paramscope.report import DTYPES, LayerRow, Report, activation_bytes

DEFAULT_MEASURERS = ("torchinfo", "fvcore", "flop_counter")


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


def parse_measure(measure: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"torchinfo,fvcore"`` / ``["fvcore"]`` / ``"none"`` / ``"all"`` -> tool names, validated."""
    from paramscope.errors import closest

    if measure is None or measure == "none" or measure == ():
        return ()
    if measure == "all":
        return DEFAULT_MEASURERS
    names = [m.strip() for m in (measure.split(",") if isinstance(measure, str) else measure)]
    for name in names:
        if name not in DEFAULT_MEASURERS:
            raise ParamscopeError(f"--measure: unknown tool {name!r}{closest(name, DEFAULT_MEASURERS)}; "
                                  f"tools: {', '.join(DEFAULT_MEASURERS)}, all, none")
    return tuple(dict.fromkeys(n for n in names if n))


def subject_for(target: Any, input_shape: Shape | None = None, batch: int | None = None,
                overrides: dict[str, Any] | None = None, dtype: str = "float32") -> Subject:
    """Resolve a target string or an nn.Module into a Subject (graph + meta model)."""
    if dtype not in DTYPES:
        raise ParamscopeError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if isinstance(target, str):
        from paramscope.targets import parse_target

        t = parse_target(target)
        if t.kind == "spec":
            return _spec_subject(t, input_shape, batch, overrides or {}, dtype)
        return _factory_subject(t, input_shape, batch, overrides or {}, dtype)
    return _module_subject(target, type(target).__name__, input_shape, batch, dtype)


def _with_batch(shape: Shape, batch: int | None) -> Shape:
    return shape if batch is None else (batch, *shape[1:])


def _spec_subject(t, input_shape, batch, overrides, dtype) -> Subject:
    from paramscope.api import load_document, resolve_spec
    from paramscope.spec.resolve import default_input

    doc = load_document(t)  # parsed once, resolved once, at the final input shape
    default = default_input(doc)
    shape = input_shape or (_with_batch(default, batch) if default else None)
    return resolved_subject(resolve_spec(doc, overrides, shape), dtype)


def resolved_subject(resolved, dtype: str = "float32") -> Subject:
    """The Subject of an already resolved spec (sweeps resolve one parsed document many times)."""
    resolved.graph.dtype = dtype

    def meta_model():  # inference, like the spec graph (BatchNorm counts depend on the mode)
        from paramscope.builder import module_from_resolved
        return module_from_resolved(resolved, device="meta").eval()

    buffers = sum(b.numel for n in resolved.graph if n.counts_params for b in n.buffers.values())
    return Subject(resolved.name, resolved.graph, meta_model, "spec", buffers=buffers)


def _factory_subject(t, input_shape, batch, overrides, dtype) -> Subject:
    from paramscope.targets import load_factory

    return factory_subject(load_factory(t), t.text, input_shape, batch, overrides, dtype)


def factory_subject(factory, label, input_shape, batch, overrides, dtype) -> Subject:
    """Call ``factory(**overrides)`` on the meta device (on the CPU, with a note, when it
    fails on meta but not on the CPU) and trace the model it returns."""
    from paramscope.builder import call_factory

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
    subject = _module_subject(model, label, input_shape, batch, dtype)
    subject.notes.extend(notes)
    return subject


def _module_subject(model, label, input_shape, batch, dtype) -> Subject:
    from paramscope.materialize import meta_clone
    from paramscope.trace import trace

    from paramscope.inputs import check_numel

    shape = check_numel(_with_batch(input_shape or (1, 3, 224, 224), batch))
    hooks = sum(len(getattr(m, attr, ())) for m in model.modules()
                for attr in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks"))
    graph = trace(model, shape, dtype=dtype)
    unowned = {name: sum(p.numel for p in infos.values() if not p.tied_to)
               for name, infos in graph.unowned_params().items()}
    buffers = sum(b.numel() for b in model.buffers())
    subject = Subject(label, graph, lambda: meta_clone(model), "module",
                      extra_params=sum(unowned.values()), buffers=buffers)
    if hooks:
        subject.notes.append(f"the model has {hooks} hook(s) registered; they were not run "
                             "(paramscope analyses a hook-free meta copy, so figures are those "
                             "of the modules alone)")
    if graph.unused_params:
        names = ", ".join(f"{n} ({unowned.get(n, 0):,})" for n in graph.unused_params)
        subject.notes.append(f"unused modules (their forward never ran; their parameters are in "
                             f"the total): {names}")
    return subject


def analyze(target: Any, input_shape: Shape | None = None, *, batch: int | None = None,
            overrides: dict[str, Any] | None = None, measure: str | Iterable[str] | None = DEFAULT_MEASURERS,
            dtype: str = "float32", fvcore_budget: int | None = None, mode: str = "infer",
            freeze: Iterable[str] = (), optimizer: str = "adamw") -> Report:
    """Analyse a built-in name, YAML path, ``module:callable`` factory or an nn.Module.

    ``input_shape`` includes the batch (``(1, 3, 224, 224)``); ``measure`` names the
    tools to run (``"none"`` for formulas only).  The model passed in is left untouched.
    ``mode="train"`` adds the backward pass and training memory (``freeze``: module-name
    prefixes whose parameters are frozen; ``optimizer``: sgd, momentum, adam, adamw,
    adagrad, rmsprop or none), see :mod:`paramscope.training`.
    """
    from paramscope.sandbox import global_hooks_suspended, user_code
    from paramscope.training.analysis import analyze_train, check_mode, split_memtracker

    label = target if isinstance(target, str) else type(target).__name__
    hook_notes: list[str] = []
    if check_mode(mode) == "train":
        measure, memtracker = split_memtracker(measure)
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
        subject = subject_for(target, input_shape, batch, overrides, dtype)  # factories, forward passes
        report = report_for(subject, dtype, tools, fvcore_budget)  # tools' imports and runs
    report.notes.extend(hook_notes + captured.notes())
    return report


def report_for(subject: Subject, dtype: str = "float32", tools: tuple[str, ...] = (),
               fvcore_budget: int | None = None) -> Report:
    """Apply the formulas to every layer call of ``subject`` and run ``tools`` on it."""
    rows = [LayerRow(node, cost_of(node), activation_bytes(node, dtype)) for node in subject.graph]
    report = Report(subject.label, subject.graph.input_shape, dtype, subject.source, rows,
                    extra_params=subject.extra_params, buffers=subject.buffers,
                    modules=dict(subject.graph.modules))
    report.notes.extend(subject.notes)
    container = sum(p.numel for infos in subject.graph.container_params.values()
                    for p in infos.values() if not p.tied_to)
    if container:
        report.notes.append(f"{container:,} parameters belong to container modules "
                            f"({', '.join(subject.graph.container_params)}); counted in the total")
    report.unrecorded_ops = dict(subject.graph.unrecorded_ops)
    for gap in report.gaps:
        report.notes.append(f"{gap}: its MACs/FLOPs are not in the totals (they are lower bounds)")
    if tools:
        from paramscope.measure.run import run_measurers

        run_measurers(report, subject, tools, fvcore_budget=fvcore_budget)
    return report
