"""``--dtype``: the model is analysed and measured as ``model.to(dtype)``; bytes follow the dtype."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import paramscope

BYTES = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}


def _model():
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))


@pytest.mark.parametrize("dtype", list(BYTES))
def test_a_python_model_is_cast_and_every_tool_agrees(dtype):
    model = _model()
    report = paramscope.analyze(model, (2, 3, 8, 8), dtype=dtype)
    params = sum(p.numel() for p in model.parameters())
    assert report.totals["params"] == params
    assert report.totals["param_bytes"] == params * BYTES[dtype]
    assert {tool: m.status for tool, m in report.measurers.items()} == dict.fromkeys(report.measurers, "match")
    assert all(p.dtype == torch.float32 for p in model.parameters())  # the user's model is untouched
    cast_note = [n for n in report.notes if n.startswith(f"analysed in {dtype}")]
    assert bool(cast_note) == (dtype != "float32")


def test_a_model_already_in_the_dtype_is_not_cast():
    report = paramscope.analyze(_model().half(), (1, 3, 8, 8), dtype="float16")
    assert not [n for n in report.notes if n.startswith("analysed in")]
    assert report.totals["param_bytes"] == 2 * report.totals["params"]


@pytest.mark.parametrize("dtype", ["float16", "float64"])
def test_a_spec_is_measured_in_its_dtype(dtype):
    report = paramscope.analyze("bottleneck-projection", dtype=dtype)
    assert report.totals["param_bytes"] == BYTES[dtype] * report.totals["params"]
    assert {m.status for m in report.measurers.values()} == {"match"}
    memory = report.measurers["torchinfo"].extra["memory"]
    assert memory["predicted"] == memory["measured"]  # torchinfo's own bytes, at this dtype
    assert memory["measured"]["params_bytes"] == BYTES[dtype] * report.totals["params"]


def test_without_a_dtype_a_model_is_analysed_in_its_own():
    model = _model().half()
    report = paramscope.analyze(model, (1, 3, 8, 8), measure="torchinfo,flop_counter")
    assert report.dtype == "float16" and not [n for n in report.notes if n.startswith("analysed in")]
    assert report.totals["param_bytes"] == sum(p.numel() * p.element_size() for p in model.parameters())
    assert {m.status for m in report.measurers.values()} == {"match"}
    assert paramscope.analyze(_model(), (1, 3, 8, 8), measure="none").dtype == "float32"
    assert paramscope.analyze("resnet-stem", measure="none").dtype == "float32"  # a spec: float32
