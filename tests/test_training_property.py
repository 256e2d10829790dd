"""Property: random layer stacks with random frozen subsets; paramscope's forward + backward
prediction equals FlopCounterMode run forward + backward on the meta device, per module and
in total."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("hypothesis")
from conftest import examples  # noqa: E402
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

nn = torch.nn


@st.composite
def stacks(draw):
    """``(model, input_shape, frozen module names)``: convs (grouped, strided, transposed),
    norms, activations, pools, then a Linear head; any subset of parametrised layers frozen."""
    c0, s0 = draw(st.integers(1, 6)), draw(st.integers(4, 10))
    channels, size, layers = c0, s0, []
    for _ in range(draw(st.integers(0, 5))):
        choice = draw(st.sampled_from(["conv", "convT", "bn", "act", "pool"]))
        if choice in ("conv", "convT"):
            groups = draw(st.sampled_from([g for g in (1, 2, 3) if channels % g == 0]))
            out, k, stride = groups * draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
            if choice == "conv" and size < k:
                continue
            cls = nn.Conv2d if choice == "conv" else nn.ConvTranspose2d
            layers.append(cls(channels, out, k, stride=stride, groups=groups, bias=draw(st.booleans())))
            size = (size - k) // stride + 1 if choice == "conv" else (size - 1) * stride + k
            channels = out
        elif choice == "bn" and size >= 2:  # train-mode BatchNorm needs > 1 value per channel
            layers.append(nn.BatchNorm2d(channels, affine=draw(st.booleans())))
        elif choice == "act":
            layers.append(draw(st.sampled_from([nn.ReLU(), nn.GELU(), nn.Sigmoid(), nn.SiLU()])))
        elif size >= 2:
            layers.append(draw(st.sampled_from([nn.MaxPool2d(2), nn.AvgPool2d(2)])))
            size //= 2
    layers += [nn.Flatten(), nn.Linear(channels * size * size, draw(st.integers(1, 4)), bias=draw(st.booleans()))]
    model = nn.Sequential(*layers)
    owners = sorted({n.rpartition(".")[0] for n, _ in model.named_parameters()})
    frozen = draw(st.lists(st.sampled_from(owners), unique=True, max_size=len(owners)))
    return model, (draw(st.integers(1, 2)), c0, s0, s0), tuple(frozen)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks())
def test_random_stacks_with_random_frozen_parts_match_flop_counter(case):
    from paramscope.analysis import analyze
    from test_training import fwd_bwd_flops

    model, shape, frozen = case
    r = analyze(model, shape, measure="flop_counter", mode="train", freeze=frozen)
    m = r.measurers["flop_counter"]
    assert m.status == "match", (m.total, m.predicted, m.explanation)
    assert all(row.measured["flop_counter"].status == "match"
               for row in r.layers if "flop_counter" in row.measured)
    assert next(iter(m.total.values())) == fwd_bwd_flops(model, shape, frozen)
