"""Receptive fields against hand-derived figures and an independent gradient measurement."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from rf_gradient import check_model
from torch import nn

import paramscope
from paramscope.analysis import subject_for
from paramscope.api import builtin_targets
from paramscope.perf.receptive import receptive_fields


def _axes(rf):
    return [(a.size, a.jump, a.start, a.indexed) for a in rf.axes]


def test_resnet_stem_by_hand():
    # 7×7/2 conv, padding 3: size 7, jump 2, start −3; then max-pool 2/2: size 7 + 1·2 = 9, jump 4
    sub = subject_for("resnet-stem")
    rf = receptive_fields(sub.meta_model(), sub.graph.input_shape)
    assert _axes(rf.layers["0"]) == [(7, 2, -3, True)] * 2
    assert _axes(rf.layers["1"]) == [(9, 4, -3, True)] * 2


def test_vgg_stem_by_hand():
    # 3×3 convs (padding 1) grow the field by 2·jump, each 2×2 pool by 1·jump and doubles the jump
    sub = subject_for("vgg-stem")
    rf = receptive_fields(sub.meta_model(), sub.graph.input_shape)
    sizes = {k: (v.axes[0].size, v.axes[0].jump, v.axes[0].start) for k, v in rf.layers.items()}
    assert sizes["0"] == (3, 1, -1) and sizes["2"] == (5, 1, -2) and sizes["4"] == (6, 2, -2)
    assert sizes["5"] == (10, 2, -4) and sizes["7"] == (14, 2, -6) and sizes["9"] == (16, 4, -6)


def _small_input(name):
    shape = subject_for(name).graph.input_shape
    return (*shape[:2], 32, 32) if shape[-1] > 32 else shape  # clipping to the input is part of the check


@pytest.mark.parametrize("name", list(builtin_targets()))
def test_builtin_configs_agree_with_gradients(name):
    """Eight layer outputs per config at 32×32, spread over the network
    (tests/rf_configs_check.py checks every one at 64×64)."""
    shape = _small_input(name)
    sub = subject_for(name, shape)
    predicted = receptive_fields(sub.meta_model(), shape)
    checked, bad = check_model(paramscope.build(name), shape, predicted, dedupe=True, limit=8)
    assert checked > 0 and not bad, bad[:5]
    known = [k for k, v in predicted.layers.items() if not v.unknown]
    assert known, "no receptive field was computed"


class Branches(nn.Module):
    """Residual, concatenated branches of different sizes, dilation, 'same' padding with an
    even kernel (asymmetric), a strided slice, explicit padding and a ceil-mode average pool."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=2, dilation=2)
        self.b = nn.Conv2d(3, 4, (5, 1), padding=(2, 0))
        self.c = nn.Conv2d(8, 8, 4, padding="same")
        self.pool = nn.AvgPool2d(3, 2, padding=1, ceil_mode=True)
        self.d = nn.Conv2d(8, 8, 3, stride=2)

    def forward(self, x):
        y = torch.cat([self.a(x), self.b(x)], 1)
        y = y + self.c(y)
        y = self.pool(y)
        y = F.pad(y, (1, 2, 0, 1))
        y = y[:, :, ::2, 1:]
        return self.d(y)


def test_branches_and_padding_agree_with_gradients():
    model = Branches()
    shape = (1, 3, 41, 37)
    predicted = receptive_fields(model, shape)
    checked, bad = check_model(model, shape, predicted)
    assert checked >= 6 and not bad, bad
    a, b = predicted.layers["a"], predicted.layers["b"]
    assert _axes(a) == [(5, 1, -2, True)] * 2 and _axes(b) == [(5, 1, -2, True), (1, 1, 0, True)]


class Unruly(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.up = nn.ConvTranspose2d(4, 4, 2, stride=2)
        self.head = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        return self.head(self.up(self.conv(x)))


def test_an_op_without_rule_is_named_not_guessed():
    rf = receptive_fields(Unruly(), (1, 3, 16, 16))
    assert _axes(rf.layers["conv"]) == [(3, 1, 0, True)] * 2
    assert "transposed convolution" in rf.layers["up"].unknown
    assert rf.layers["head"].unknown  # everything after it stays unknown
    assert rf.unknown_ops == {"aten.convolution": 1}


def test_global_pool_and_linear_make_the_axis_global():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    rf = receptive_fields(model, (1, 3, 10, 12))
    # every output sees the union of the 10 (12) windows of size 3 starting at −1
    assert [(a.size, a.start, a.indexed) for a in rf.layers["3"].axes] == [(12, -1, False), (14, -1, False)]
    checked, bad = check_model(model, (1, 3, 10, 12), rf)
    assert checked and not bad, bad


def test_summary_json_and_table_show_receptive_fields(cli):
    result = cli("summary", "resnet-stem", "--rf", "--measure", "none", "--format", "json")
    import json

    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["layers"][1]["receptive_field"]["axes"][0] == {"size": 9, "jump": 4, "start": -3, "global": False}
    assert data["totals"]["receptive_field"]["axes"][1]["size"] == 9
    table = cli("summary", "resnet-stem", "--rf", "--measure", "none").out
    assert "9×9 /4" in table


def test_compare_headline_vgg_vs_resnet_stem(cli):
    out = cli("compare", "vgg-stem", "resnet-stem", "--no-layers").out
    line = next(l for l in out.splitlines() if l.startswith("receptive field"))
    assert "16×16 /4" in line and "9×9 /4" in line


def test_squeeze_excite_gate_makes_every_output_global():
    from torch_models import GroupedSE

    model = GroupedSE().eval()
    shape = (1, 64, 12, 12)
    rf = receptive_fields(model, shape)
    assert _axes(rf.layers["conv"]) == [(3, 1, -1, True)] * 2
    assert not any(a.indexed for a in rf.layers["se:mul"].axes)  # the gate sees the whole input
    checked, bad = check_model(model, shape, rf)
    assert checked >= 4 and not bad, bad


@pytest.mark.torchvision
@pytest.mark.parametrize("name", ["resnet50", "vgg16", "mobilenet_v2", "googlenet"])
def test_torchvision_models_agree_with_gradients(name):
    """Eight layer outputs per model at 64×64 (vgg16: 224, where its adaptive pool is 7 -> 7);
    tests/rf_torchvision_check.py checks every layer output."""
    pytest.importorskip("torchvision")
    from rf_torchvision_check import check

    checked, bad, predicted = check(name, size=224 if name == "vgg16" else 64, limit=8)
    assert checked > 0 and not bad, bad[:5]
    assert not predicted.unknown_ops
    assert not any(a.indexed for a in predicted.output.axes)  # the classifier sees the whole image


#: published receptive fields (size, effective stride, effective padding) of the last feature
#: map, Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional Neural Networks",
#: Distill 2019, table of common networks
PUBLISHED = {"vgg16": ("features.30", 212, 32, 90), "resnet50": ("layer4.2.relu#2", 427, 32, 213),
             "mobilenet_v2": ("features.18.2", 491, 32, 245)}


@pytest.mark.torchvision
@pytest.mark.parametrize("name", list(PUBLISHED))
def test_torchvision_receptive_fields_equal_published_figures(name):
    tv = pytest.importorskip("torchvision")
    key, size, jump, padding = PUBLISHED[name]
    model = getattr(tv.models, name)().eval()
    rf = receptive_fields(model, (1, 3, 224, 224)).layers[key]
    assert _axes(rf) == [(size, jump, -padding, True)] * 2
