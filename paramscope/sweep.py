"""Design-space sweeps: one analysis per point of a grid of overrides and input sizes.

``sweep("resnext50_32x4d", {"groups": [1, 2, 4, 8, 32], "width_per_group": [64, 40, 24, 14, 4]},
zip=True)`` returns one row per point with its totals and their ratio to the first row.
Analytic only unless ``measure`` names tools: a YAML target is parsed once and resolved
per point in pure Python (no torch), so hundreds of points take seconds.  A factory is
loaded once and called per point on the meta device.  Returns data, never prints.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from paramscope.errors import LimitError, ParamscopeError
from paramscope.graph import Shape

if TYPE_CHECKING:
    from paramscope.render.export import Grid

MAX_POINTS = 10_000
#: totals shown per row (and the ones a ratio to the first row is given for).
RATIO_KEYS = ("params", "macs", "flops", "activation_bytes")
_OPEN, _CLOSE = "[{(", "]})"


def split_values(text: str) -> list[str]:
    """``"1,2,4"`` -> ``["1", "2", "4"]``; commas inside brackets or quotes do not split:
    ``"[3,4,6,3],[3,4,23,3]"`` -> two values."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(depth - 1, 0)
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def parse_axes(items: Iterable[str] | None) -> dict[str, list[Any]]:
    """``--set k=v1,v2`` options -> ``{"k": [v1, v2]}`` (values read like single ``--set`` values)."""
    from paramscope.tracing.inputs import parse_value, split_sets

    axes: dict[str, list[Any]] = {}
    for key, text in split_sets(items, values="value[,value...]",
                                twice="list all its values in one option: --set {key}=v1,v2"):
        values = split_values(text)
        if any(not v for v in values):
            raise ParamscopeError(f"--set {key}: empty value in {text!r} (values are separated by commas)")
        axes[key] = [parse_value(v) for v in values]
    return axes


def parse_inputs(items: Iterable[str] | None) -> list[str]:
    """``--input 224,320,448`` (and repeated ``--input``) -> ``["224", "320", "448"]``."""
    out: list[str] = []
    for item in items or []:
        values = [v.strip() for v in item.split(",")]
        if any(not v for v in values):
            raise ParamscopeError(f"--input: empty size in {item!r} (sizes are separated by commas)")
        out.extend(values)
    return out


def points(axes: dict[str, list[Any]], inputs: list[Any], zip_: bool = False
           ) -> list[tuple[dict[str, Any], Any]]:
    """Every (overrides, input) point: the Cartesian product, or the lists zipped.

    Zipped, every list with more than one value (``inputs`` included) must have the same
    length; a single value is used at every point.
    """
    inputs = list(inputs) or [None]
    if zip_:
        lists = {f"--set {k}": v for k, v in axes.items()}
        if len(inputs) > 1:
            lists["--input"] = inputs
        lengths = {name: len(v) for name, v in lists.items() if len(v) > 1}
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{name} has {n}" for name, n in lengths.items())
            raise ParamscopeError(f"--zip needs lists of equal length: {detail} values")
        n = max(lengths.values(), default=1)
        _check_count(n)
        pick = (lambda values, i: values[i] if len(values) > 1 else values[0])
        return [({k: pick(v, i) for k, v in axes.items()}, pick(inputs, i)) for i in range(n)]
    count = len(inputs)
    for values in axes.values():
        count *= len(values)
    _check_count(count)
    keys = list(axes)
    return [(dict(zip(keys, combo)), size)
            for combo in itertools.product(*axes.values()) for size in inputs]


def _check_count(n: int) -> None:
    if n > MAX_POINTS:
        raise LimitError(f"the sweep has {n:,} points; the limit is {MAX_POINTS:,} "
                         "(use fewer values, or --zip)")


@dataclass
class SweepRow:
    overrides: dict[str, Any]
    input_shape: Shape | None
    totals: dict[str, int] = field(default_factory=dict)
    ratio: dict[str, float | None] = field(default_factory=dict)  # to the first good row
    measurers: dict[str, dict[str, Any]] = field(default_factory=dict)  # tool -> status, total
    notes: list[str] = field(default_factory=list)
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"overrides": self.overrides,
                               "input_shape": list(self.input_shape) if self.input_shape else None,
                               "totals": self.totals, "ratio": self.ratio}
        if self.measurers:
            out["measurers"] = self.measurers
        if self.notes:
            out["notes"] = self.notes
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class Sweep:
    target: str
    keys: list[str]
    rows: list[SweepRow]
    measure: tuple[str, ...] = ()
    mode: str = "infer"

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "keys": self.keys, "measure": list(self.measure),
                "rows": [r.to_dict() for r in self.rows]}


