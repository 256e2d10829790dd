"""Property test: for random conv / linear / norm stacks, every measurer's prediction
equals the tool's own measurement, layer by layer (torchinfo, fvcore, FlopCounterMode)."""

from __future__ import annotations

from conftest import examples
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from torch import nn

from paramscope.errors import ParamscopeError
from paramscope.measure import MEASURERS
from paramscope.tracing.trace import trace


@st.composite
def conv_stacks(draw):
    groups = draw(st.sampled_from([1, 2, 4]))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    k = draw(st.integers(1, 4))
    dilation = draw(st.integers(1, 2))
    transposed = draw(st.booleans())
    if transposed:
        stride = draw(st.integers(1, 3))
        conv = nn.ConvTranspose2d(cin, cout, k, stride, draw(st.integers(0, (k - 1) // 2)),
                                  groups=groups, bias=draw(st.booleans()), dilation=dilation)
    else:
        padding = draw(st.sampled_from([0, 1, 2, "same", "valid"]))
        stride = 1 if padding == "same" else draw(st.integers(1, 3))
        conv = nn.Conv2d(cin, cout, k, stride, padding, dilation, groups, draw(st.booleans()))
    norm = draw(st.sampled_from([nn.BatchNorm2d(cout), nn.BatchNorm2d(cout, affine=False),
                                 nn.GroupNorm(groups, cout), nn.InstanceNorm2d(cout),
                                 nn.Identity()]))
    act = draw(st.sampled_from([nn.ReLU(), nn.ReLU6(inplace=True), nn.SiLU(), nn.Sigmoid()]))
    head = nn.Linear(cout, draw(st.integers(1, 5)), bias=draw(st.booleans()))
    model = nn.Sequential(conv, norm, act, nn.AdaptiveAvgPool2d(1), nn.Flatten(), head)
    model.train(draw(st.booleans()))
    size = draw(st.integers(dilation * (k - 1) + 1, 9))
    return model, (draw(st.integers(1, 2)), cin, size, size + draw(st.integers(0, 3)))


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_stacks())
def test_random_stacks_predicted_equal_measured(case):
    model, shape = case
    try:
        graph = trace(model, shape)
    except ParamscopeError:  # e.g. a training-mode norm over a single value: torch refuses too
        reject()
    for tool in MEASURERS:
        m = MEASURERS[tool]()
        pred, meas = m.predict(graph), m.measure(model, shape, graph=graph)
        got = {k: (v.value, dict(v.unsupported)) for k, v in meas.layers.items() if v.value or v.unsupported}
        want = {k: (v.value, dict(v.unsupported)) for k, v in pred.layers.items() if v.value or v.unsupported}
        assert got == want, (tool, model, shape)
        assert pred.total == meas.total and pred.extras == meas.extras, tool


@settings(max_examples=examples(15), deadline=None)
@given(st.lists(st.integers(1, 4), min_size=0, max_size=2), st.integers(1, 6), st.integers(1, 6),
       st.booleans())
def test_linear_on_nd_input(lead, fin, fout, bias):
    model = nn.Sequential(nn.Linear(fin, fout, bias=bias), nn.LayerNorm(fout))
    shape = (2, *lead, fin)
    graph = trace(model, shape)
    for tool in MEASURERS:
        m = MEASURERS[tool]()
        pred, meas = m.predict(graph), m.measure(model, shape, graph=graph)
        assert {k: v.value for k, v in pred.layers.items() if v.value} == {
            k: v.value for k, v in meas.layers.items() if v.value}, tool
        assert pred.total == meas.total, tool
