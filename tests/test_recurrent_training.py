"""Recurrent layers in --mode train: forward + backward equal FlopCounterMode's (meta device),
with and without frozen weights and with an input that requires grad (a Linear before it)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import paramscope
from paramscope.building.materialize import meta_clone


class First(nn.Module):
    """The recurrent layer's output tensor (LSTM/GRU/RNN return tuples)."""

    def __init__(self, rnn, head: bool):
        super().__init__()
        self.head = nn.Linear(rnn.input_size, rnn.input_size) if head else nn.Identity()
        self.rnn = rnn

    def forward(self, x):
        out = self.rnn(self.head(x))
        return out[0] if isinstance(out, tuple) else out


def fwd_bwd(model, shape) -> int:
    meta = meta_clone(model)
    with FlopCounterMode(display=False) as counter:
        meta(torch.empty(shape, device="meta")).sum().backward()
    return counter.get_total_flops()


CASES = [
    (lambda: nn.LSTM(6, 8, num_layers=2), (5, 2, 6)),
    (lambda: nn.GRU(6, 8, num_layers=2, bidirectional=True), (5, 2, 6)),
    (lambda: nn.RNN(6, 8, bias=False, nonlinearity="relu"), (5, 2, 6)),
    (lambda: nn.LSTM(6, 8, proj_size=3, batch_first=True), (2, 5, 6)),
    (lambda: nn.LSTMCell(6, 8), (3, 6)),
    (lambda: nn.GRUCell(6, 8), (3, 6)),
]


@pytest.mark.parametrize("make,shape", CASES)
@pytest.mark.parametrize("head", [False, True])
@pytest.mark.parametrize("freeze", [(), ("rnn",), ("head",)])
def test_recurrent_backward_equals_flop_counter(make, shape, head, freeze):
    model = First(make(), head)
    for prefix in freeze:
        for p in getattr(model, prefix).parameters():
            p.requires_grad_(False)
    if not any(p.requires_grad for p in model.parameters()):
        pytest.skip("nothing trainable: no backward at all")
    report = paramscope.analyze(model, shape, measure="flop_counter", mode="train")
    result = report.measurers["flop_counter"]
    assert result.status == "match", (result.total, result.predicted, result.explanation)
    assert report.complete, report.gaps
    assert next(iter(result.total.values())) == fwd_bwd(model, shape)
