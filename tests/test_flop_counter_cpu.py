"""FlopCounterMode on a real CPU copy (``--measure flop_counter_cpu``) against FlopCounterMode
run here, on the CPU and on meta (independent truth): where torch's CPU kernels are not in
its registry (fused SDPA, MultiheadAttention's fast path, oneDNN's LSTM) the prediction says
so by a named difference and matches exactly; a plain CNN counts the same on both devices."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import paramscope
from paramscope.analysis import parse_measure
from paramscope.building.materialize import meta_clone
from paramscope.errors import ParamscopeError

METRIC = "flops (2 per MAC)"


class Sdpa(nn.Module):
    """Project, split into heads, F.scaled_dot_product_attention (4-D: the CPU flash kernel)."""

    def __init__(self, dim=16, heads=4):
        super().__init__()
        self.qkv, self.out, self.heads = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim), heads

    def forward(self, x):
        n, t, d = x.shape
        q, k, v = self.qkv(x).view(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(y.transpose(1, 2).reshape(n, t, d))


class Attention(nn.Module):
    """nn.MultiheadAttention, batch_first self-attention: torch's fast path in eval."""

    def __init__(self, dim=16, heads=4, need_weights=False):
        super().__init__()
        self.attn, self.need_weights = nn.MultiheadAttention(dim, heads, batch_first=True), need_weights
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        return self.norm(x + self.attn(x, x, x, need_weights=self.need_weights)[0])


class Recurrent(nn.Module):
    """nn.LSTM (oneDNN on the CPU) and a GRU (counted on both) under a linear head."""

    def __init__(self):
        super().__init__()
        self.lstm, self.gru, self.head = nn.LSTM(8, 12, num_layers=2), nn.GRU(12, 6), nn.Linear(6, 3)

    def forward(self, x):
        return self.head(self.gru(self.lstm(x)[0])[0])


def cnn():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, groups=2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(16, 10))


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed, self.sdpa, self.attn = nn.Linear(3, 16), Sdpa(), Attention()
        self.lstm = nn.LSTM(16, 16, batch_first=True)

    def forward(self, x):
        h = self.attn(self.sdpa(self.embed(x)))
        return self.lstm(h)[0]


#: name -> (model factory, input shape, whether the CPU path counts less)
MODELS = {
    "sdpa": (lambda: Sdpa(), (2, 5, 16), True),
    "multihead_attention": (lambda: Attention(), (2, 5, 16), True),
    "multihead_attention_need_weights": (lambda: Attention(need_weights=True), (2, 5, 16), True),
    "multihead_attention_training": (lambda: Attention().train(), (2, 5, 16), True),
    "lstm": (lambda: Recurrent(), (7, 2, 8), True),
    "cnn": (cnn, (2, 3, 16, 16), False),
    "mixed": (lambda: Mixed(), (2, 5, 3), True),
}


def flop_counter(model, shape, device: str) -> int:
    """FlopCounterMode's total over one no-grad forward on ``device`` (meta: a meta clone)."""
    work = meta_clone(model) if device == "meta" else model
    x = torch.empty(shape, device="meta") if device == "meta" else torch.rand(shape)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        work(x)
    return counter.get_total_flops()


@pytest.mark.parametrize("key", MODELS)
def test_cpu_run_matches_flop_counter_on_cpu_and_says_where_it_differs(key):
    make, shape, differs = MODELS[key]
    torch.manual_seed(0)
    model = make()
    if key != "multihead_attention_training":
        model.eval()
    cpu_truth, meta_truth = flop_counter(model, shape, "cpu"), flop_counter(model, shape, "meta")
    assert (cpu_truth < meta_truth) == differs and (cpu_truth == meta_truth) != differs
    report = paramscope.analyze(model, shape, measure="flop_counter,flop_counter_cpu")
    meta, cpu = report.measurers["flop_counter"], report.measurers["flop_counter_cpu"]
    assert meta.status == cpu.status == "match", (meta.note, cpu.note)
    assert meta.total[METRIC] == meta.predicted[METRIC] == meta_truth
    assert cpu.total[METRIC] == cpu.predicted[METRIC] == cpu_truth
    assert cpu.extra["paramscope_total"] + sum(d.amount for d in cpu.explanation) == cpu_truth
    on_cpu = [d for d in cpu.explanation if "on the CPU" in d.category]
    assert sum(d.amount for d in on_cpu) == cpu_truth - meta_truth
    assert "measured on the CPU" in cpu.note and f"on the meta device: {meta_truth:,}" in cpu.note
    assert meta.note.startswith("measured on the meta device")
    assert f"the CPU run (flop_counter_cpu) measured {cpu_truth:,} FLOPs" in meta.note
    assert (f"counts {meta_truth - cpu_truth:,} FLOPs less" in meta.note) == differs
    for row in report.layers:  # per module too
        verdict = row.measured.get("flop_counter_cpu")
        assert verdict is None or verdict.status == "match", (row.node.name, verdict)


def test_cpu_path_categories_name_the_kernels():
    model = Mixed().eval()
    report = paramscope.analyze(model, (2, 5, 3), measure="flop_counter_cpu")
    categories = {d.category for d in report.measurers["flop_counter_cpu"].explanation}
    assert {"scaled_dot_product_attention on the CPU: aten._scaled_dot_product_flash_attention_for_cpu "
            "(not counted)",
            "MultiheadAttention on the CPU: aten._native_multi_head_attention (torch's fast path) "
            "(not counted)",
            "LSTM on the CPU: aten.mkldnn_rnn_layer (oneDNN) (not counted)"} <= categories


def test_meta_note_alone_predicts_the_cpu_difference():
    model = Recurrent().eval()
    report = paramscope.analyze(model, (7, 2, 8), measure="flop_counter")
    less = flop_counter(model, (7, 2, 8), "meta") - flop_counter(model, (7, 2, 8), "cpu")
    note = report.measurers["flop_counter"].note
    assert "LSTM" in note and "GRU" not in note and f"counts {less:,} FLOPs less" in note


def test_cpu_run_respects_the_memory_budget():
    report = paramscope.analyze(cnn().eval(), (2, 3, 16, 16), measure="flop_counter_cpu", fvcore_budget=1000)
    result = report.measurers["flop_counter_cpu"]
    assert result.status == "skipped" and "budget" in result.note and "--fvcore-budget" in result.note


def test_cpu_run_is_opt_in_and_inference_only():
    assert "flop_counter_cpu" not in parse_measure("all")
    assert parse_measure("all,flop_counter_cpu") == ("torchinfo", "fvcore", "flop_counter", "flop_counter_cpu")
    with pytest.raises(ParamscopeError, match="--mode train"):
        paramscope.analyze(cnn(), (2, 3, 16, 16), mode="train", measure="flop_counter_cpu")


def test_cli_runs_the_cpu_measurer(cli):
    code, out, err = cli("summary", "resnet-stem", "--measure", "flop_counter,flop_counter_cpu",
                         "--format", "json")
    assert code == 0, err
    import json

    tools = json.loads(out)["measurers"]
    assert tools["flop_counter_cpu"]["status"] == "match"
    assert tools["flop_counter_cpu"]["total"] == tools["flop_counter"]["total"]
