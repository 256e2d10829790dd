"""The ``time`` measurer: real forward passes, timed per layer call and in total.

Opt-in (``--measure time`` or ``paramscope profile``): it runs the model on real tensors
(zero-filled parameters, BatchNorm variance 1, zero input) on the CPU, or on CUDA when asked.
After ``warmup`` untimed passes, each of ``repeats`` rounds times one bare forward pass (the
whole-model time) and one pass with per-layer timers (leaf-module hooks and the functional
ops the trace records, keyed like the report's rows).  The statistic is the median over
the rounds, with the spread as the minimum and maximum; the thread count and device are
recorded.  Like fvcore it runs only when the predicted memory (params + activations +
input) fits a budget (2 GB by default; ``--time-budget`` or ``PARAMSCOPE_TIME_BUDGET``).
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from paramscope.errors import ParamscopeError

DEFAULT_BUDGET = 2 * 10 ** 9
#: ``wall``: elapsed time (what a user waits); ``cpu``: CPU time of this process, every
#: thread summed -- immune to other processes sharing the cores (use with one thread).
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
BUDGET_ENV = "PARAMSCOPE_TIME_BUDGET"


@dataclass(frozen=True)
class Stat:
    """Median and spread (min, max) of one quantity over the rounds, in seconds."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> "Stat":
        return cls(statistics.median(values), min(values), max(values))

    def to_dict(self) -> dict[str, float]:
        return {"median_s": self.median, "min_s": self.low, "max_s": self.high}


@dataclass
class Timing:
    """What the time measurer measured: per row key and in total."""

    status: str = "ok"  # "ok" | "skipped" | "failed"
    note: str = ""
    device: str = "cpu"
    clock: str = "wall"  # "wall" (perf_counter) | "cpu" (process CPU time, all threads summed)
    threads: int = 0
    warmup: int = 0
    repeats: int = 0
    total: Stat | None = None  # bare forward pass (no timers)
    hooked_total: Stat | None = None  # the pass with per-layer timers
    layers: dict[str, Stat] = field(default_factory=dict)
    #: per timed pass: (sum of that pass's layer times, that pass's total)
    passes: list[tuple[float, float]] = field(default_factory=list)

    @property
    def layer_sum(self) -> float:
        """Sum of the per-layer medians."""
        return sum(s.median for s in self.layers.values())

    @property
    def coverage(self) -> Stat | None:
        """Per timed pass, the share of its time its layers account for (median, min, max)."""
        return Stat.of([inside / total for inside, total in self.passes]) if self.passes else None

    @property
    def overhead(self) -> float | None:
        """Timed pass / bare pass − 1 (the timers' cost)."""
        if not self.total or not self.hooked_total:
            return None
        return self.hooked_total.median / self.total.median - 1

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"status": self.status, "note": self.note, "device": self.device, "clock": self.clock,
                             "threads": self.threads, "warmup": self.warmup, "repeats": self.repeats,
                             "statistic": "median over repeats; spread = min..max"}
        if self.total:
            cov = self.coverage
            d.update(total=self.total.to_dict(), timed_pass=self.hooked_total.to_dict(),
                     layer_sum_s=self.layer_sum, timer_overhead=self.overhead,
                     layer_coverage={"median": cov.median, "min": cov.low, "max": cov.high})
        return d


def _size(nbytes: int) -> str:
    return f"{nbytes / 1e9:,.2f} GB" if nbytes >= 10 ** 8 else f"{nbytes / 1e6:,.3f} MB"


def _sync(device: str) -> Callable[[], None]:
    if device.startswith("cuda"):
        import torch
        return torch.cuda.synchronize
    return lambda: None


def real_model(meta_model, device: str = "cpu"):
    """A real copy of a meta model on ``device``: zero parameters, BatchNorm variance 1."""
    import torch

    from paramscope.building.materialize import materialize

    model = materialize(meta_model, device)
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith("running_var"):
                buf.fill_(1)
    return model.eval()


def check_device(device: str) -> str:
    import torch

    if device == "cpu":
        return device
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ParamscopeError(f"--device {device}: CUDA is not available on this machine")
        return device
    raise ParamscopeError(f"--device expects cpu or cuda[:N], got {device!r}")


