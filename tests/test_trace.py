"""trace() and meta_clone() against torch itself: shapes from a real CPU forward pass,
params from ``model.parameters()``, and the model left exactly as it was."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from paramscope.errors import ParamscopeError
from paramscope.formulas import cost_of
from paramscope.building.materialize import materialize, meta_clone
from paramscope.tracing.trace import trace
from torch_models import GroupedSE, TinyResNet, TokenMixer, vgg_stem

MODELS = {
    "resnet": (TinyResNet, (2, 3, 32, 32)),
    "vgg_stem": (vgg_stem, (1, 3, 32, 32)),
    "grouped_se": (GroupedSE, (2, 64, 8, 8)),
    "tokens": (TokenMixer, (2, 5, 32)),
}


def torch_calls(model, shape):
    """(name, input shape, output shape) of every leaf-module call, from a real CPU run."""
    names = {m: n for n, m in model.named_modules()}
    calls, handles = [], []
    for m in names:
        if next(m.children(), None) is None:
            handles.append(m.register_forward_hook(
                lambda m, i, o: calls.append((names[m], tuple(i[0].shape), tuple(o.shape)))))
    try:
        with torch.no_grad():
            model(torch.randn(shape))
    finally:
        for h in handles:
            h.remove()
    return calls


@pytest.mark.parametrize("key", MODELS)
def test_shapes_and_params_equal_torch(key):
    factory, shape = MODELS[key]
    model = factory().eval()
    graph = trace(model, shape)
    modules = [n for n in graph.nodes if not n.functional]
    assert [(n.name, n.in_shape, n.out_shape) for n in modules] == torch_calls(model, shape)
    leaf = sum(p.numel for n in modules if n.counts_params for p in n.params.values())
    extra = sum(p.numel for ps in graph.container_params.values() for p in ps.values())
    assert leaf + extra == sum(p.numel() for p in model.parameters())
    assert graph.source == "module" and graph.input_shape == shape
    assert list(graph.modules) == [n for n, _ in model.named_modules()]


def test_resnet_block_shared_relu_residual_add_and_flatten():
    graph = trace(TinyResNet(), (2, 3, 32, 32))
    keys = [n.key for n in graph.nodes]
    relu = [n for n in graph.nodes if n.name == "layer1.0.relu"]
    assert [n.call_index for n in relu] == [0, 1]
    assert "layer1.0.relu#1" in keys and "layer1.1.relu#1" in keys
    add = next(n for n in graph.nodes if n.key == "layer1.1:add")
    assert add.functional and add.hparams["inplace"]
    assert add.in_shapes == ((2, 32, 4, 4), (2, 32, 4, 4))
    down = next(n for n in graph.nodes if n.name == "layer1.1.downsample.0")
    assert down.hparams["stride"] == (2, 2) and down.hparams["kernel_size"] == (1, 1)
    flat = next(n for n in graph.nodes if n.key == ":Flatten")
    assert flat.hparams == {"start_dim": 1, "end_dim": -1} and flat.out_shape == (2, 32)
    assert graph.modules["layer1.0"] == "ResidualBlock" and graph.unrecorded_ops == {}


def test_hparams_normalised():
    graph = trace(GroupedSE(), (1, 64, 8, 8))
    conv = graph.nodes[0]
    assert conv.hparams == {"in_channels": 64, "out_channels": 128, "kernel_size": (3, 3),
                            "stride": (1, 1), "padding": (1, 1), "dilation": (1, 1),
                            "groups": 32, "bias": True, "padding_mode": "zeros"}
    assert conv.params["weight"].shape == (128, 2, 3, 3)
    mul = next(n for n in graph.nodes if n.key == "se:mul")
    assert mul.in_shapes == ((1, 128, 1, 1), (1, 128, 8, 8)) and not mul.hparams["inplace"]
    pool = next(n for n in graph.nodes if n.name == "head.0")
    assert pool.hparams == {"output_size": (1, 1)}
    vgg = trace(vgg_stem(), (1, 3, 16, 16))
    assert vgg.nodes[0].hparams["padding"] == "same"
    assert vgg.nodes[4].kind == "MaxPool2d"
    assert vgg.nodes[4].hparams["kernel_size"] == (2, 2) and vgg.nodes[4].hparams["stride"] == (2, 2)


def test_functional_forms_attributed_to_innermost_module():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.cls = nn.Parameter(torch.zeros(4))

        def forward(self, x):
            y = nn.functional.relu(self.conv(x))
            y = nn.functional.max_pool2d(y, 2)
            y = nn.functional.adaptive_avg_pool2d(y, (1, None)).flatten(1)
            y = (y - 1).mean(-1) @ torch.ones(2, 3)
            return torch.sigmoid(y) * 2

    graph = trace(Net(), (2, 3, 10, 10))
    kinds = [(n.key, n.kind) for n in graph.nodes]
    assert kinds == [("conv", "Conv2d"), (":ReLU", "ReLU"), (":MaxPool2d", "MaxPool2d"),
                     (":AdaptiveAvgPool2d", "AdaptiveAvgPool2d"), (":Flatten", "Flatten"),
                     (":Tensor.sub", "Tensor.sub"), (":Tensor.mean", "Tensor.mean"),
                     (":matmul", "matmul"), (":Sigmoid", "Sigmoid"), (":mul", "mul")]
    pool = graph.nodes[2]
    assert pool.hparams["kernel_size"] == (2, 2) and pool.hparams["stride"] == (2, 2)
    assert graph.nodes[3].hparams["output_size"] == (1, 4)  # None -> traced size
    assert graph.unrecorded_ops == {}  # sub and mean are costed from their aten ops
    assert cost_of(graph.nodes[5]).flops == cost_of(graph.nodes[6]).flops == 2 * 16
    assert graph.container_params[""]["cls"].shape == (4,)


def test_kind_of_subclass_walks_the_mro():
    class MyConv(nn.Conv2d):
        pass

    class Scaled(nn.Module):  # unknown leaf: its own class name, never a substring match
        def forward(self, x):
            return x * 2

    graph = trace(nn.Sequential(MyConv(3, 4, 1), Scaled()), (1, 3, 4, 4))
    # an unknown leaf is composite: the ops it calls (x * 2) are recorded under its name
    assert [n.kind for n in graph.nodes] == ["Conv2d", "mul", "Scaled"]
    assert graph.nodes[0].hparams["out_channels"] == 4
    assert graph.modules["0"] == "MyConv"
    mul, scaled = graph.nodes[1], graph.nodes[2]
    assert mul.name == scaled.name == "1" and mul.functional and scaled.hparams["composite"]
    assert cost_of(mul).flops == 1 * 4 * 4 * 4 and cost_of(scaled).status == "ok"


@pytest.mark.parametrize("make,shape", [
    (lambda: nn.LSTM(8, 16, batch_first=True), (2, 5, 8)),
    (lambda: nn.LSTM(8, 16, num_layers=2, bidirectional=True, proj_size=4), (5, 2, 8)),
    (lambda: nn.GRU(8, 16, num_layers=2, bias=False), (5, 2, 8)),
    (lambda: nn.RNN(8, 16, nonlinearity="relu"), (5, 8)),
    (lambda: nn.LSTMCell(8, 16), (3, 8)),
    (lambda: nn.GRUCell(8, 16), (3, 8)),
    (lambda: nn.RNNCell(8, 16, bias=False), (3, 8)),
])
def test_recurrent_layers_have_formulas_equal_to_torch(make, shape):
    """Recurrent layers: params equal the module's own, MACs equal FlopCounterMode / 2."""
    module = make()
    graph = trace(module, shape)
    (node,) = [n for n in graph.nodes if not n.functional]
    cost = cost_of(node)
    assert cost.status == "ok"
    assert cost.total_params == sum(p.numel() for p in module.parameters())
    assert 2 * cost.macs == flop_count(module, shape)


