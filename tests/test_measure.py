"""Each measurer's prediction (graph + formulas + the tool's rules) equals what the tool
itself measures, layer by layer and in total; fvcore's blind spots are named."""

from __future__ import annotations

from math import prod

import pytest
import torch
from torch import nn

from paramscope.errors import ParamscopeError
from paramscope.measure import MEASURERS
from paramscope.measure.base import Measurer
from paramscope.measure.fvcore import FvcoreMeasurer
from paramscope.tracing.trace import trace
from torch_models import GroupedSE, SeedResNeXt, TinyResNet, TokenMixer, vgg_stem

MODELS = {
    "resnet": (lambda: TinyResNet().eval(), (2, 3, 32, 32)),
    "resnet_train": (lambda: TinyResNet().train(), (2, 3, 32, 32)),
    "vgg_stem": (lambda: vgg_stem().eval(), (1, 3, 32, 32)),
    "grouped_se": (lambda: GroupedSE().eval(), (2, 64, 8, 8)),
    "tokens": (lambda: TokenMixer().eval(), (2, 5, 32)),
}


@pytest.fixture(scope="module")
def traced():
    cache = {}

    def get(key):
        if key not in cache:
            factory, shape = MODELS[key]
            model = factory()
            cache[key] = model, shape, trace(model, shape)
        return cache[key]

    return get


@pytest.mark.parametrize("tool", list(MEASURERS))
@pytest.mark.parametrize("key", MODELS)
def test_prediction_equals_measurement_per_layer(traced, key, tool):
    model, shape, graph = traced(key)
    measurer = MEASURERS[tool]()
    pred, meas = measurer.predict(graph), measurer.measure(model, shape, graph=graph)
    assert meas.status == "ok", meas.note
    for name in set(pred.layers) | set(meas.layers):
        p, m = pred.layers.get(name), meas.layers.get(name)
        assert (p.value if p else 0) == (m.value if m else 0), name
        if p and m and p.params is not None:
            assert p.params == m.params, name
        assert dict(p.unsupported if p else {}) == dict(m.unsupported if m else {}), name
    assert pred.total == meas.total
    assert pred.params == meas.params and pred.extras == meas.extras
    assert dict(pred.unsupported) == meas.unsupported
    assert pred.total - pred.baseline_total == sum(pred.differences.values())


def test_fvcore_padding_same_is_a_named_blind_spot(traced):
    model, shape, graph = traced("vgg_stem")
    fv = FvcoreMeasurer()
    pred, meas = fv.predict(graph), fv.measure(model, shape, graph=graph)
    assert meas.total == 0 and meas.unsupported["aten::_convolution_mode"] == 4
    row = pred.layers["0"]
    assert row.value == 0 and row.baseline == 1 * 32 * 32 * 3 * 64 * 9
    assert row.unsupported == {"aten::_convolution_mode": 1}
    assert "aten::_convolution_mode" in row.blind_spots[0] and "'same'" in row.blind_spots[0]
    assert pred.differences["unsupported aten::_convolution_mode"] == -pred.baseline_total
    assert meas.layers["4"].unsupported == {"aten::max_pool2d": 1}


def test_torchinfo_conventions(traced):
    _, _, graph = traced("tokens")
    pred = MEASURERS["torchinfo"]().predict(graph)
    qkv = pred.layers["qkv"]
    assert qkv.value == 2 * (32 * 96 + 96)  # params × batch, not × tokens
    assert qkv.differences["bias terms"] == 2 * 96
    assert qkv.differences["Linear: params × batch item instead of MACs"] == 2 * 32 * 96 - 2 * 5 * 32 * 96
    assert pred.layers[""].differences["functional matmul (not counted)"] == -(2 * 5 * 5 * 32) * 2
    assert pred.layers[""].blind_spots


def test_flop_counter_twice_macs_no_bias(traced):
    _, _, graph = traced("grouped_se")
    pred = MEASURERS["flop_counter"]().predict(graph)
    assert pred.layers["conv"].value == 2 * 2 * 8 * 8 * 128 * 2 * 9
    assert pred.layers["conv"].differences == {"bias terms (not counted)": -2 * 128 * 8 * 8}
    assert pred.differences["BatchNorm2d (not counted)"] < 0
    assert pred.layers["bn"].value == 0


def test_fvcore_batchnorm_depends_on_mode(traced):
    fv = FvcoreMeasurer()
    eval_bn = fv.predict(traced("resnet")[2]).layers["stem.1"].value
    train_bn = fv.predict(traced("resnet_train")[2]).layers["stem.1"].value
    assert (eval_bn, train_bn) == (2 * 2 * 16 * 16 * 16, 5 * 2 * 16 * 16 * 16)


def test_seed_resnext50_torchinfo_summary_figures():
    """Seed 003: torchinfo summary of the seed ResNeXt-50 at batch 2."""
    with torch.device("meta"):
        model = SeedResNeXt()
    graph = trace(model, (2, 3, 224, 224))
    ti = MEASURERS["torchinfo"]()
    pred, meas = ti.predict(graph), ti.measure(model, (2, 3, 224, 224))
    for figures in (pred, meas):
        assert figures.params == 25_028_904 and figures.extras["trainable_params"] == 25_028_904
        assert figures.total == 7_536_254_160
        mb = {k: f"{v / 1e6:.2f}" for k, v in figures.extras.items() if k.endswith("bytes")}
        assert mb == {"input_bytes": "1.20", "forward_backward_bytes": "427.11",
                      "params_bytes": "100.12", "total_bytes": "528.43"}
    assert pred.layers == {} or all(pred.layers[n].value == meas.layers[n].value
                                    for n in meas.layers)


