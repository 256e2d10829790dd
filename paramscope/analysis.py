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
#: named explicitly only, never part of "all" (real runs: not deterministic)
OPT_IN_MEASURERS = ("time",)


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
        if name and name not in DEFAULT_MEASURERS + OPT_IN_MEASURERS:
            known = DEFAULT_MEASURERS + OPT_IN_MEASURERS
            raise ParamscopeError(f"--measure: unknown tool {name!r}{closest(name, known)}; "
                                  f"tools: {', '.join(known)}, all (= {','.join(DEFAULT_MEASURERS)}), none")
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

    shape = _with_batch(input_shape or (1, 3, 224, 224), batch)
    graph = trace(model, shape, dtype=dtype)
    total_params = sum(p.numel() for p in model.parameters())
    leaf_params = sum(i.numel for n in graph if n.counts_params for i in n.params.values())
    buffers = sum(b.numel() for b in model.buffers())
    return Subject(label, graph, lambda: meta_clone(model), "module",
                   extra_params=total_params - leaf_params, buffers=buffers)


def analyze(target: Any, input_shape: Shape | None = None, *, batch: int | None = None,
            overrides: dict[str, Any] | None = None, measure: str | Iterable[str] | None = DEFAULT_MEASURERS,
            dtype: str = "float32", fvcore_budget: int | None = None, perf=None) -> Report:
    """Analyse a built-in name, YAML path, ``module:callable`` factory or an nn.Module.

    ``input_shape`` includes the batch (``(1, 3, 224, 224)``); ``measure`` names the
    tools to run (``"none"`` for formulas only).  The model passed in is left untouched.
    """
    tools = parse_measure(measure)
    subject = subject_for(target, input_shape, batch, overrides, dtype)
    return report_for(subject, dtype, tools, fvcore_budget, perf)


def report_for(subject: Subject, dtype: str = "float32", tools: tuple[str, ...] = (),
               fvcore_budget: int | None = None, perf=None) -> Report:
    """Apply the formulas to every layer call of ``subject`` and run ``tools`` on it;
    ``perf`` (a :class:`paramscope.perf.PerfOptions`) adds time, roofline, receptive fields."""
    rows = [LayerRow(node, cost_of(node), activation_bytes(node, dtype)) for node in subject.graph]
    report = Report(subject.label, subject.graph.input_shape, dtype, subject.source, rows,
                    extra_params=subject.extra_params, buffers=subject.buffers,
                    modules=dict(subject.graph.modules))
    report.notes.extend(subject.notes)
    if subject.extra_params:
        report.notes.append(f"{subject.extra_params:,} parameters belong to container modules "
                            "(no leaf layer owns them); counted in the total")
    for kind in report.unsupported:
        report.notes.append(f"no formula for {kind}: its MACs/FLOPs are not in the totals")
    report.unrecorded_ops = dict(subject.graph.unrecorded_ops)
    for key, n in report.unrecorded_ops.items():
        report.notes.append(f"functional op {key} ran {n}× with no formula (not in the totals)")
    counting = tuple(t for t in tools if t not in OPT_IN_MEASURERS)
    if counting:
        from paramscope.measure.run import run_measurers

        run_measurers(report, subject, counting, fvcore_budget=fvcore_budget)
    if "time" in tools or perf is not None:
        from dataclasses import replace

        from paramscope.perf import PerfOptions, add_perf

        perf = perf or PerfOptions()
        add_perf(report, subject, replace(perf, time=perf.time or "time" in tools))
    return report
