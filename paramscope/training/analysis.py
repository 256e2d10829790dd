"""``analyze(..., mode="train")``: forward + backward cost, per layer, and training memory.

The graph is traced with autograd on and the freeze applied on the meta clone (a spec's
from its structure, no torch); every layer gets its backward cost from
:func:`~paramscope.formulas.backward.backward_of`; FlopCounterMode is run over forward
and backward; the training memory of one optimizer step is derived by category.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from paramscope.errors import ParamscopeError, closest
from paramscope.formulas.backward import Backward, backward_of
from paramscope.reconciling.report import Report

MODES = ("infer", "train", "decode", "prefill")  # prefill: infer on an hf: decoder


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ParamscopeError(f"--mode must be infer, train or decode (hf: decoders), got "
                              f"{mode!r}{closest(mode, MODES)}")
    return mode


@dataclass(repr=False)  # Report's short repr
class TrainReport(Report):
    """A Report with every layer's backward cost and the training memory."""

    backward: list[Backward] = field(default_factory=list)  # parallel to ``layers``
    freeze: tuple[str, ...] = ()
    optimizer: str = "adamw"
    memory: Any = None  # paramscope.training.memory.TrainingMemory

    @property
    def totals(self) -> dict[str, Any]:
        totals = dict(super().totals)
        totals["backward_macs"] = sum(b.macs or 0 for b in self.backward)
        totals["backward_flops"] = sum(b.flops or 0 for b in self.backward)
        if self.memory is not None:
            totals["training_memory"] = self.memory.totals()
        return totals

    @property
    def unsupported(self) -> list[str]:
        forward = set(super().unsupported)
        return sorted(forward | {b.kind for b in self.backward if b.status == "unsupported"})

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["mode"] = "train"
        data["freeze"] = list(self.freeze)
        data["optimizer"] = self.optimizer
        saved = self.memory.per_layer if self.memory is not None else [(None, "")] * len(self.backward)
        for row, back, (nbytes, what) in zip(data["layers"], self.backward, saved):
            row["backward"] = {**back.to_dict(), "saved_bytes": nbytes, "saved": what}
        if self.memory is not None:
            data["training_memory"] = self.memory.to_dict()
        return data


def train_subject(target: Any, input_shape=None, batch=None, overrides=None, dtype: str | None = None,
                  freeze: Iterable[str] = ()):
    """The Subject of a training analysis: parameters under ``freeze`` frozen, every node's
    ``requires_grad`` filled (traced with autograd on, or derived from the spec)."""
    from paramscope.analysis import with_batch, resolved_subject, subject_for
    from paramscope.training.freeze import freeze_graph, freeze_model

    freeze = tuple(freeze)
    spec = None
    if isinstance(target, str):
        from paramscope.building.targets import parse_target

        t = parse_target(target)
        if t.kind == "spec":
            from paramscope.api import load_document, resolve_spec
            from paramscope.spec.resolve import default_input

            doc = load_document(t)
            default = default_input(doc)
            shape = input_shape or (with_batch(default, batch) if default else None)
            spec = resolve_spec(doc, overrides or {}, shape)
    if spec is not None:
        from paramscope.training.grad_flow import spec_grad_graph

        subject = resolved_subject(spec, dtype)
        freeze_graph(subject.graph, freeze, subject.label)
        spec_grad_graph(spec, subject.graph)
    else:
        from paramscope.tracing.trace import trace

        subject = subject_for(target, input_shape, batch, overrides, dtype)
        work = freeze_model(subject.meta_model(), freeze, subject.label)
        subject.graph = trace(work, subject.graph.input_shape, subject.graph.dtype, grad=True)
    build = subject.meta_model
    subject.meta_model = lambda: freeze_model(build(), freeze, subject.label)
    return subject


def split_memtracker(measure) -> tuple[Any, bool]:
    """``(measure without "memtracker", run MemTracker?)``: training mode's extra tool runs
    with ``all`` or when named (``"flop_counter,memtracker"``)."""
    if measure == "all":
        return measure, True
    if measure is None or measure == "none":
        return measure, False
    names = [m.strip() for m in (measure.split(",") if isinstance(measure, str) else measure)]
    rest = [n for n in names if n != "memtracker"]
    return (rest or "none"), len(rest) != len(names)


def train_report(subject, dtype: str | None = None, tools: tuple[str, ...] = (),
                 fvcore_budget: int | None = None, freeze: Iterable[str] = (),
                 optimizer: str = "adamw", memtracker: bool = False) -> TrainReport:
    """The training Report of ``subject`` (from :func:`train_subject`)."""
    from paramscope.analysis import report_for
    from paramscope.training.memory import check_optimizer, training_memory

    check_optimizer(optimizer)
    base = report_for(subject, dtype)  # forward figures and notes, no tools yet
    report = TrainReport(**{k: getattr(base, k) for k in base.__dataclass_fields__})
    report.backward = [backward_of(row.node) for row in report.layers]
    report.freeze, report.optimizer = tuple(freeze), optimizer
    report.memory = training_memory(subject.graph, report, optimizer)
    if memtracker:
        from paramscope.training.memtrack import reconcile_memory

        report.measurers["memtracker"] = reconcile_memory(subject, report.memory, report.dtype)
    for kind in sorted({b.kind for b in report.backward if b.status == "unsupported"}):
        if kind not in base.unsupported:
            report.notes.append(f"no backward formula for {kind}: not in backward totals")
    if tools:
        from paramscope.reconciling.run import run_measurers
        from paramscope.training.flop_counter import TrainFlopCounterMeasurer

        run_measurers(report, subject, tools, fvcore_budget=fvcore_budget,
                      classes={"flop_counter": TrainFlopCounterMeasurer})
    return report


def analyze_train(target: Any, input_shape=None, *, batch=None, overrides=None, tools=(),
                  dtype: str | None = None, fvcore_budget=None, freeze: Iterable[str] = (),
                  optimizer: str = "adamw", memtracker: bool = False) -> TrainReport:
    """Training analysis of a target (see :func:`paramscope.analysis.analyze`)."""
    from paramscope.training.memory import check_optimizer

    check_optimizer(optimizer)
    subject = train_subject(target, input_shape, batch, overrides, dtype, freeze)
    return train_report(subject, dtype, tools, fvcore_budget, freeze, optimizer, memtracker)


def train_point_analyser(target: str, dtype: str, freeze: tuple[str, ...], optimizer: str,
                         memtracker: bool = False):
    """A sweep's per-point analyser in training mode (``analyse(overrides, shape, tools, budget)``)."""
    from paramscope.training.memory import check_optimizer

    check_optimizer(optimizer)

    def analyse(overrides, shape, tools, fvcore_budget):
        return analyze_train(target, shape, overrides=overrides, tools=tools, dtype=dtype,
                             fvcore_budget=fvcore_budget, freeze=freeze, optimizer=optimizer,
                             memtracker=memtracker)

    return analyse
