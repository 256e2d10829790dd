"""``paramscope compare``: goldens for the seed comparisons, key numbers checked against
/work/shared/reference.md (not against paramscope's own output), per-stage subtotals,
the export formats, narrow and colourless terminals."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from render_helpers import ANSI, BOX_DRAWING, check_golden, number, parse_markdown_tables, run

import paramscope
from paramscope.reconciling.comparison import Comparison
from paramscope.reconciling.grouping import stages

# Reference figures (seed articles): VGG stem vs ResNet stem; the three blocks; dense vs grouped.
VGG_STEM, RESNET_STEM = 260_160, 9_472
PLAIN, BOTTLENECK, PROJECTION = 73_856, 45_248, 57_728
DENSE_WEIGHT, GROUPED_WEIGHT = 73_728, 2_304


def compare(*args: str, columns: int = 100):
    result = run("compare", *args, "--measure", "none", columns=columns)
    assert result.code == 0, result.err
    return result


# ---------------------------------------------------------------------- goldens


@pytest.mark.parametrize("targets", [("vgg-stem", "resnet-stem"),
                                     ("plain-block", "bottleneck", "bottleneck-projection"),
                                     ("conv-dense", "conv-grouped")])
def test_golden(targets):
    check_golden(f"compare_{'_'.join(targets)}.txt", compare(*targets).out)


# ---------------------------------------------------------------------- key numbers (independent truth)


def test_vgg_vs_resnet_stem_numbers():
    out = compare("vgg-stem", "resnet-stem").out
    headline = out.split("\n\n")[0]
    params_line = next(line for line in headline.splitlines() if line.startswith("params "))
    assert [number(c) for c in params_line.split("|")[1:]] == [VGG_STEM, RESNET_STEM]
    assert "27.5× fewer params" in out
    assert f"{VGG_STEM / RESNET_STEM:.1f}× fewer params" in out  # 260,160 / 9,472 = 27.47
    for per_layer in ("1,792", "36,928", "73,856", "147,584"):  # the seed's per-layer table
        assert per_layer in out
    output_line = next(line for line in headline.splitlines() if line.startswith("output"))
    assert "1×128×56×56" in output_line and "1×64×56×56" in output_line


def test_blocks_numbers():
    out = compare("plain-block", "bottleneck", "bottleneck-projection").out
    params_line = next(line for line in out.splitlines() if line.startswith("params "))
    assert [number(c) for c in params_line.split("|")[1:]] == [PLAIN, BOTTLENECK, PROJECTION]
    assert "1×128×28×28" in out  # the projection block's output
    # same module names below the block container -> aligned by name, conv1 meets block.conv1
    assert "aligned by module name" in out
    conv1 = next(line for line in out.split("Per layer")[1].splitlines() if line.startswith("conv1 "))
    assert [c.strip() for c in conv1.split("|")][1::2] == ["36,928", "4,160", "4,160"]


def test_dense_vs_grouped_shows_weight_arithmetic():
    out = compare("conv-dense", "conv-grouped").out
    assert f"64×128×3×3 = {DENSE_WEIGHT:,}" in out
    assert f"64/32×128×3×3 = {GROUPED_WEIGHT:,}" in out
    weight_line = next(line for line in out.splitlines() if "| weight |" in line)
    assert weight_line.index("64×128×3×3") < weight_line.index("64/32×128×3×3")  # same row, side by side
    params_line = next(line for line in out.splitlines() if line.startswith("params "))
    assert [number(c) for c in params_line.split("|")[1:]] == [DENSE_WEIGHT + 128, GROUPED_WEIGHT + 128]


def test_arithmetic_comes_from_the_formula_terms():
    reports = [paramscope.analyze(t, measure="none") for t in ("conv-dense", "conv-grouped")]
    out = compare("conv-dense", "conv-grouped").out
    for report in reports:
        for term in report.layers[0].cost.terms:
            if term.quantity in ("weight", "macs"):
                assert f"{term.expression} = {term.value:,}" in out


# ---------------------------------------------------------------------- stages


@pytest.mark.parametrize("target, params, n_stages", [("resnet50", 25_557_032, 6), ("cifar-resnet", 175_258, 5),
                                                      ("resnext50", 25_028_904, 6)])
def test_stage_subtotals_add_up(target, params, n_stages):
    report = paramscope.analyze(target, measure="none")
    groups = stages(report)
    assert len(groups) == n_stages
    assert sum(len(g.rows) for g in groups) == len(report.layers)
    t = report.totals
    assert sum(g.params for g in groups) + report.extra_params == t["params"] == params
    for key in ("macs", "flops", "activation_bytes"):
        assert sum(getattr(g, key) for g in groups) == t[key]


def test_resnet50_stages_are_stem_layers_head():
    groups = stages(paramscope.analyze("resnet50", measure="none"))
    assert [g.name for g in groups] == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    assert groups[0].span == "conv1..maxpool" and groups[-1].span == "avgpool..fc"
    assert groups[-1].params == 2_049_000  # fc 2048×1000 + 1000


def test_vgg_stem_cut_at_pools():
    groups = stages(paramscope.analyze("vgg-stem", measure="none"))
    assert [g.params for g in groups] == [1_792 + 36_928, 73_856 + 147_584]


def test_stage_table_and_charts_in_output():
    out = compare("resnet50", "cifar-resnet", "--no-layers").out
    assert "Per stage" in out and "Params per stage" in out and "MACs per stage" in out
    table = out.split("Per stage")[1].split("Params per stage")[0]
    total = next(line for line in table.splitlines() if line.startswith("total"))
    assert "25,557,032" in total and "175,258" in total
    stage_rows = [line for line in table.splitlines() if line.split("|")[0].strip() in
                  ("stem", "layer1", "layer2", "layer3", "layer4", "head")]
    assert len(stage_rows) == 6  # aligned by name; cifar-resnet has no layer4
    assert "#" in out.split("Params per stage")[1]  # ASCII bars when plain
    assert "█" not in out


# ---------------------------------------------------------------------- formats


def test_json_targets_and_ratios():
    result = run("compare", "vgg-stem", "resnet-stem", "--format", "json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert [t["target"] for t in data["targets"]] == ["vgg-stem", "resnet-stem"]
    assert [t["totals"]["params"] for t in data["targets"]] == [VGG_STEM, RESNET_STEM]
    from paramscope.perf import PerfOptions  # compare adds each target's receptive fields by default

    assert data["targets"][0] == paramscope.analyze("vgg-stem", measure="none",
                                                    perf=PerfOptions(receptive_field=True)).to_dict()
    ratio = data["ratios"][1]
    assert ratio["params"] == pytest.approx(RESNET_STEM / VGG_STEM, rel=1e-5)
    assert ratio["params_text"] == "27.5× fewer params"
    assert data["ratios"][0]["params"] == 1.0
    assert sum(s["params"] for s in data["stages"][0]) == VGG_STEM


def test_csv_one_row_per_target():
    result = run("compare", "plain-block", "bottleneck", "bottleneck-projection", "--format", "csv")
    assert result.code == 0, result.err
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert [r["target"] for r in rows] == ["plain-block", "bottleneck", "bottleneck-projection"]
    assert [int(r["params"]) for r in rows] == [PLAIN, BOTTLENECK, PROJECTION]
    for row in rows:
        report = paramscope.analyze(row["target"], measure="none")
        assert int(row["macs"]) == report.totals["macs"]
        assert int(row["flops"]) == report.totals["flops"]
        assert int(row["weight"]) + int(row["bias"]) == int(row["params"])
    assert float(rows[1]["params_ratio"]) == pytest.approx(BOTTLENECK / PLAIN, rel=1e-5)
    assert rows[2]["output_shape"] == "1x128x28x28"


def test_markdown_parses_back():
    result = run("compare", "vgg-stem", "resnet-stem", "--format", "markdown")
    assert result.code == 0, result.err
    tables = parse_markdown_tables(result.out)
    headline = tables[0]
    assert headline.header[1:] == ["vgg-stem", "resnet-stem"]
    assert headline.align[1:] == ["right", "right"]  # numbers right-aligned
    params = headline.row("params")
    assert number(params["vgg-stem"]) == VGG_STEM and number(params["resnet-stem"]) == RESNET_STEM
    assert headline.row("params vs first")["resnet-stem"] == "27.5× fewer params"
    stage = next(t for t in tables if t.heading == "Per stage")
    assert stage.row("total")["vgg-stem params"] == "260,160"
    for t in tables:
        for name, align in zip(t.header, t.align):
            if name.endswith("params"):
                assert align == "right", (t.heading, name)
    assert not ANSI.search(result.out) and not BOX_DRAWING.search(result.out)


def test_output_file(tmp_path):
    path = tmp_path / "cmp.md"
    result = run("compare", "vgg-stem", "resnet-stem", "--format", "markdown", "--output", str(path))
    assert result.code == 0, result.err
    assert result.out == ""
    assert "27.5× fewer params" in path.read_text(encoding="utf-8")
    txt = tmp_path / "cmp.txt"
    assert run("compare", "vgg-stem", "resnet-stem", "-o", str(txt)).code == 0
    text = txt.read_text(encoding="utf-8")
    assert "27.5× fewer params" in text and not ANSI.search(text) and not BOX_DRAWING.search(text)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# ---------------------------------------------------------------------- terminals


@pytest.mark.parametrize("columns", [40, 60, 80])
def test_narrow_terminal_keeps_lines_and_numbers_whole(columns):
    for targets in (("vgg-stem", "resnet-stem"), ("plain-block", "bottleneck", "bottleneck-projection"),
                    ("resnet50", "resnext50_32x4d", "cifar-resnet")):
        out = compare(*targets, columns=columns).out
        too_long = [line for line in out.splitlines() if len(line.rstrip()) > columns]
        assert not too_long, too_long[:3]
        assert not BOX_DRAWING.search(out) and not ANSI.search(out)
    out = compare("vgg-stem", "resnet-stem", columns=columns).out
    for figure in ("260,160", "9,472", "27.5× fewer params", "3×64×7×7 = 9,408"):
        assert figure in out, figure


def test_no_color_means_plain():
    out = compare("vgg-stem", "resnet-stem").out
    assert not ANSI.search(out) and not BOX_DRAWING.search(out)


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize("args, message", [
    (("vgg-stem",), "at least two targets"),
    (("vgg-stem", "no-such-net"), "unknown target"),
    (("vgg-stem", "resnet-stem", "--format", "xml"), "--format must be one of"),
    (("vgg-stem", "resnet-stem", "--plot", "chart.pdf"), ".png or .svg"),
    (("vgg-stem", "resnet-stem", "--measure", "tensorboard"), "unknown tool"),
])
def test_bad_input_exits_2(args, message):
    result = run("compare", *args)
    assert result.code == 2
    assert message in result.err and len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err


def test_plot_without_matplotlib(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    result = run("compare", "vgg-stem", "resnet-stem", "--plot", str(tmp_path / "p.png"))
    assert result.code == 2 and "matplotlib" in result.err
    assert not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_plot_with_matplotlib(tmp_path, suffix, magic):
    pytest.importorskip("matplotlib")
    path = tmp_path / f"stages{suffix}"
    result = run("compare", "resnet50", "cifar-resnet", "--no-layers", "--plot", str(path))
    assert result.code == 0, result.err
    assert path.read_bytes().startswith(magic)


def test_plot_axes_in_units():
    """The count axes read K/M/G (no ``1e9`` offset text above them)."""
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from paramscope.render.compare import stage_figure

    cmp = Comparison([paramscope.analyze(t, measure="none") for t in ("resnet50", "cifar-resnet")],
                     ["resnet50", "cifar-resnet"])
    fig = stage_figure(cmp)
    try:
        fig.canvas.draw()
        for ax in fig.axes:
            labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
            assert ax.yaxis.get_offset_text().get_text() == ""
            assert labels[0] == "0" and all(re.fullmatch(r"\d[\d,]*|\d+(\.\d+)? [KMG]", t) for t in labels), labels
        assert any(t.get_text().endswith(" G") for t in fig.axes[1].get_yticklabels())  # MACs: 4.09 G
        assert any(t.get_text().endswith(" M") for t in fig.axes[0].get_yticklabels())  # params: 25.56 M
    finally:
        plt.close(fig)


# ---------------------------------------------------------------------- library


def test_comparison_alignment_modes():
    cmp = Comparison([paramscope.analyze(t, measure="none") for t in ("vgg-stem", "resnet-stem")],
                     ["vgg-stem", "resnet-stem"])
    mode, rows = cmp.layer_alignment()
    assert mode == "position" and len(rows) == 4  # numbered Sequentials align by position
    assert [r.items[1] is None for r in rows] == [False, True, True, True]
    cmp = Comparison([paramscope.analyze(t, measure="none") for t in ("resnet50", "resnet101")],
                     ["resnet50", "resnet101"])
    mode, rows = cmp.layer_alignment()
    assert mode == "name"
    assert sum(r.items[1].params for r in rows if r.items[1]) == 44_549_160  # resnet101, reference table
    assert sum(r.items[0].params for r in rows if r.items[0]) == 25_557_032


def test_measured_mark_per_target():
    pytest.importorskip("paramscope.reconciling.run")
    result = run("compare", "resnet-stem", "conv-dense", "--measure", "all", "--no-layers")
    assert result.code == 0, result.err
    measured = next(line for line in result.out.splitlines() if line.startswith("measured"))
    assert measured.count("✓") == 2, measured