def flop_count(module: nn.Module, shape) -> int:
    """FlopCounterMode's total for ``module`` on a meta input (independent truth)."""
    from torch.utils.flop_counter import FlopCounterMode

    meta = meta_clone(module)
    with FlopCounterMode(display=False) as counter:
        meta(torch.empty(shape, device="meta"))
    return counter.get_total_flops()


def test_functional_conv_and_linear_are_costed_like_modules():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(16, 6, 3, 3))
            self.fc = nn.Parameter(torch.randn(10, 16))

        def forward(self, x):
            y = torch.nn.functional.conv2d(x, self.w, stride=2, padding=1, groups=2)
            return torch.nn.functional.linear(y.mean((2, 3)), self.fc)

    graph = trace(Functional(), (1, 12, 8, 8))
    conv = next(n for n in graph.nodes if n.kind == "Conv2d")
    linear = next(n for n in graph.nodes if n.kind == "Linear")
    assert conv.functional and conv.hparams["in_channels"] == 12 and conv.hparams["groups"] == 2
    assert conv.hparams["stride"] == (2, 2) and conv.hparams["padding"] == (1, 1)
    reference = nn.Conv2d(12, 16, 3, stride=2, padding=1, groups=2, bias=False)
    assert cost_of(conv).macs == 1 * 4 * 4 * 16 * 6 * 3 * 3 == flop_count(reference, (1, 12, 8, 8)) // 2
    assert cost_of(conv).params == {} and cost_of(linear).params == {}  # the module counts them
    assert cost_of(linear).macs == 16 * 10


def test_tied_weights_and_training_flag():
    a, b = nn.Linear(4, 4), nn.Linear(4, 4)
    b.weight = a.weight
    model = nn.Sequential(a, b, nn.BatchNorm1d(4)).train()
    graph = trace(model, (3, 4))
    assert graph.nodes[0].params["weight"].tied_to == ""
    assert graph.nodes[1].params["weight"].tied_to == "0.weight"
    assert graph.nodes[2].training and graph.nodes[2].buffers["running_mean"].shape == (4,)


