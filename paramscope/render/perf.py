"""Render the perf figures (time, roofline, receptive fields) of a Report as Grids."""

from __future__ import annotations

from typing import Any

from paramscope.render.export import Col, Grid
from paramscope.render.units import commas, human, nbytes
from paramscope.reconciling.report import Report


def seconds(value: float | None) -> str:
    """``12.345 ms`` / ``85.2 µs`` / ``1.234 s``."""
    if value is None:
        return "--"
    if value >= 1:
        return f"{value:,.3f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3f} ms"
    return f"{value * 1e6:.1f} µs"


def rate(value: float | None) -> str:
    """FLOP/s in its own unit: ``12.30 GFLOP/s``, ``850.00 MFLOP/s``."""
    if value is None:
        return "--"
    text = human(round(value))
    return f"{text}FLOP/s" if text[-1].isalpha() else f"{text} FLOP/s"


def intensity(value: float | None) -> str:
    return "--" if value is None else f"{value:,.2f}"


def rf_text(d: dict[str, Any] | None) -> str:
    from paramscope.perf.receptive import ReceptiveField

    return ReceptiveField.from_dict(d).text() if d else "--"


def has_perf(report: Report) -> bool:
    return bool(report.perf)


def perf_layer_grid(report: Report) -> Grid:
    """One row per layer call: receptive field, measured time, roofline — what was asked for."""
    p = report.perf
    timed = p.get("time", {}).get("status") == "ok"
    roof = "device_spec" in p
    rf = "output" in p.get("receptive_field", {})
    cols = [Col("layer"), Col("kind", optional=3)]
    if rf:
        cols.append(Col("RF size /jump"))
    if timed:
        cols += [Col("time (median)", numeric=True), Col("min..max", numeric=True, optional=2),
                 Col("share", numeric=True), Col("achieved", numeric=True, optional=1)]
    cols += [Col("bytes", numeric=True, optional=2), Col("FLOP/B", numeric=True, optional=1)]
    if roof:
        cols += [Col("roofline", numeric=True), Col("bound", optional=1)]
    grid = Grid(cols, title=_title(report))
    for row in report.layers:
        q = row.perf
        cells: list[Any] = [row.node.key or "(root)", row.node.kind]
        if rf:
            cells.append(rf_text(q.get("receptive_field")))
        if timed:
            t = q.get("time")
            cells += [seconds(t["median_s"]) if t else "--",
                      f"{seconds(t['min_s'])}..{seconds(t['max_s'])}" if t else "--",
                      f"{100 * q['time_share']:.1f}%" if t else "--", rate(q.get("achieved_flops_per_s"))]
        cells += [commas(q.get("bytes")), intensity(q.get("intensity"))]
        if roof:
            cells += [seconds(q.get("roofline_time")), q.get("bound", "")]
        grid.add(*cells)
    return grid


def _title(report: Report) -> str:
    parts = []
    t = report.perf.get("time", {})
    if t.get("status") == "ok":
        parts.append(f"{'CPU ' if t.get('clock') == 'cpu' else ''}time on {t['device']}, {t['threads']} thread(s), "
                     f"median of {t['repeats']} passes "
                     f"after {t['warmup']} warm-up")
    if "device_spec" in report.perf:
        parts.append(f"roofline on {report.perf['device_spec']['name']}")
    if "output" in report.perf.get("receptive_field", {}):
        parts.append("receptive field per input axis: size /jump (input pixels)")
    return "Per layer: " + ("; ".join(parts) if parts else "bytes moved and arithmetic intensity")


def perf_totals_grid(report: Report) -> Grid:
    """Totals and settings: whole-model time, coverage, roofline total, the output's receptive field."""
    p = report.perf
    tot = p.get("totals", {})
    grid = Grid([Col("performance"), Col("value", numeric=True)])
    t = p.get("time", {})
    if t.get("status") == "ok":
        total = t["total"]
        cov = t["layer_coverage"]
        grid.add("measured on", f"{t['device']}, {t['threads']} thread(s), "
                 + ("CPU time of this process" if t.get("clock") == "cpu" else "wall-clock time"))
        grid.add("whole model (median, min..max)",
                 f"{seconds(total['median_s'])} ({seconds(total['min_s'])}..{seconds(total['max_s'])})")
        grid.add("sum of the per-layer medians", f"{seconds(t['layer_sum_s'])} "
                 f"({100 * t['layer_sum_s'] / total['median_s']:.0f}% of the whole model)")
        grid.add("layers' share of each timed pass", f"{100 * cov['median']:.0f}% "
                 f"({100 * cov['min']:.0f}%..{100 * cov['max']:.0f}%)")
        grid.add("timer overhead (timed / bare pass)", f"{100 * t['timer_overhead']:+.1f}%")
        grid.add("achieved", rate(tot.get("achieved_flops_per_s")))
    elif t:
        grid.add("time", f"{t['status']} (see the note)")
    grid.add("bytes moved (weights + inputs + outputs)", f"{commas(tot.get('bytes'))} ({nbytes(tot.get('bytes', 0))})")
    grid.add("arithmetic intensity (FLOPs / bytes)", f"{intensity(tot.get('intensity'))} FLOP/B")
    if "device_spec" in p:
        d = p["device_spec"]
        grid.add("device", d["name"])
        grid.add("  peak / bandwidth / ridge", f"{rate(d['peak_flops_per_s'])} / "
                 f"{nbytes(round(d['bandwidth_bytes_per_s']))}/s / {d['ridge_flops_per_byte']:,.2f} FLOP/B")
        by = p.get("roofline_time_by_bound", {})
        grid.add("roofline time (sum over layers)", seconds(tot.get("roofline_time")))
        grid.add("  in compute- / memory-bound layers", f"{seconds(by.get('compute'))} / {seconds(by.get('memory'))}")
    if "output" in p.get("receptive_field", {}):
        grid.add("receptive field of the output", rf_text(p["receptive_field"]["output"]))
    return grid