def test_fvcore_budget_skip_says_how_to_force(traced):
    model, shape, graph = traced("resnet")
    meas = FvcoreMeasurer(budget_bytes=1000).measure(model, shape, graph=graph)
    assert meas.status == "skipped" and meas.layers == {}
    assert "budget" in meas.note and "FvcoreMeasurer(budget_bytes=" in meas.note
    need = FvcoreMeasurer.estimate_bytes(graph)
    params = sum(p.numel() for p in model.parameters()) * 4
    acts = sum(prod(n.out_shape) * 4 for n in graph.nodes)
    assert need == params + acts + prod(shape) * 4


def test_fvcore_budget_from_environment(monkeypatch):
    monkeypatch.setenv("PARAMSCOPE_FVCORE_BUDGET", "123")
    assert FvcoreMeasurer().budget_bytes == 123


def test_measurers_leave_model_untouched():
    model = TinyResNet().train()
    params = {n: (id(p), p.data_ptr()) for n, p in model.named_parameters()}
    tracked = model.stem[1].num_batches_tracked.item()
    for tool in MEASURERS:
        MEASURERS[tool]().measure(model, (1, 3, 32, 32))
    assert {n: (id(p), p.data_ptr()) for n, p in model.named_parameters()} == params
    assert model.training and all(m.training for m in model.modules())
    assert model.stem[1].num_batches_tracked.item() == tracked
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_registry_declares_conventions():
    for name in MEASURERS:
        cls = MEASURERS[name]
        assert issubclass(cls, Measurer) and cls.name == name
        assert cls.device in ("meta", "cpu") and cls.baseline in ("macs", "flops")
        assert len(cls.convention) > 200 and cls.metric
    with pytest.raises(ParamscopeError, match="did you mean fvcore"):
        MEASURERS["fvcor"]


def test_unknown_kind_with_visible_ops_is_predicted_exactly():
    """A module with no formula whose arithmetic is a recorded op (``@``) is composite:
    the tools' counts of it are predicted and must equal what they measure."""
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(3, 3))

        def forward(self, x):
            return x @ self.w

    model = nn.Sequential(Odd())
    graph = trace(model, (2, 3))
    for tool in ("fvcore", "flop_counter", "torchinfo"):
        measurer = MEASURERS[tool]()
        predicted = measurer.predict(graph).layers["0"].value
        measured = measurer.measure(model, (2, 3), graph=graph).layers["0"].value
        assert predicted == measured, tool
    assert MEASURERS["flop_counter"]().predict(graph).layers["0"].value == 2 * 2 * 3 * 3


def test_unknown_kind_with_invisible_ops_is_not_predicted():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(3))

        def forward(self, x):
            return torch.fft.rfft(x, dim=1).real * 1.0  # an op paramscope has no formula for

    graph = trace(nn.Sequential(Odd()), (2, 3))
    assert "0:torch.fft.rfft (aten._fft_r2c)" in graph.unrecorded_ops
    # torchinfo's rule needs no formula: a parameter not named weight/bias counts 0
    assert MEASURERS["torchinfo"]().predict(graph).layers["0"].value == 0


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
def test_upsample_and_interpolate_reconcile_with_every_tool(mode):
    """nn.Upsample and F.interpolate: formula FLOPs per mode; each tool predicted exactly."""
    from paramscope.formulas import cost_of
    from paramscope.formulas.resample import RESAMPLE_FLOPS

    class Up(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 4, 1)
            self.up = nn.Upsample(scale_factor=2, mode=mode)

        def forward(self, x):
            y = self.up(self.c(x))
            return torch.nn.functional.interpolate(y, scale_factor=0.5, mode=mode)

    model = Up().eval()
    graph = trace(model, (1, 3, 8, 8))
    ups = [n for n in graph.nodes if n.kind == "Upsample"]
    assert len(ups) == 2 and ups[1].functional
    per_element = RESAMPLE_FLOPS.get(mode, (0, ""))[0]
    assert cost_of(ups[0]).flops == per_element * 1 * 4 * 16 * 16
    assert cost_of(ups[1]).flops == per_element * 1 * 4 * 8 * 8
    for tool in ("torchinfo", "fvcore", "flop_counter"):
        measurer = MEASURERS[tool]()
        predicted, measured = measurer.predict(graph), measurer.measure(model, (1, 3, 8, 8), graph=graph)
        assert predicted.total == measured.total, tool


def test_exclusive_counts_skip_containers_that_never_run():
    """nn.ModuleList children ('layers.0') count against the nearest module that ran."""
    from collections import Counter

    from paramscope.measure.base import exclusive

    own = exclusive({"": Counter(mm=10), "layers.0": Counter(mm=4), "layers.0.fc": Counter(mm=3),
                     "layers.1": Counter(mm=6)})
    assert own == {"": Counter(), "layers.0": Counter(mm=1), "layers.0.fc": Counter(mm=3),
                   "layers.1": Counter(mm=6)}


def test_transformer_encoder_reconciles_per_module():
    from paramscope.reconciling.reconcile import compare

    model = nn.TransformerEncoder(nn.TransformerEncoderLayer(32, 4, 64, batch_first=True), 2).eval()
    report = compare(model, (2, 5, 32), tools=["flop_counter", "torchinfo"])
    assert report.tools["flop_counter"].agrees and report.tools["torchinfo"].agrees