def time_model(meta_model, input_shape, dtype: str = "float32", *, device: str = "cpu", warmup: int = 3,
               repeats: int = 10, threads: int | None = None, owners: set[str] | None = None, clock: str = "wall", need_bytes: int | None = None, budget_bytes: int | None = None,
               progress: Callable[[str], None] | None = None) -> Timing:
    """Time ``meta_model`` (a meta-device module; never the user's) on real tensors.

    ``owners``: names of the modules whose functional ops (residual adds ...) are rows of
    the report; with it only those and the leaves carry timers (see RowKeys)."""
    import torch

    from paramscope.tracing.rowkeys import RowKeys
    from paramscope.tracing.trace import example_input

    if warmup < 0 or repeats < 1:
        raise ParamscopeError(f"--warmup must be >= 0 and --repeats >= 1, got {warmup} and {repeats}")
    device = check_device(device)
    if clock not in CLOCKS:
        raise ParamscopeError(f"--clock expects {' or '.join(CLOCKS)}, got {clock!r}")
    if clock == "cpu" and device != "cpu":
        raise ParamscopeError("--clock cpu measures CPU time: use it with --device cpu")
    if threads is not None:
        if threads < 1:
            raise ParamscopeError(f"--threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
    timing = Timing(device=device, clock=clock, threads=torch.get_num_threads(), warmup=warmup, repeats=repeats)
    if budget_bytes is None:
        from paramscope.tracing.inputs import parse_bytes

        raw = os.environ.get(BUDGET_ENV)
        budget_bytes = DEFAULT_BUDGET if raw is None else parse_bytes(raw, BUDGET_ENV)
    if need_bytes is not None and need_bytes > budget_bytes:
        timing.status = "skipped"
        timing.note = (f"needs ~{_size(need_bytes)} (params + activations + input), over the budget "
                       f"of {_size(budget_bytes)}; force it with --time-budget "
                       f"{max(1, int(need_bytes / 1e9 + 1))}GB or {BUDGET_ENV}")
        return timing
    progress = progress or (lambda _text: None)
    model = real_model(meta_model, device)
    x = example_input(tuple(input_shape), dtype, device=device)
    sync = _sync(device)
    clock = CLOCKS[clock]
    starts: dict[str, float] = {}
    samples: dict[str, list[float]] = {}

    if device == "cpu":  # no synchronisation: the fewest instructions inside the timed span
        def enter(key: str) -> None:
            starts[key] = clock()

        def leave(key: str, _out) -> None:
            end = clock()
            samples.setdefault(key, []).append(end - starts.pop(key))
    else:
        def enter(key: str) -> None:
            sync()
            starts[key] = clock()

        def leave(key: str, _out) -> None:
            sync()
            samples.setdefault(key, []).append(clock() - starts.pop(key))

    bare, hooked = [], []
    with torch.inference_mode():
        for i in range(warmup):
            progress(f"warm-up {i + 1}/{warmup}")
            model(x)
        for i in range(repeats):
            progress(f"timing pass {i + 1}/{repeats}")
            sync()
            start = clock()
            model(x)
            sync()
            bare.append(clock() - start)
            seen = {k: len(v) for k, v in samples.items()}
            with RowKeys(model, leave, enter, owners):
                sync()
                start = clock()
                model(x)
                sync()
                hooked.append(clock() - start)
            timing.passes.append((sum(v[-1] for k, v in samples.items() if len(v) > seen.get(k, 0)), hooked[-1]))
            for key in samples:  # a key runs once per pass: keep the rounds aligned
                if len(samples[key]) != seen.get(key, 0) + 1:
                    raise ParamscopeError(f"time measurer: {key} timed {len(samples[key]) - seen.get(key, 0)}× "
                                          "in one pass")
    timing.total, timing.hooked_total = Stat.of(bare), Stat.of(hooked)
    timing.layers = {k: Stat.of(v) for k, v in samples.items()}
    return timing


class TimeMeasurer:
    """The opt-in ``time`` measurer (``--measure time``): wall-clock time, not a count."""

    name = "time"
    device = "cpu"
    convention = ("real forward passes on zero-filled tensors after warm-up; per layer call and in "
                  "total the median over the timed passes, spread min..max; layers timed by hooks "
                  "and the functional ops the trace records, the total by a pass without timers")

    def __init__(self, **options) -> None:
        self.options = options

    def measure(self, meta_model, input_shape, dtype: str = "float32", **extra) -> Timing:
        return time_model(meta_model, input_shape, dtype, **{**self.options, **extra})