def perf_grids(report: Report) -> list[Grid]:
    """The perf part of ``summary`` / ``profile``; nothing when no perf figure was asked for."""
    return [perf_layer_grid(report), perf_totals_grid(report)] if has_perf(report) else []


def profile_parts(report: Report) -> list[Grid | str]:
    return [*perf_grids(report), *(f"note: {note}" for note in report.notes)]


def profile_renderables(report: Report, head: str, width: int | None = None, plain: bool | None = None) -> list:
    from rich.text import Text

    from paramscope.render.export import rich_table

    out: list[Any] = [Text(head, style=None if plain else "bold")]
    for part in profile_parts(report):
        out.append(rich_table(part, width=width, plain=plain) if isinstance(part, Grid) else Text(part))
    return out


def profile_markdown(report: Report) -> str:
    from paramscope.render.export import markdown_document
    from paramscope.render.units import shape_text

    return markdown_document(profile_parts(report), title=f"`{report.target}` — input "
                             f"{shape_text(report.input_shape)}, {report.dtype}")


PERF_CSV = ("name", "kind", "flops", "bytes", "intensity", "roofline_time_s", "bound", "time_median_s", "time_min_s",
            "time_max_s", "time_share", "achieved_flops_per_s", "rf")


def perf_csv(report: Report) -> str:
    """One row per layer call; numbers unformatted, the receptive field as ``7x7 /2`` (sizes, jump)."""
    from paramscope.render.export import csv_text

    rows = []
    for r in report.layers:
        q, t = r.perf, r.perf.get("time") or {}
        rows.append([r.node.key, r.node.kind, r.cost.flops, q.get("bytes"), q.get("intensity"),
                     q.get("roofline_time"), q.get("bound"), t.get("median_s"), t.get("min_s"), t.get("max_s"),
                     q.get("time_share"), q.get("achieved_flops_per_s"),
                     rf_text(q.get("receptive_field")).replace("×", "x")])  # CSV spells sizes 7x7
    return csv_text(PERF_CSV, rows)


# ---------------------------------------------------------------------- compare


def headline_rows(reports: list[Report]) -> list[list[str]]:
    """Rows for compare's headline: the output's receptive field, and measured time when timed."""
    rows = []
    if any("receptive_field" in r.perf for r in reports):
        rows.append(["receptive field (output)",
                     *(rf_text(r.perf.get("receptive_field", {}).get("output")) for r in reports)])
    if any(_seconds_of(r) for r in reports):
        rows.append(["measured time (median)", *(seconds(_seconds_of(r)) for r in reports)])
        base = _seconds_of(reports[0])
        rows.append(["speed vs first", "baseline", *(_speed_text(base, _seconds_of(r)) for r in reports[1:])])
    return rows


def _seconds_of(report: Report) -> float | None:
    t = report.perf.get("time", {})
    return t["total"]["median_s"] if t.get("status") == "ok" else None


def _speed_text(base: float | None, value: float | None) -> str:
    if not base or not value:
        return "--"
    return f"{base / value:,.2f}× faster" if value <= base else f"{value / base:,.2f}× slower"


def speed_grid(labels: list[str], reports: list[Report]) -> Grid | None:
    """Counted against measured: MACs, bytes, intensity, roofline and real time, each against the first."""
    if not any(_seconds_of(r) for r in reports):
        return None
    grid = Grid([Col(""), *(Col(label, numeric=True) for label in labels)],
                title="Counted against measured (ratios: the first target / this one)")
    base = reports[0]
    b_t = base.perf["totals"]

    def ratio(a, b):
        return f"{a / b:,.2f}×" if a and b else "--"

    grid.add("MACs", *(commas(r.totals["macs"]) for r in reports))
    grid.add("  MAC ratio", "1.00×", *(ratio(base.totals["macs"], r.totals["macs"]) for r in reports[1:]))
    grid.add("bytes moved", *(commas(r.perf["totals"].get("bytes")) for r in reports))
    grid.add("  bytes ratio", "1.00×", *(ratio(b_t.get("bytes"), r.perf["totals"].get("bytes")) for r in reports[1:]))
    grid.add("intensity (FLOP/B)", *(intensity(r.perf["totals"].get("intensity")) for r in reports))
    if any("roofline_time" in r.perf["totals"] for r in reports):
        grid.add("roofline time", *(seconds(r.perf["totals"].get("roofline_time")) for r in reports))
        grid.add("  bound", *(r.perf["totals"].get("bound") or "--" for r in reports))
    grid.add("measured time (median)", *(seconds(_seconds_of(r)) for r in reports))
    grid.add("  speed ratio", "1.00×", *(ratio(_seconds_of(base), _seconds_of(r)) for r in reports[1:]))
    grid.add("achieved", *(rate(r.perf["totals"].get("achieved_flops_per_s")) for r in reports))
    return grid


