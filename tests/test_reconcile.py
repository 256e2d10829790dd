"""reconcile / compare: verdicts per (module, tool), failure isolation, explained totals."""

from __future__ import annotations

import torch

import dataclasses

import pytest

from paramscope.measure.base import LayerCount, Measurer
from paramscope.measure.fvcore import FvcoreMeasurer
from paramscope.measure import MEASURERS
from paramscope.reconciling.reconcile import UNEXPLAINED, compare, reconcile
from paramscope.tracing.trace import trace
from torch_models import GroupedSE, TinyResNet, vgg_stem


def cells(report, tool):
    return {row.name: row.cells[tool] for row in report.rows}


def test_all_tools_agree_on_a_resnet_block():
    report = compare(TinyResNet().eval(), (2, 3, 32, 32))
    for tool, summary in report.tools.items():
        assert summary.agrees, (tool, summary)
        assert set(summary.counts) == {"match"}, tool
        explained = sum(v for _, v in summary.differences)
        assert summary.measured_total - summary.paramscope_total == explained, tool
    assert report.params == sum(p.numel() for p in TinyResNet().parameters())
    fv = cells(report, "fvcore")
    assert "aten::max_pool2d" in fv["stem.3"].reason and fv["stem.3"].status == "match"
    diffs = dict(report.tools["torchinfo"].differences)
    assert diffs["bias terms"] == 2 * 16 * 16 * 16 + 2 * 10  # stem conv + fc
    assert diffs["BatchNorm2d"] > 0 and UNEXPLAINED not in diffs


def test_padding_same_is_unsupported_not_a_match():
    report = compare(vgg_stem().eval(), (1, 3, 32, 32), tools=["fvcore", "flop_counter"])
    fv = cells(report, "fvcore")
    for conv in ("0", "2", "5", "7"):
        assert fv[conv].status == "unsupported", conv
        assert "aten::_convolution_mode" in fv[conv].reason and fv[conv].measured == 0
    summary = report.tools["fvcore"]
    assert summary.measured_total == 0 and summary.unsupported["aten::_convolution_mode"] == 4
    assert dict(summary.differences) == {
        "unsupported aten::_convolution_mode": -summary.paramscope_total}
    assert report.tools["flop_counter"].agrees
    assert all(c.status == "match" for c in cells(report, "flop_counter").values())


class Exploding(Measurer):
    name, metric, baseline, device, convention = "exploding", "x", "macs", "meta", "never works"

    def measure(self, model, input_shape, dtype="float32", *, graph=None):
        raise RuntimeError("tool crashed\nwith two lines")

    def count(self, node, cost, graph):
        return MEASURERS["torchinfo"]().count(node, cost, graph)


def test_a_failing_measurer_fails_only_its_column():
    report = compare(GroupedSE().eval(), (1, 64, 8, 8),
                     tools=["flop_counter", Exploding(), FvcoreMeasurer(budget_bytes=10)])
    boom = report.tools["exploding"]
    assert boom.status == "failed" and "RuntimeError: tool crashed with two lines" in boom.reason
    assert not boom.agrees
    assert {c.status for c in cells(report, "exploding").values()} == {"failed"}
    assert report.tools["flop_counter"].agrees
    skipped = report.tools["fvcore"]
    assert skipped.status == "skipped" and "budget" in skipped.reason
    assert {c.status for c in cells(report, "fvcore").values()} == {"skipped"}
    assert skipped.predicted_total is not None  # the prediction still stands


def test_a_failing_prediction_fails_its_column():
    class BadRules(Exploding):
        name = "badrules"

        def measure(self, model, input_shape, dtype="float32", *, graph=None):
            return MEASURERS["torchinfo"]().measure(model, input_shape, dtype)

        def count(self, node, cost, graph):
            raise KeyError("rule")

    report = compare(GroupedSE().eval(), (1, 64, 8, 8), tools=[BadRules(), "torchinfo"])
    assert report.tools["badrules"].status == "failed"
    assert "prediction failed" in report.tools["badrules"].reason
    assert report.tools["torchinfo"].agrees


def test_mismatch_is_reported_with_both_figures():
    model = GroupedSE().eval()
    graph = trace(model, (1, 64, 8, 8))
    tool = MEASURERS["flop_counter"]()
    pred, meas = tool.predict(graph), tool.measure(model, (1, 64, 8, 8))
    meas.layers["conv"] = LayerCount(meas.layers["conv"].value + 7)
    meas.total += 7
    report = reconcile(graph, {tool.name: tool}, {tool.name: pred}, {tool.name: meas})
    cell = cells(report, tool.name)["conv"]
    assert cell.status == "mismatch" and cell.measured - cell.predicted == 7
    assert "predicted" in cell.reason and "measured" in cell.reason
    summary = report.tools[tool.name]
    assert not summary.agrees and dict(summary.differences)[UNEXPLAINED] == 7
    assert summary.paramscope_total + sum(v for _, v in summary.differences) == meas.total


