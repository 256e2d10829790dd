"""``paramscope.analyze`` leaves a user's model exactly as it was (issue: thop's complaint).

Same parameter and buffer tensors (identity, storage, values), same device, same
train/eval mode of every submodule, no hooks or attributes added — after a full
analysis with all three measurers, and when the model's forward raises.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import paramscope
from paramscope.errors import ParamscopeError


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU()
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        y = self.act(self.bn(self.conv(x)))
        return self.head(y.mean((2, 3)))


class Exploding(Block):
    def forward(self, x):
        super().forward(x)
        raise RuntimeError("boom")


def snapshot(model: nn.Module) -> dict:
    return {
        "tensors": {n: (id(t), t.data_ptr(), t.device, t.dtype, t.requires_grad, t.detach().clone())
                    for n, t in [*model.named_parameters(), *model.named_buffers()]},
        "modes": {n: m.training for n, m in model.named_modules()},
        "hooks": {n: (len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks))
                  for n, m in model.named_modules()},
        "attrs": {n: sorted(vars(m)) for n, m in model.named_modules()},
    }


def assert_same(before: dict, model: nn.Module) -> None:
    after = snapshot(model)
    assert after["modes"] == before["modes"]
    assert after["hooks"] == before["hooks"]
    assert after["attrs"] == before["attrs"]
    assert after["tensors"].keys() == before["tensors"].keys()
    for name, (ident, ptr, device, dtype, grad, value) in before["tensors"].items():
        a_ident, a_ptr, a_device, a_dtype, a_grad, a_value = after["tensors"][name]
        assert (a_ident, a_ptr, a_device, a_dtype, a_grad) == (ident, ptr, device, dtype, grad), name
        assert torch.equal(a_value, value), f"{name} changed value"


@pytest.mark.parametrize("train", [True, False])
def test_full_analysis_leaves_model_untouched(train):
    torch.manual_seed(0)
    model = Block().train(train)
    model.bn.running_mean.uniform_()
    before = snapshot(model)
    report = paramscope.analyze(model, (2, 3, 16, 16), measure="all")
    assert report.totals["params"] == sum(p.numel() for p in model.parameters())
    assert set(report.measurers) == {"torchinfo", "fvcore", "flop_counter"}
    assert_same(before, model)


def test_analysis_of_a_raising_model_leaves_it_untouched():
    model = Exploding().eval()
    before = snapshot(model)
    with pytest.raises(ParamscopeError, match="boom"):
        paramscope.analyze(model, (1, 3, 8, 8), measure="all")
    assert_same(before, model)


def test_frozen_parameters_are_reported_apart():
    model = Block()
    model.conv.requires_grad_(False)
    report = paramscope.analyze(model, (1, 3, 8, 8), measure="none")
    frozen = sum(p.numel() for p in model.conv.parameters())
    assert report.totals["frozen_params"] == frozen
    assert report.totals["trainable_params"] == sum(p.numel() for p in model.parameters()) - frozen