def speed_notes(labels: list[str], reports: list[Report]) -> list[str]:
    """Why the speed ratio is not the MAC ratio, per target against the first."""
    base = reports[0]
    out = []
    for label, r in zip(labels[1:], reports[1:]):
        t0, t1 = _seconds_of(base), _seconds_of(r)
        if not t0 or not t1 or not r.totals["macs"] or not base.totals["macs"]:
            continue
        b0, b1 = base.perf["totals"], r.perf["totals"]
        macs, speed = base.totals["macs"] / r.totals["macs"], t0 / t1
        text = (f"why: {label} has {macs:,.1f}× fewer MACs than {labels[0]} but runs {speed:,.2f}× "
                f"{'faster' if speed >= 1 else 'slower'} (measured). It moves {b0['bytes'] / b1['bytes']:,.2f}× "
                f"fewer bytes: its arithmetic intensity is {b1['intensity']:,.2f} FLOP/B against "
                f"{b0['intensity']:,.2f}")
        spec = r.perf.get("device_spec")
        if spec and b0.get("roofline_time") and b1.get("roofline_time"):
            text += (f". On {spec['name']} (ridge point {spec['ridge_flops_per_byte']:,.2f} FLOP/B) "
                     f"{label} is {b1['bound']}-bound and {labels[0]} {b0['bound']}-bound; the roofline "
                     f"allows {b0['roofline_time'] / b1['roofline_time']:,.1f}×")
            if b1["bound"] == "memory":
                text += f": {label}'s time is set by the bytes it moves, not by its MACs"
        a0, a1 = b0.get("achieved_flops_per_s"), b1.get("achieved_flops_per_s")
        if a0 and a1:
            text += (f". Measured, it achieves {rate(a1)} against {rate(a0)} "
                     f"({a1 / a0:.0%} of {labels[0]}'s rate): the rest of the gap is the kernel running "
                     f"far below the device's peak on so little work per byte")
        out.append(text + ".")
    return out


# ---------------------------------------------------------------------- explain


def explain_lines(report: Report, rows, total: bool = True) -> list[str]:
    """Per layer: the bytes and intensity arithmetic, the roofline and the receptive field."""
    from paramscope.perf.receptive import ReceptiveField
    from paramscope.perf.roofline import traffic

    spec = report.perf.get("device_spec")
    out = []
    for row in rows:
        q = row.perf
        if "bytes" not in q:
            continue
        tr = traffic(row.node, report.dtype)
        flops = row.cost.flops
        line = f"{row.node.key or '(root)'}: bytes = {tr.expression()}"
        if flops is None:
            line += "; intensity unknown (no FLOPs formula)"
        elif tr.bytes:
            line += f"; intensity = {flops:,} FLOPs / {tr.bytes:,} B = {flops / tr.bytes:,.2f} FLOP/B"
        if spec and q.get("roofline_time") is not None:
            peak, bw = spec["peak_flops_per_s"], spec["bandwidth_bytes_per_s"]
            line += (f"; roofline = max({flops:,} / {peak / 1e12:g} TFLOP/s, {tr.bytes:,} / {bw / 1e9:g} GB/s) = "
                     f"max({seconds(flops / peak)}, {seconds(tr.bytes / bw)}) = {seconds(q['roofline_time'])} "
                     f"({q['bound']}-bound)")
        if "receptive_field" in q:
            line += f"; receptive field: {ReceptiveField.from_dict(q['receptive_field']).formula()}"
        out.append(line)
    t = report.perf.get("totals", {})
    if total and t.get("bytes"):
        out.append(f"total: bytes = {t['bytes']:,}; intensity = {report.totals['flops']:,} / {t['bytes']:,} = "
                   f"{t['intensity']:,.2f} FLOP/B" + (f"; roofline time = {seconds(t['roofline_time'])} "
                                                      f"(sum over layers)" if t.get("roofline_time") else ""))
    return out


def explain_title(report: Report) -> str:
    parts = ["Bytes moved and arithmetic intensity"]
    if "device_spec" in report.perf:
        parts.append(f"roofline on {report.perf['device_spec']['name']}")
    if "receptive_field" in report.perf:
        parts.append("receptive field (window of output position i: [start + i·jump, start + i·jump + size − 1])")
    return ", ".join(parts)