def sweep(target: str, axes: dict[str, list[Any]] | None = None, inputs: Iterable[Any] = (),
          *, batch: int | None = None, zip: bool = False, measure: Any = "none",
          dtype: str | None = None, fvcore_budget: int | None = None, mode: str = "infer",
          freeze: Iterable[str] = (), optimizer: str = "adamw") -> Sweep:
    """Analyse ``target`` at every point of ``axes`` × ``inputs``.

    ``axes`` maps a spec parameter (or factory keyword) to its values; ``inputs`` are
    ``--input`` strings (``"224"``, ``"3x320x320"``) or shapes with the batch; ``batch``
    applies to every point.  ``mode="train"`` analyses each point for training (``freeze``,
    ``optimizer`` as in :func:`paramscope.analyze`).  A point that fails (say, a width not divisible by its groups)
    gets ``error`` and the sweep goes on; if every point fails, the first error is raised.
    """
    from paramscope.analysis import check_dtype, parse_measure
    from paramscope.building.targets import parse_target

    check_dtype(dtype)
    memtracker = False
    if mode == "train":
        from paramscope.training.analysis import split_memtracker

        measure, memtracker = split_memtracker(measure)
    tools = parse_measure(measure)
    axes = dict(axes or {})
    grid = points(axes, list(inputs), zip)
    t = parse_target(target)
    points_of = {"spec": _spec_points, "hf": _hf_points}.get(t.kind, _factory_points)
    default, analyse_point = points_of(t, dtype)
    if mode == "train":
        from paramscope.training.analysis import train_point_analyser

        analyse_point = train_point_analyser(t.text, dtype, tuple(freeze), optimizer, memtracker)
    # every input size is parsed before any point runs: a bad --input is an error, not a row
    shape_of = {size: _shape(size, default, batch) for size in dict.fromkeys(_hashable(s) for _, s in grid)}
    rows: list[SweepRow] = []
    first_error: ParamscopeError | None = None
    for overrides, size in grid:
        shape = shape_of[_hashable(size)]
        row = SweepRow(overrides, None)
        try:
            report = analyse_point(overrides, shape, tools, fvcore_budget)
        except ParamscopeError as err:
            row.input_shape = tuple(shape) if shape is not None else None  # the size asked for
            row.error = str(err)
            first_error = first_error or err
        else:
            row.input_shape = tuple(report.input_shape)
            row.totals = report.totals
            row.notes = list(report.notes)
            row.measurers = {name: {"status": m.status, "total": m.total, "predicted": m.predicted,
                                    **({"note": m.note} if m.note else {})}
                             for name, m in report.measurers.items()}
        rows.append(row)
    good = [r for r in rows if not r.error]
    if not good and first_error is not None:
        if len(rows) == 1:
            raise first_error
        raise ParamscopeError(f"none of the {len(rows)} points of the sweep could be analysed; "
                              f"the first ({row_text(rows[0])}): {first_error}")
    base = good[0].totals if good else {}
    for row in good:
        row.ratio = {k: (row.totals[k] / base[k] if base.get(k) else None) for k in RATIO_KEYS}
    return Sweep(t.text, list(axes), rows, tools, mode)


def _hashable(size: Any) -> Any:
    return size if size is None or isinstance(size, str) else tuple(size)


def _shape(size: Any, default: Shape | None, batch: int | None) -> Shape | None:
    from paramscope.tracing.inputs import parse_input

    if size is None or isinstance(size, str):
        return parse_input(size, default, batch)
    shape = tuple(int(d) for d in size)
    return shape if batch is None else (batch, *shape[1:])


def _spec_points(t, dtype):
    """The default input and a point analyser for a YAML target: the document (and its
    imports) is parsed once, then resolved per point."""
    from paramscope.analysis import report_for, resolved_subject
    from paramscope.api import load_document
    from paramscope.spec.resolve import default_input, resolve

    doc = load_document(t)
    default = default_input(doc)  # a malformed input: a located error, before any point

    def analyse(overrides, shape, tools, fvcore_budget):
        resolved = resolve(doc, overrides, shape)
        return report_for(resolved_subject(resolved, dtype), dtype, tools, fvcore_budget)

    return default, analyse


def _factory_points(t, dtype):
    """The default input and a point analyser for a factory: imported once, called per
    point (on the meta device)."""
    from paramscope.analysis import factory_subject, report_for
    from paramscope.sandbox import user_code
    from paramscope.building.targets import load_factory

    with user_code(t.text):
        factory = load_factory(t)

    def analyse(overrides, shape, tools, fvcore_budget):
        with user_code(t.text) as captured:
            subject = factory_subject(factory, t.text, shape, None, overrides, dtype)
            report = report_for(subject, dtype, tools, fvcore_budget)
        report.notes.extend(captured.notes())
        return report

    return None, analyse


def _hf_points(t, dtype):
    """Token-id inputs (batch × tokens) and a point analyser for an ``hf:`` target: the
    config is built per point, so ``--set`` sweeps config fields."""
    from paramscope.analysis import report_for, subject_for
    from paramscope.building.hf import DEFAULT_TOKENS

    def analyse(overrides, shape, tools, fvcore_budget):
        subject = subject_for(t.text, shape, None, overrides, dtype, budget=fvcore_budget)
        return report_for(subject, dtype, tools, fvcore_budget)

    return (1, DEFAULT_TOKENS), analyse


