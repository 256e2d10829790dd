"""``paramscope explain``: the derivation written from the formula terms, checked against the
seed articles' arithmetic (reference.md) and re-evaluated independently."""

from __future__ import annotations

import csv
import io
import json

import pytest

from render_helpers import ANSI, BOX_DRAWING, check_golden, evaluate, number, run

import paramscope
from paramscope.render.explain import explain
from paramscope.reconciling.grouping import group_by_depth


def explain_cli(*args: str, columns: int = 100):
    result = run("explain", *args, columns=columns)
    assert result.code == 0, result.err
    return result.out


def test_golden_bottleneck_projection():
    check_golden("explain_bottleneck-projection.txt", explain_cli("bottleneck-projection"))


def test_bottleneck_projection_derivation():
    out = explain_cli("bottleneck-projection")
    for line in ("block.conv1: params = 64×64×1×1 + 64 = 4,160",
                 "block.conv2: params = 64×64×3×3 + 64 = 36,928",
                 "block.conv3: params = 64×128×1×1 + 128 = 8,320",
                 "block.conv_shortcut.0: params = 64×128×1×1 + 128 = 8,320",
                 "57,728 = (64×64×1×1 + 64) + (64×64×3×3 + 64) + (64×128×1×1 + 128) + (64×128×1×1 + 128)"):
        assert line in out, line
    # MACs with the output size: the strided 3×3 conv runs on 28×28
    assert "block.conv2: macs = 1×28×28 × 64×64×3×3 = 28,901,376  (output 1×64×28×28)" in out


def test_vgg_stem_sum_is_the_seed_articles():
    out = explain_cli("vgg-stem")
    assert ("260,160 = (3×64×3×3 + 64) + (64×64×3×3 + 64) + (64×128×3×3 + 128) + (128×128×3×3 + 128)"
            in out)
    assert "0: params = 3×64×3×3 + 64 = 1,792" in out
    out = explain_cli("resnet-stem")
    assert "9,472 = (3×64×7×7 + 64)" in out


def test_every_expression_evaluates_to_its_value():
    for target in ("vgg-stem", "bottleneck-projection", "cifar-resnet", "conv-grouped"):
        result = run("explain", target, "--quantity", "all", "--format", "json")
        assert result.code == 0, result.err
        data = json.loads(result.out)
        for layer in data["layers"]:
            for term in layer["terms"]:
                assert evaluate(term["expression"]) == term["value"], (target, layer["name"], term)
        for quantity, total in data["sums"].items():
            expression = total["expression"].split("  (")[0]
            assert evaluate(expression) == total["value"], (target, quantity)
            for group in total["groups"]:
                if group["expression"]:
                    assert evaluate(group["expression"]) == group["value"]


@pytest.mark.parametrize("target, params, macs", [("resnet50", 25_557_032, 4_089_184_256),
                                                  ("cifar-resnet", 175_258, None),
                                                  ("resnext50", 25_028_904, None)])
def test_long_networks_sum_by_stage(target, params, macs):
    exp = explain(paramscope.analyze(target, measure="none"))
    p = exp.sections[0]
    assert p.total == params  # reference.md
    assert len(p.groups) > 1  # per-stage sums, then the total of the subtotals
    stage_values = [int(sub.split(" = ")[0].split(": ")[1].replace(",", "")) for _, rows, sub in p.groups
                    if len(rows) > 1] + [rows[0].params for _, rows, _ in p.groups if len(rows) == 1]
    assert sum(stage_values) == params
    assert evaluate(p.total_line.split(" = ", 1)[1].split("  (")[0]) == params
    if macs is not None:
        assert exp.sections[1].total == macs


def test_resnet50_text_has_stage_subtotals():
    out = explain_cli("resnet50")
    assert "layer1: 215,808 = " in out
    assert "25,557,032 = 9,536 + 215,808 + 1,219,584 + 7,098,368 + 14,964,736 + 2,049,000" in out
    assert "(stem + layer1 + layer2 + layer3 + layer4 + head)" in out.replace("\n      ", " ").replace("\n    ", " ")


