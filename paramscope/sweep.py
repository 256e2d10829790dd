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
from typing import Any, Iterable

from paramscope.errors import LimitError, ParamscopeError
from paramscope.graph import Shape

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
          dtype: str = "float32", fvcore_budget: int | None = None, mode: str = "infer",
          freeze: Iterable[str] = (), optimizer: str = "adamw") -> Sweep:
    """Analyse ``target`` at every point of ``axes`` × ``inputs``.

    ``axes`` maps a spec parameter (or factory keyword) to its values; ``inputs`` are
    ``--input`` strings (``"224"``, ``"3x320x320"``) or shapes with the batch; ``batch``
    applies to every point.  ``mode="train"`` analyses each point for training (``freeze``,
    ``optimizer`` as in :func:`paramscope.analyze`).  A point that fails (say, a width not divisible by its groups)
    gets ``error`` and the sweep goes on; if every point fails, the first error is raised.
    """
    from paramscope.analysis import DTYPES, parse_measure
    from paramscope.building.targets import parse_target

    if dtype not in DTYPES:
        raise ParamscopeError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
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
        row = SweepRow(overrides, None)
        try:
            report = analyse_point(overrides, shape_of[_hashable(size)], tools, fvcore_budget)
        except ParamscopeError as err:
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
        raise first_error
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

def columns(result: Sweep) -> list[str]:
    train = ["backward MACs", "train FLOPs", "train peak"] if result.mode == "train" else []
    return [*result.keys, "input", "params", "MACs", "FLOPs", "activations",
            "params ×", "MACs ×", "FLOPs ×", *train, *result.measure]


def cells(result: Sweep, row: SweepRow, raw: bool = False) -> list[str]:
    """One row's cells; ``raw`` keeps integers unformatted (CSV)."""
    from paramscope.render.units import shape_text

    values = [_value_text(row.overrides.get(k)) for k in result.keys]
    values.append(shape_text(row.input_shape) if row.input_shape else "")
    if row.error:
        return values + ["error: " + row.error] + [""] * (len(columns(result)) - len(values) - 1)
    t = row.totals
    if raw:
        values += [str(t["params"]), str(t["macs"]), str(t["flops"]), str(t["activation_bytes"])]
        values += ["" if row.ratio.get(k) is None else f"{row.ratio[k]:.6g}" for k in ("params", "macs", "flops")]
    else:
        values += [f"{t['params']:,}", _short(t["macs"]), _short(t["flops"]),
                   f"{t['activation_bytes'] / 1e6:,.2f} MB"]
        values += ["--" if row.ratio.get(k) is None else f"{row.ratio[k]:.3f}" for k in ("params", "macs", "flops")]
    if result.mode == "train":
        train = (t["backward_macs"], t["flops"] + t["backward_flops"], t["training_memory"]["peak"])
        values += ([str(v) for v in train] if raw else
                   [_short(train[0]), _short(train[1]), f"{train[2] / 1e6:,.2f} MB"])
    values += [row.measurers.get(tool, {}).get("status", "") for tool in result.measure]
    return values


def _short(value: int) -> str:
    """A count in its own unit (``4.09 G``), as the tables print it."""
    from paramscope.render.units import pick_unit, scaled

    return scaled(value, pick_unit([value]))


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ",".join(_value_text(v) for v in value) + "]"
    return "" if value is None else str(value)


def to_csv(result: Sweep) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    head = [*result.keys, "input", "params", "macs", "flops", "activation_bytes",
            "params_ratio", "macs_ratio", "flops_ratio", *result.measure]
    writer.writerow(head)
    for row in result.rows:
        writer.writerow(cells(result, row, raw=True))
    return out.getvalue()


def to_markdown(result: Sweep) -> str:
    head = columns(result)
    numeric = {"params", "MACs", "FLOPs", "activations", "params ×", "MACs ×", "FLOPs ×"}
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join("---:" if h in numeric else "---" for h in head) + "|"]
    for row in result.rows:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells(result, row)) + " |")
    return "\n".join(lines) + "\n"
