"""What summary, explain and compare add in training mode (grids and text; no torch)."""

from __future__ import annotations

from typing import Any

from paramscope.render.export import Col, Grid
from paramscope.render.units import human, nbytes


def is_train(report: Any) -> bool:
    from paramscope.training.analysis import TrainReport

    return isinstance(report, TrainReport)


def _count(n: int) -> str:
    return f"{n:,} ({human(n)})" if abs(n) >= 10**4 else f"{n:,}"


def training_grids(report) -> list[Grid]:
    """The training totals and memory of a TrainReport; nothing for an inference report."""
    if not is_train(report):
        return []
    t = report.totals
    grid = Grid([Col("training (forward + backward)"), Col("value", numeric=True)],
                title="Training step" + (f", frozen: {', '.join(report.freeze)}" if report.freeze else ""))
    grid.add("backward MACs", _count(t["backward_macs"]))
    grid.add("  grad_input", f"{sum(b.grad_input_macs or 0 for b in report.backward):,}")
    grid.add("  grad_weight", f"{sum(b.grad_weight_macs or 0 for b in report.backward):,}")
    grid.add("backward FLOPs", _count(t["backward_flops"]))
    grid.add("MACs forward + backward", _count(t["macs"] + t["backward_macs"]))
    grid.add("FLOPs forward + backward", _count(t["flops"] + t["backward_flops"]))
    grids = [grid]
    memory = report.memory
    if memory is not None:
        mem = Grid([Col(f"training memory ({report.optimizer})"), Col("size", numeric=True)])
        for key, label in (("params", "parameters + buffers"), ("grads", "gradients (trainable)"),
                           ("optimizer_state", "optimizer state"), ("activations", "activations saved for backward"),
                           ("peak", f"peak ({memory.phase})")):
            mem.add(label, nbytes(memory.totals()[key]))
        grids.append(mem)
    return grids


def backward_blocks(report, rows) -> list[tuple[str, list[str]]]:
    """``explain``'s backward derivation of ``rows`` (a TrainReport's layer rows)."""
    if not is_train(report):
        return []
    from paramscope.reconciling.report import term_text

    back = {id(r): b for r, b in zip(report.layers, report.backward)}
    lines, values = [], []
    for row in rows:
        b = back[id(row)]
        if b.status == "none" or not (b.macs or b.flops):
            continue
        terms = [t for t in b.terms if t.quantity != "backward flops"
                 and not (t.quantity == "backward macs" and not t.value)]
        lines.append(f"{row.node.key}: " + "; ".join(term_text(t) for t in terms))
        values.append(b.macs or 0)
    if values:
        lines.append(f"{sum(values):,} = " + " + ".join(f"{v:,}" for v in values if v) + " (backward MACs)")
    title = "Backward (the gradients autograd computes" + (
        f"; frozen: {', '.join(report.freeze)})" if report.freeze else ")")
    return [(title, lines or ["no gradient is computed here"])]
