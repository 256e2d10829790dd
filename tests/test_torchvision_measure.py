"""Cross-check against torchvision models (skipped when torchvision is not installed):
every tool's prediction equals its measurement per layer, and the totals equal
reference.md (torch 2.14.1, torchinfo 1.8.0, fvcore 0.1.5)."""

from __future__ import annotations

import pytest

torchvision = pytest.importorskip("torchvision")
import torch  # noqa: E402

from paramscope.reconciling.reconcile import compare  # noqa: E402
from paramscope.tracing.trace import trace  # noqa: E402

pytestmark = pytest.mark.torchvision

#: params, MACs (= FlopCounterMode / 2), torchinfo mult-adds, fvcore total (224×224, batch 1).
REFERENCE = {
    "resnet18": (11_689_512, 1_814_073_344, 1_814_083_944, 1_819_065_856),
    "resnet50": (25_557_032, 4_089_184_256, 4_089_238_376, 4_111_512_576),
    "resnext50_32x4d": (25_028_904, 4_230_479_872, 4_230_549_096, None),
    "vgg16": (138_357_544, 15_470_264_320, 15_483_821_032, 15_470_289_408),
    "mobilenet_v2": (None, None, None, None),
    "regnet_x_400mf": (None, None, None, None),
}


def build(name):
    factory = getattr(torchvision.models, name)
    try:
        with torch.device("meta"):
            return factory().eval()
    except NotImplementedError:  # regnet computes its widths with real tensors
        return factory().eval()


def assert_all_match(report, tools):
    for tool in tools:
        summary = report.tools[tool]
        bad = [(r.name, r.cells[tool].reason) for r in report.rows
               if r.cells[tool].status != "match"]
        assert summary.agrees and not bad, (tool, summary.reason, bad[:5])


@pytest.mark.parametrize("name", REFERENCE)
def test_torchvision_predictions_equal_measurements(name):
    model = build(name)
    params, macs, mult_adds, _ = REFERENCE[name]
    report = compare(model, (1, 3, 224, 224), tools=["torchinfo", "flop_counter"])
    assert_all_match(report, ["torchinfo", "flop_counter"])
    assert report.params == sum(p.numel() for p in model.parameters())
    assert report.macs * 2 == report.tools["flop_counter"].measured_total
    if params is not None:
        assert (report.params, report.macs) == (params, macs)
        assert report.tools["torchinfo"].measured_total == mult_adds
    small = compare(model, (1, 3, 64, 64), tools=["fvcore"], graph=trace(model, (1, 3, 64, 64)))
    assert_all_match(small, ["fvcore"])


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "vgg16"])
def test_torchvision_fvcore_reference_totals(name):
    model = build(name)
    report = compare(model, (1, 3, 224, 224), tools=["fvcore"])
    assert_all_match(report, ["fvcore"])
    assert report.tools["fvcore"].measured_total == REFERENCE[name][3]
