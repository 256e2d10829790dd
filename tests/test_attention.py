"""Attention formulas against FlopCounterMode (2 per MAC, biases not counted): nn.MultiheadAttention
in its configurations, and F.scaled_dot_product_attention called directly."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import paramscope
from paramscope.formulas import cost_of
from paramscope.tracing.trace import trace


def counted(model: nn.Module, *inputs) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*inputs)
    return counter.get_total_flops()


class SelfAttention(nn.Module):
    def __init__(self, mha: nn.MultiheadAttention, need_weights: bool) -> None:
        super().__init__()
        self.mha, self.need_weights = mha, need_weights

    def forward(self, x):
        return self.mha(x, x, x, need_weights=self.need_weights)[0]


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("heads", [1, 4])
def test_multihead_attention_macs_equal_flop_counter(batch_first, need_weights, bias, heads):
    with torch.device("meta"):
        model = SelfAttention(nn.MultiheadAttention(32, heads, bias=bias, batch_first=batch_first),
                              need_weights).eval()
        shape = (2, 7, 32) if batch_first else (7, 2, 32)
        flops = counted(model, torch.empty(shape))
    graph = trace(model, shape)
    attn = [n for n in graph.nodes if n.kind == "MultiheadAttention"]
    assert len(attn) == 1 and attn[0].functional
    cost = cost_of(attn[0])
    assert 2 * cost.macs == flops
    assert cost.params == {}  # in_proj_weight / out_proj are counted by the module
    E, L, N = 32, 7, 2
    assert cost.macs == 4 * L * N * E * E + 2 * N * L * L * E


def test_cross_attention_with_kdim_vdim():
    with torch.device("meta"):
        mha = nn.MultiheadAttention(16, 2, kdim=12, vdim=20, batch_first=True).eval()

        class Cross(nn.Module):
            def __init__(self):
                super().__init__()
                self.mha = mha

            def forward(self, q):
                kv = q.new_empty(3, 9, 12), q.new_empty(3, 9, 20)
                return self.mha(q, *kv, need_weights=False)[0]

        model = Cross()
        flops = counted(model, torch.empty(3, 5, 16))
    node = next(n for n in trace(model, (3, 5, 16)).nodes if n.kind == "MultiheadAttention")
    assert 2 * cost_of(node).macs == flops


def test_scaled_dot_product_attention_called_directly():
    class SDPA(nn.Module):
        def forward(self, x):
            q = x.view(2, 4, 6, 8)
            k = v = x.new_empty(2, 4, 11, 8)
            return torch.nn.functional.scaled_dot_product_attention(q, k, v)

    with torch.device("meta"):
        flops = counted(SDPA(), torch.empty(2, 4, 6, 8))
    node = next(n for n in trace(SDPA(), (2, 4, 6, 8)).nodes if n.kind == "scaled_dot_product_attention")
    assert cost_of(node).macs == 2 * 4 * 6 * 11 * 8 * 2
    assert 2 * cost_of(node).macs == flops


class _Attend(nn.Module):
    """nn.MultiheadAttention called as users call it: need_weights (torch's default) or not,
    with or without a key padding mask, bias_k."""

    def __init__(self, batch_first: bool, need_weights: bool, masked: bool, bias_kv: bool) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(64, 4, batch_first=batch_first, add_bias_kv=bias_kv)
        self.need_weights, self.masked = need_weights, masked

    def forward(self, x):
        batch, length = (x.shape[0], x.shape[1]) if self.attn.batch_first else (x.shape[1], x.shape[0])
        mask = torch.zeros(batch, length, dtype=torch.bool, device=x.device) if self.masked else None
        return self.attn(x, x, x, need_weights=self.need_weights, key_padding_mask=mask)[0]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("bias_kv", [False, True])
@pytest.mark.parametrize("training", [True, False])
def test_every_multihead_attention_path_is_predicted_for_every_tool(batch_first, need_weights, masked, bias_kv,
                                                                    training):
    """torch runs MultiheadAttention as its fused fast path, as bmm / baddbmm (need_weights,
    masked) or as scaled-dot-product attention: every tool's figure is predicted exactly."""
    model = _Attend(batch_first, need_weights, masked, bias_kv).train(training)
    report = paramscope.analyze(model, (5, 7, 64))
    for tool, m in report.measurers.items():
        assert m.status in ("match", "unsupported"), (tool, m.status, m.explanation)
        metric = m.extra["metric"]
        assert m.extra["paramscope_total"] + sum(d.amount for d in m.explanation) == m.total[metric]
