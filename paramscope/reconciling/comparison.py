"""Several Reports side by side: ratios to the first, per-stage groups, layer alignment.

Plain data for :mod:`paramscope.render.compare` to draw; every figure comes from the Reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any

from paramscope.reconciling.grouping import Group, stage_prefix, stages
from paramscope.reconciling.names import short_key
from paramscope.render.units import ratio_text
from paramscope.reconciling.report import Report

#: name alignment is tried only below this many layers per target (it is quadratic)
MAX_NAME_ALIGN = 5000
#: weight-arithmetic rows shown before "… N more"
ARITHMETIC_ROWS = 8


@dataclass
class Aligned:
    """One row of a side-by-side table: a label and one item per target (None: absent)."""

    label: str
    items: list[Any]


@dataclass
class Comparison:
    reports: list[Report]
    labels: list[str]
    stage_groups: list[list[Group]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.stage_groups:
            self.stage_groups = [stages(r) for r in self.reports]

    @property
    def baseline(self) -> Report:
        return self.reports[0]

    # ------------------------------------------------------------------ ratios

    def ratios(self) -> list[dict[str, Any]]:
        """Each target against the first: value / baseline, and the sentence for it."""
        base = self.baseline.totals
        out = []
        for label, report in zip(self.labels, self.reports):
            t = report.totals
            entry: dict[str, Any] = {"target": label, "baseline": self.labels[0]}
            for key, noun in (("params", "params"), ("macs", "MACs"), ("flops", "FLOPs"),
                              ("activation_bytes", "activation memory")):
                entry[key] = round(t[key] / base[key], 6) if base[key] else None
                text = ratio_text(t[key], base[key], noun)
                entry[f"{key}_text"] = text.replace("fewer", "less") if key == "activation_bytes" else text
            out.append(entry)
        return out

    def input_warning(self) -> str | None:
        """One line when the targets' inputs differ (their ratios then mix input sizes), else None."""
        from paramscope.render.units import shape_text

        shapes = [shape_text(r.input_shape) for r in self.reports]
        if len(set(shapes)) < 2:
            return None
        listed = ", ".join(f"{label} {shape}" for label, shape in zip(self.labels, shapes))
        return (f"the targets' inputs differ ({listed}): the MACs, FLOPs and activation ratios "
                "compare different input sizes")

    def depths(self) -> list[int | None]:
        """Each target's depth (:mod:`paramscope.tracing.depth`; None: unknown, a note says why)."""
        from paramscope.tracing.depth import report_depth

        return [report_depth(r) for r in self.reports]

    # ------------------------------------------------------------------ layers

    def layer_alignment(self) -> tuple[str, list[Aligned]]:
        """``("name" | "position", rows)`` over the layers with parameters or MACs.

        Rows align by module name (below each target's single top container, so
        ``conv1`` meets ``block.conv1``) when the targets share at least half of
        their names and the names are not just Sequential indices; otherwise by
        position of the parameterised layers.
        """
        per_target = []
        for report in self.reports:
            prefix = stage_prefix(report)
            rows = [r for r in report.layers if r.params or r.cost.macs]
            per_target.append({short_key(r.node.key, prefix): r for r in rows})
        if len(per_target) > 1 and _names_match([list(m) for m in per_target]):
            order = _merge_orders([list(m) for m in per_target])
            return "name", [Aligned(k, [m.get(k) for m in per_target]) for k in order]
        columns = [list(m.values()) for m in per_target]
        return "position", [Aligned(f"#{i + 1}", list(items))
                            for i, items in enumerate(zip_longest(*columns))]

    def stage_alignment(self) -> tuple[str, list[Aligned]]:
        """Stages side by side: by name when the targets share most stage names
        (resnet50 / cifar-resnet: stem, layer1 …), else by position."""
        names = [[g.name for g in groups] for groups in self.stage_groups]
        if len(names) > 1 and all(len(set(n)) == len(n) for n in names) and _names_match(names):
            by_name = [{g.name: g for g in groups} for groups in self.stage_groups]
            return "name", [Aligned(n, [m.get(n) for m in by_name]) for n in _merge_orders(names)]
        return "position", [Aligned(f"#{i + 1}", list(items))
                            for i, items in enumerate(zip_longest(*self.stage_groups))]

    @property
    def has_stages(self) -> bool:
        """True when some target is a network with at least two costed stages (not one block)."""
        for report, groups in zip(self.reports, self.stage_groups):
            costed = [g for g in groups if g.params or g.macs]
            containers = [g for g in groups if g.kind != "layers"]
            if len(costed) >= 2 and (not stage_prefix(report) or len(containers) >= 2):
                return True
        return False


def _names_match(keys: list[list[str]]) -> bool:
    if any(len(k) > MAX_NAME_ALIGN or not k for k in keys):
        return False
    if any(all(name.split("#")[0].isdigit() for name in k) for k in keys):
        return False  # a numbered Sequential: its indices are positions, not names
    common = set(keys[0]).intersection(*map(set, keys[1:]))
    return len(common) * 2 >= min(len(k) for k in keys)


def _merge_orders(keys: list[list[str]]) -> list[str]:
    """Union of the key lists, each new key placed after its predecessor in its own list."""
    merged = list(keys[0])
    for other in keys[1:]:
        present = set(merged)
        pos = -1
        for k in other:
            if k in present:
                pos = merged.index(k)
            else:
                merged.insert(pos + 1, k)
                present.add(k)
                pos += 1
    return merged