# ----------------------------------------------------------------------------- text forms

#: CSV columns after the sweep's own keys and the input
CSV_COLUMNS = ("params", "macs", "flops", "activation_bytes", "params_ratio", "macs_ratio", "flops_ratio")
TRAIN_CSV_COLUMNS = ("backward_macs", "train_flops", "train_peak_bytes")


def point_text(overrides: dict[str, Any]) -> str:
    """``groups=3, width_per_group=24``: a point as its overrides."""
    return ", ".join(f"{k}={_value_text(v)}" for k, v in overrides.items())


def row_text(row: SweepRow) -> str:
    """A point as its overrides and input: ``groups=3, input 1×64×56×56``."""
    from paramscope.render.units import shape_text

    size = f"input {shape_text(row.input_shape)}" if row.input_shape else ""
    return ", ".join(part for part in (point_text(row.overrides), size) if part) or "the default point"


def failed(result: Sweep) -> int:
    return sum(1 for r in result.rows if r.error)


def summary_line(result: Sweep) -> str | None:
    """``1 of 3 points could not be analysed (see the error of each)``; None when none failed."""
    n = failed(result)
    return f"{n} of {len(result.rows)} points could not be analysed (see the error of each)" if n else None


def sweep_grid(result: Sweep) -> Grid:
    """One row per point: the swept values and the input (never dropped on a narrow terminal),
    params, MACs; then FLOPs, activations and the ratios to the first row, dropped in that
    order from the last (ratios first) when the terminal is narrow; a failed point's error in
    a note column (a line under its row on a terminal)."""
    from paramscope.render.export import Col, Grid

    cols = [*(Col(k) for k in result.keys), Col("input"), Col("params", numeric=True),
            Col("MACs", numeric=True), Col("FLOPs", numeric=True, optional=2),
            Col("activations", numeric=True, optional=1),
            *(Col(f"{noun} ×", numeric=True, optional=3) for noun in ("params", "MACs", "FLOPs"))]
    if result.mode == "train":
        cols += [Col("backward MACs", numeric=True, optional=2), Col("train FLOPs", numeric=True, optional=2),
                 Col("train peak", numeric=True, optional=1)]
    cols += [Col(tool, optional=2) for tool in result.measure]
    if failed(result):
        cols.append(Col("error", note=True))
    grid = Grid(cols)
    for row in result.rows:
        grid.add(*_cells(result, row))
    return grid


def _cells(result: Sweep, row: SweepRow) -> list[str]:
    from paramscope.render.units import factor, human, nbytes, shape_text

    values = [_value_text(row.overrides.get(k)) for k in result.keys]
    values.append(shape_text(row.input_shape) if row.input_shape else "--")
    numbers = 7 + 3 * (result.mode == "train") + len(result.measure)
    if row.error:
        return values + ["--"] * numbers + [row.error]
    t = row.totals
    values += [f"{t['params']:,}", human(t["macs"]), human(t["flops"]), nbytes(t["activation_bytes"])]
    values += [factor(row.ratio.get(k)) for k in ("params", "macs", "flops")]
    if result.mode == "train":
        values += [human(t["backward_macs"]), human(t["flops"] + t["backward_flops"]),
                   nbytes(t["training_memory"]["peak"])]
    values += [row.measurers.get(tool, {}).get("status", "") for tool in result.measure]
    return values + ([""] if failed(result) else [])


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ",".join(_value_text(v) for v in value) + "]"
    return "" if value is None else str(value)


def to_csv(result: Sweep) -> str:
    """One line per point, integers unformatted, an ``error`` column (empty for good points)."""
    from paramscope.render.export import csv_shape, csv_text

    train = result.mode == "train"
    head = [*result.keys, "input", *CSV_COLUMNS, *(TRAIN_CSV_COLUMNS if train else ()), *result.measure, "error"]
    rows = []
    for row in result.rows:
        values: list[Any] = [_value_text(row.overrides.get(k)) for k in result.keys]
        values.append(csv_shape(row.input_shape) if row.input_shape else "")
        t = row.totals
        if row.error:
            values += [""] * (len(head) - len(values) - 1)
        else:
            values += [t["params"], t["macs"], t["flops"], t["activation_bytes"]]
            values += ["" if row.ratio.get(k) is None else f"{row.ratio[k]:.6g}" for k in ("params", "macs", "flops")]
            if train:
                values += [t["backward_macs"], t["flops"] + t["backward_flops"], t["training_memory"]["peak"]]
            values += [row.measurers.get(tool, {}).get("status", "") for tool in result.measure]
        rows.append([*values, row.error])
    return csv_text(head, rows)


def to_markdown(result: Sweep) -> str:
    """A GitHub pipe table (an ``error`` column when a point failed) and the summary line."""
    from paramscope.render.export import markdown_table

    line = summary_line(result)
    return markdown_table(sweep_grid(result)) + (f"\n{line}\n" if line else "")