def test_dtype_and_frozen_params():
    model = nn.Sequential(nn.Linear(4, 3))
    model[0].bias.requires_grad_(False)
    graph = trace(model, (2, 4), dtype="float64")
    node = graph.nodes[0]
    assert node.dtype == "float64" and graph.dtype == "float64"
    assert not node.params["bias"].trainable and node.params["weight"].trainable


# ------------------------------------------------------------------ model untouched

def snapshot(model):
    state = {}
    for name, m in model.named_modules():
        state[name] = (m.training, sorted(vars(m)), dict(m._forward_hooks),
                       dict(m._forward_pre_hooks))
    tensors = {n: (id(t), t.device, t.requires_grad, None if t.is_meta else t.data_ptr(),
                   None if t.is_meta else t.detach().clone())
               for n, t in [*model.named_parameters(), *model.named_buffers()]}
    return state, tensors


def assert_unchanged(model, before):
    state, tensors = snapshot(model)
    assert state == before[0]
    assert tensors.keys() == before[1].keys()
    for name, (ident, device, grad, ptr, value) in tensors.items():
        assert (ident, device, grad, ptr) == before[1][name][:4], name
        if value is not None:
            assert torch.equal(value, before[1][name][4]), name
    assert not torch.nn.modules.module._global_forward_hooks
    assert not torch.nn.modules.module._global_forward_pre_hooks


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_model_untouched(device):
    model = TinyResNet().to(device).train()
    model.layer1.eval()  # mixed modes must survive
    before = snapshot(model)
    trace(model, (2, 3, 32, 32))
    assert_unchanged(model, before)
    assert model.stem[1].num_batches_tracked.device.type == device


def test_model_untouched_when_forward_raises():
    class Broken(TinyResNet):
        def forward(self, x):
            x = self.stem(x)
            raise ValueError("boom\nsecond line")

    model = Broken()
    before = snapshot(model)
    with pytest.raises(ParamscopeError) as err:
        trace(model, (1, 3, 32, 32))
    assert "\n" not in str(err.value) and "Broken" in str(err.value) and "boom" in str(err.value)
    assert_unchanged(model, before)


def test_forward_error_names_the_layer():
    model = TinyResNet()
    model.layer1[0].conv1 = nn.Conv2d(99, 16, 3)  # wrong input channels
    with pytest.raises(ParamscopeError, match=r"in layer1\.0\.conv1: RuntimeError"):
        trace(model, (1, 3, 32, 32))


@pytest.mark.parametrize("shape", [(0, 3), (2, -1), "abc", (2.5, 3), ()])
def test_bad_input_shape(shape):
    with pytest.raises(ParamscopeError, match="input shape"):
        trace(nn.Linear(3, 3), shape)


def test_bad_dtype():
    with pytest.raises(ParamscopeError, match="dtype"):
        trace(nn.Linear(3, 3), (1, 3), dtype="float33")


# ------------------------------------------------------------------ materialize

def test_meta_clone_copies_no_data_and_keeps_ties():
    a = nn.Linear(4, 4)
    model = nn.Sequential(a, nn.Linear(4, 4), nn.BatchNorm1d(4))
    model[1].weight = a.weight
    clone = meta_clone(model)
    assert all(t.is_meta for t in [*clone.parameters(), *clone.buffers()])
    assert clone[0].weight is clone[1].weight
    assert not model[0].weight.is_meta and model[0].weight is not clone[0].weight
    assert isinstance(clone[0].weight, nn.Parameter)
    real = materialize(clone)
    assert real[0].weight.device.type == "cpu" and not real[0].weight.abs().sum()
    assert all(t.is_meta for t in clone.parameters())  # materialize copies too


def test_no_torch_import_at_module_import():
    code = ("import sys, paramscope.tracing.trace, paramscope.building.materialize, paramscope.measure, "
            "paramscope.measure.base, paramscope.reconciling.reconcile; "
            "from paramscope.measure import MEASURERS; assert 'torchinfo' in MEASURERS; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_params_of_uncalled_modules_are_kept():
    model = nn.MultiheadAttention(16, 4, batch_first=True)

    class Attend(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = model

        def forward(self, x):
            return self.attn(x, x, x)[0]

    graph = trace(Attend(), (2, 3, 16))
    # out_proj is used through its weight, never called: its params are listed, not lost
    assert set(graph.container_params) == {"attn"} and set(graph.unused_params) == {"attn.out_proj"}
    kept = sum(p.numel for ps in graph.unowned_params().values() for p in ps.values())
    assert kept == sum(p.numel() for p in model.parameters())
    assert graph.unrecorded_ops == {}  # the attention itself is a costed node
    assert [n.kind for n in graph.nodes if n.name == "attn"] == ["MultiheadAttention"]