def test_torchinfo_param_and_memory_checks():
    report = compare(TinyResNet().eval(), (1, 3, 32, 32), tools=["torchinfo"])
    checks = report.tools["torchinfo"].checks
    assert checks["params"][0] == checks["params"][1] == report.params
    assert {"input_bytes", "forward_backward_bytes", "params_bytes", "total_bytes"} <= set(checks)
    assert all(p == m for p, m in checks.values())


def test_report_rows_are_plain_dataclasses():
    report = compare(GroupedSE().eval(), (1, 64, 8, 8), tools=["flop_counter"])
    assert dataclasses.is_dataclass(report) and all(dataclasses.is_dataclass(r) for r in report.rows)
    se = next(r for r in report.rows if r.name == "se")
    assert se.macs == 0 and se.flops == 128 * 8 * 8  # the gate multiply
    assert [r.name for r in report.rows][:2] == ["conv", "bn"]


def test_unknown_tool_name():
    from paramscope.errors import ParamscopeError

    with pytest.raises(ParamscopeError, match="unknown measurer"):
        compare(GroupedSE(), (1, 64, 8, 8), tools=["nope"])


def test_run_measurers_fills_the_analysis_report():
    from paramscope.analysis import analyze

    report = analyze(vgg_stem().eval(), (1, 3, 32, 32), fvcore_budget=10**9)
    assert report.measurers["torchinfo"].status == "match"
    assert report.measurers["flop_counter"].status == "match"
    fv = report.measurers["fvcore"]
    assert fv.status in ("match", "unsupported") and len(fv.explanation) == 1
    assert "aten::_convolution_mode" in fv.explanation[0].category
    assert fv.explanation[0].amount == fv.total[fv.extra["metric"]] - fv.extra["paramscope_total"]
    assert fv.unsupported_ops["aten::_convolution_mode"] == 4
    first = report.layers[0]
    assert first.measured["fvcore"].status == "unsupported"
    assert first.measured["flop_counter"].status == "match"
    memory = report.measurers["torchinfo"].extra["memory"]
    assert memory["predicted"] == memory["measured"]


def test_unmodelled_functional_op_is_paramscope_blind_spot():
    from torch import nn

    class Gram(nn.Module):  # an FFT has no formula: paramscope's gap, named; no tool blamed
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(32, 32)

        def forward(self, x):
            y = self.proj(x)
            return torch.fft.rfft(torch.einsum("bld,bmd->blm", y, y), dim=-1).real + 1.0

    model = nn.Sequential(Gram()).eval()
    report = compare(model, (2, 5, 32), tools=["flop_counter", "torchinfo"])
    cell = cells(report, "flop_counter")["0"]
    assert cell.status == "match" and cell.predicted == cell.measured  # the tool's count is known
    assert any("aten._fft_r2c" in note for row in report.rows for note in row.notes)
    summary = report.tools["flop_counter"]
    assert summary.agrees and UNEXPLAINED not in dict(summary.differences)
    assert summary.paramscope_total + sum(v for _, v in summary.differences) == summary.measured_total
    assert report.tools["torchinfo"].agrees
    assert report.params == sum(p.numel() for p in model.parameters())


def test_op_without_formula_makes_check_fail_naming_it(cli, fft_factory):
    """A forward that runs torch.fft.rfft2: complete is false, check exits 1 naming the aten
    op, and --allow-incomplete lets it pass."""
    target = fft_factory("fftnet")
    code, out, err = cli("check", target, "--input", "1x3x16x16", "--measure", "flop_counter")
    assert code == 1, out + err
    assert "aten._fft_r2c" in out and "INCOMPLETE" in out
    code, out, err = cli("check", target, "--input", "1x3x16x16", "--measure", "flop_counter",
                         "--allow-incomplete")
    assert code == 0, out + err


def test_transformer_layer_attention_is_modelled():
    from torch import nn

    model = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True).eval()
    report = compare(model, (2, 5, 32), tools=["flop_counter", "torchinfo"])
    assert cells(report, "flop_counter")["self_attn"].status == "match"
    assert report.tools["flop_counter"].agrees
    assert report.tools["torchinfo"].agrees  # out_proj's params: self_attn's leftover
    assert report.params == sum(p.numel() for p in model.parameters())