def test_zoom_into_a_container():
    out = explain_cli("resnet50", "layer1.0")
    report = paramscope.analyze("resnet50", measure="none")
    block = next(g for g in group_by_depth(report, 2) if g.name == "layer1.0")
    assert f"layer1.0: {block.params:,} = " in out
    assert block.params == 75_008  # 4,096+128 + 36,864+128 + 16,384+512 + 16,384+512
    assert "layer2" not in out
    out2 = explain_cli("resnet50", "--layer", "layer1.0")
    assert out2 == out


def test_zoom_into_one_layer_shows_every_term():
    out = explain_cli("conv-grouped", "conv")
    assert "weight = 64/32×128×3×3 = 2,304" in out
    assert "bias = 128" in out
    assert "params = 64/32×128×3×3 + 128 = 2,432" in out
    assert "macs = 1×54×54 × 64/32×128×3×3 = 6,718,464" in out
    assert "groups=32" in out


def test_zoom_into_a_stage_and_several_layers():
    out = explain_cli("resnet50", "head")
    assert "fc: params = 2,048×1,000 + 1,000 = 2,049,000" in out
    out = explain_cli("bottleneck-projection", "block.conv1", "block.conv_shortcut")
    assert "weight = 64×64×1×1 = 4,096" in out and "64×128×1×1 + 128 = 8,320" in out


def test_unknown_layer_exits_2_with_closest_names():
    result = run("explain", "resnet50", "layer1.0.conv9")
    assert result.code == 2
    assert "layer1.0.conv1" in result.err and "did you mean" in result.err
    assert len(result.err.strip().splitlines()) == 1
    result = run("explain", "resnet50", "--layer", "zzzzzz")
    assert result.code == 2 and "no layer 'zzzzzz'" in result.err


def test_flops_on_request():
    out = explain_cli("bottleneck-projection", "--quantity", "params,macs,flops")
    assert "FLOPs" in out and "block.relu: flops = " in out
    out = explain_cli("bottleneck-projection")
    assert "block.relu: flops" not in out


def test_formats_parse_back(tmp_path):
    result = run("explain", "bottleneck-projection", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.out)))
    total = next(r for r in rows if r["layer"] == "(total)" and r["quantity"] == "params")
    assert int(total["value"]) == 57_728 and evaluate(total["expression"]) == 57_728
    weights = [int(r["value"]) for r in rows if r["quantity"] == "weight"]
    assert weights == [4_096, 36_864, 8_192, 8_192]
    md = run("explain", "bottleneck-projection", "--format", "markdown").out
    assert "```text" in md and "57,728 = (64×64×1×1 + 64)" in md and md.count("```") % 2 == 0
    path = tmp_path / "explain.txt"
    assert run("explain", "vgg-stem", "--output", str(path)).code == 0
    text = path.read_text(encoding="utf-8")
    assert "260,160 = (3×64×3×3 + 64)" in text and not ANSI.search(text) and not BOX_DRAWING.search(text)


@pytest.mark.parametrize("columns", [40, 60])
def test_narrow_terminal_wraps_between_terms(columns):
    out = explain_cli("resnet50", columns=columns)
    assert all(len(line) <= columns for line in out.splitlines())
    # numbers and expressions are never split: every token of the total survives intact
    joined = " ".join(out.split())
    assert "25,557,032 = 9,536 + 215,808 + 1,219,584 + 7,098,368 + 14,964,736 + 2,049,000" in joined
    for token in ("64×64×3×3", "2,048×1,000", "4,089,184,256"):
        assert token in out


def test_number_helper_sanity():
    assert number("25,557,032") == 25_557_032
    assert evaluate("1×28×28 × 64/32×128×3×3 + 1,000") == 28 * 28 * 2 * 128 * 9 + 1000
