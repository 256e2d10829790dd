"""Beyond counting: bytes, arithmetic intensity, roofline, receptive fields and measured time.

``add_perf(report, subject, PerfOptions(...))`` fills ``LayerRow.perf`` (the JSON fields
``bytes``, ``intensity``, ``roofline_time``, ``bound``, ``receptive_field``, ``time``,
``achieved_flops_per_s``, ``time_share``) and ``Report.perf`` (settings, device figures and
totals).  Bytes and intensity are formulas (:mod:`paramscope.perf.roofline`); receptive fields
come from a meta-device pass (:mod:`paramscope.perf.receptive`); time from real passes
(:mod:`paramscope.measure.timing`, opt-in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from paramscope.errors import ParamscopeError

#: the per-layer coverage of the whole-model time beyond which a note says the timing is noisy
COVERAGE_TOLERANCE = 0.15


@dataclass
class PerfOptions:
    """What to add beyond the counts."""

    receptive_field: bool = False
    device_spec: str | None = None  # a100 | h100 | h200 | cpu | PEAK_TFLOPS,GBPS
    time: bool = False
    device: str = "cpu"
    warmup: int = 3
    repeats: int = 10
    threads: int | None = None
    budget_bytes: int | None = None
    clock: str = "wall"  # or "cpu": process CPU time (a shared machine)
    progress: Callable[[str], None] | None = None  # told "timing pass 3/10" (the CLI's spinner)

    @property
    def wanted(self) -> bool:
        return bool(self.receptive_field or self.device_spec or self.time)


def add_perf(report, subject, options: PerfOptions) -> None:
    """Add the figures ``options`` asks for to ``report`` (rows and totals)."""
    from paramscope.perf.roofline import device_spec, roof, traffic

    dtype = report.dtype
    if options.threads is not None:  # before a cpu calibration, so the roofline uses the same threads
        if options.threads < 1:
            raise ParamscopeError(f"--threads must be >= 1, got {options.threads}")
        import torch
        torch.set_num_threads(options.threads)
    spec = device_spec(options.device_spec, dtype) if options.device_spec else None
    totals: dict[str, Any] = {}
    report.perf["totals"] = totals
    model_cache: list = []

    def meta_model():
        if not model_cache:
            model_cache.append(subject.meta_model())
        return model_cache[0]

    total_bytes, time_by_bound = 0, {"compute": 0.0, "memory": 0.0}
    roof_total: float | None = 0.0
    for row in report.layers:
        tr = traffic(row.node, dtype)
        r = roof(row.cost.flops, tr.bytes, spec, dtype)
        total_bytes += tr.bytes
        row.perf.update(bytes=tr.bytes, intensity=r.intensity)
        if spec is not None:
            row.perf.update(roofline_time=r.time, bound=r.bound)
            if r.time is None:
                roof_total = None
            elif roof_total is not None:
                roof_total += r.time
                time_by_bound[r.bound] += r.time
    flops = report.totals["flops"]
    totals.update(bytes=total_bytes, intensity=flops / total_bytes if total_bytes else None)
    if spec is not None:
        report.perf["device_spec"] = spec.to_dict(dtype)
        bound = None if roof_total is None else max(time_by_bound, key=time_by_bound.get)
        totals.update(roofline_time=roof_total, bound=bound)
        report.perf["roofline_time_by_bound"] = time_by_bound
        if roof_total is None:
            report.notes.append("roofline: some layer has no FLOPs formula, so the total roofline time is unknown")
    if options.receptive_field:
        try:
            _add_receptive_fields(report, meta_model)
            totals["receptive_field"] = report.perf["receptive_field"]["output"]
        except ParamscopeError:
            raise
        except Exception as err:  # a model the meta pass cannot run: say so, keep the rest
            report.perf["receptive_field"] = {"failed": f"{type(err).__name__}: {err}"}
            report.notes.append(f"receptive field: the meta-device pass failed: {type(err).__name__}: {err}")
    if options.time:
        try:
            _add_time(report, meta_model, options)
        except ParamscopeError:
            raise
        except Exception as err:  # the real run failed (an input the model cannot take ...)
            report.perf["time"] = {"status": "failed", "note": f"{type(err).__name__}: {err}"}
            report.notes.append(f"time: failed: {type(err).__name__}: {' '.join(str(err).split())[:300]}")


def _add_receptive_fields(report, meta_model) -> None:
    from paramscope.perf.receptive import ReceptiveField, receptive_fields

    rf = receptive_fields(meta_model(), report.input_shape, report.dtype)
    missing = ReceptiveField(unknown="this call was not seen by the pass") if rf.axes else ReceptiveField()
    if not rf.axes:
        report.notes.append("receptive field: the input has no spatial axes (dims after N, C)")
    for row in report.layers:
        field = rf.layers.get(row.node.key, missing)
        row.perf["receptive_field"] = field.to_dict()
    report.perf["receptive_field"] = {"input_axes": rf.axes, "output": rf.output.to_dict(),
                                      "unknown_ops": rf.unknown_ops}
    if any(row.node.training and "BatchNorm" in row.node.kind for row in report.layers):
        report.notes.append("receptive field: the model is in training mode, where BatchNorm normalises with "
                            "batch statistics, so every output depends on every position (global); call "
                            ".eval() for inference receptive fields")
    for op, n in rf.unknown_ops.items():
        report.notes.append(f"receptive field: {op} ran {n}× with no rule; layers after it show '?'")


def _add_time(report, meta_model, options: PerfOptions) -> None:
    from paramscope.measure import OPT_IN_MEASURERS

    t = report.totals
    measurer = OPT_IN_MEASURERS["time"](device=options.device, warmup=options.warmup, repeats=options.repeats,
                                        threads=options.threads, budget_bytes=options.budget_bytes,
                                        clock=options.clock)
    timing = measurer.measure(meta_model(), report.input_shape, report.dtype,
                              need_bytes=t["param_bytes"] + t["activation_bytes"] + t["input_bytes"],
                              owners={r.node.name for r in report.layers if r.node.is_functional},
                              progress=options.progress)
    report.perf["time"] = timing.to_dict()
    if timing.status != "ok":
        report.notes.append(f"time: {timing.status}: {timing.note}")
        return
    whole = timing.total.median
    for row in report.layers:
        stat = timing.layers.get(row.node.key)
        if stat is None:
            continue
        row.perf["time"] = stat.to_dict()
        row.perf["time_share"] = stat.median / whole
        row.perf["achieved_flops_per_s"] = row.cost.flops / stat.median if row.cost.flops and stat.median else None
    report.perf["totals"].update(time=timing.total.to_dict(),
                                 achieved_flops_per_s=t["flops"] / whole if whole else None)
    cov = timing.coverage
    if abs(timing.layer_sum / whole - 1) > COVERAGE_TOLERANCE:
        report.notes.append(f"time: the per-layer medians sum to {timing.layer_sum * 1e3:.2f} ms, "
                            f"{timing.layer_sum / whole:.0%} of the whole-model median {whole * 1e3:.2f} ms "
                            f"(within each pass the layers cover {cov.low:.0%}..{cov.high:.0%}); the machine was "
                            "busy or the passes are short: raise --repeats, or use --threads 1 --clock cpu")
