"""Training mode: forward + backward FLOPs against FlopCounterMode run forward + backward on
the meta device (the independent truth), with and without frozen parameters; the spec
path (no torch) against the traced path; parameters / gradients / optimizer state against
what torch.optim allocates."""

from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from paramscope.analysis import analyze  # noqa: E402
from paramscope.api import build, builtin_targets  # noqa: E402


def fwd_bwd_flops(model, shape, freeze=()):
    """FlopCounterMode's own total for one forward and one backward pass on the meta device."""
    from torch.utils.flop_counter import FlopCounterMode

    from paramscope.building.materialize import meta_clone

    work = meta_clone(model)
    for name, p in work.named_parameters():
        if any(name == f or name.startswith(f + ".") for f in freeze):
            p.requires_grad_(False)
    counter = FlopCounterMode(display=False)
    with counter:
        out = work(torch.empty(shape, device="meta"))
        if out.requires_grad:
            out.backward(torch.empty_like(out))
    return counter.get_total_flops()


def train_flops(report) -> int:
    m = report.measurers["flop_counter"]
    return next(iter(m.total.values()))


def assert_all_match(report):
    m = report.measurers["flop_counter"]
    assert m.status == "match", (m.status, m.total, m.predicted, m.explanation)
    bad = [(r.node.key, r.measured["flop_counter"]) for r in report.layers
           if "flop_counter" in r.measured and r.measured["flop_counter"].status != "match"]
    assert not bad


def first_param_module(model) -> str:
    return next(n for n, _ in model.named_parameters()).rpartition(".")[0]


# -- torchvision (Done-when figures) ------------------------------------------------

RESNET50_FROZEN = ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")


@pytest.mark.torchvision
def test_resnet50_batch2_train_flops_equal_flop_counter():
    pytest.importorskip("torchvision")
    r = analyze("torchvision.models:resnet50", (2, 3, 224, 224), measure="flop_counter", mode="train")
    t = r.totals
    assert t["macs"] + t["backward_macs"] == 24_299_077_632
    assert train_flops(r) == 2 * 24_299_077_632  # FlopCounterMode counts 2 FLOPs per MAC
    assert_all_match(r)
    frozen = analyze("torchvision.models:resnet50", (2, 3, 224, 224), measure="flop_counter",
                     mode="train", freeze=RESNET50_FROZEN)
    t = frozen.totals
    assert t["macs"] + t["backward_macs"] == 8_182_464_512
    assert train_flops(frozen) == 2 * 8_182_464_512
    assert_all_match(frozen)
    assert t["trainable_params"] == 2048 * 1000 + 1000


@pytest.mark.torchvision
@pytest.mark.parametrize("name,freeze", [
    ("resnet18", ("layer1", "conv1")), ("resnext50_32x4d", ("layer2.0",)),
    ("mobilenet_v2", ("features.0", "features.5")), ("vit_b_16", ("conv_proj", "encoder.layers.encoder_layer_3"))])
def test_torchvision_models_train_flops(name, freeze):
    tv = pytest.importorskip("torchvision")
    shape = (1, 3, 224, 224)
    model = getattr(tv.models, name)()
    for fz in ((), freeze):
        r = analyze(model, shape, measure="flop_counter", mode="train", freeze=fz)
        assert_all_match(r)
        assert train_flops(r) == fwd_bwd_flops(model, shape, fz)


# -- transformer encoder ------------------------------------------------------------------

@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("freeze", [(), ("layers.0",), ("layers.1.self_attn",), ("layers.0.linear1", "layers.1.norm2")])
def test_transformer_encoder_train_flops(batch_first, freeze):
    layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=batch_first)
    model = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    shape = (2, 6, 32) if batch_first else (6, 2, 32)
    r = analyze(model, shape, measure="flop_counter", mode="train", freeze=freeze)
    assert_all_match(r)
    assert train_flops(r) == fwd_bwd_flops(model, shape, freeze)


# -- every built-in config ----------------------------------------------------------------

BUILTINS = sorted(builtin_targets())


def _small_input(name):
    from paramscope.spec.resolve import default_input

    shape = default_input(builtin_targets()[name])
    return shape if shape[-1] <= 64 else (1, shape[1], 64, 64)


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_configs_train_flops_and_spec_equals_traced(name):
    shape = _small_input(name)
    model = build(name, device="meta").eval()  # specs are analysed in eval mode
    freeze = (first_param_module(model),)
    for fz in ((), freeze):
        spec = analyze(name, shape, measure="flop_counter", mode="train", freeze=fz)
        assert spec.source == "spec"
        assert_all_match(spec)
        assert train_flops(spec) == fwd_bwd_flops(model, shape, fz)
        traced = analyze(model, shape, measure="none", mode="train", freeze=fz)
        assert traced.source == "module"
        # the spec path (no torch) derives what the traced path reads from autograd
        assert [b.to_dict() for b in spec.backward] == [b.to_dict() for b in traced.backward]
        for key in ("backward_macs", "backward_flops", "trainable_params"):
            assert spec.totals[key] == traced.totals[key]
        mem_s, mem_t = spec.totals["training_memory"], traced.totals["training_memory"]
        assert mem_s == mem_t  # activations too: the spec's data flow finds the same sharing


# -- autograd rules --------------------------------------------------------------------------

def test_first_conv_computes_no_grad_input_and_frozen_layer_no_grad_weight():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.Flatten(), nn.Linear(8 * 4 * 4, 2))
    r = analyze(model, (2, 3, 8, 8), measure="none", mode="train", freeze=("2",))
    back = {row.node.key: b for row, b in zip(r.layers, r.backward)}
    fwd = {row.node.key: row.cost for row in r.layers}
    assert back["0"].grad_input_macs == 0 and back["0"].grad_weight_macs == fwd["0"].macs
    assert back["2"].grad_input_macs == fwd["2"].macs and back["2"].grad_weight_macs == 0
    assert back["4"].grad_input_macs == back["4"].grad_weight_macs == fwd["4"].macs
    frozen_front = analyze(model, (2, 3, 8, 8), measure="none", mode="train", freeze=("0", "2"))
    back = {row.node.key: b for row, b in zip(frozen_front.layers, frozen_front.backward)}
    assert back["0"].status == back["1"].status == back["2"].status == "none"
    assert back["4"].grad_input_macs == 0


def test_grouped_conv_grad_weight_is_explained_against_flop_counter():
    model = nn.Sequential(nn.Conv2d(4, 8, 3), nn.Conv2d(8, 8, 3, groups=4))
    r = analyze(model, (1, 4, 9, 9), measure="flop_counter", mode="train")
    assert_all_match(r)
    grouped = r.backward[1]
    explained = {d.category: d.amount for d in r.measurers["flop_counter"].explanation}
    extra = explained["grouped conv grad_weight (counted × groups)"]
    assert extra == 2 * grouped.grad_weight_macs * 3  # FlopCounterMode counts C_in, not C_in/groups


def test_json_fields():
    from typer.testing import CliRunner

    from paramscope.cli.main import _register_commands, app

    _register_commands()
    out = CliRunner().invoke(app, ["summary", "resnet-stem", "--mode", "train", "--format", "json",
                                   "--measure", "flop_counter", "--optimizer", "sgd"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    t = data["totals"]
    assert set(t["training_memory"]) == {"params", "grads", "optimizer_state", "activations", "peak"}
    assert t["training_memory"]["optimizer_state"] == 0  # plain SGD keeps no state
    conv = data["layers"][0]["backward"]
    assert conv["grad_input_macs"] == 0  # the input image needs no gradient
    assert conv["grad_weight_macs"] == data["layers"][0]["macs"]
    assert data["mode"] == "train" and data["optimizer"] == "sgd"


@pytest.mark.parametrize("args", [["--mode", "train", "--freeze", "nope"], ["--optimizer", "sgd"],
                                  ["--mode", "tran"], ["--mode", "train", "--optimizer", "lamb"]])
def test_bad_training_options_exit_2(args, capsys):
    from paramscope.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["summary", "resnet-stem", "--measure", "none", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("paramscope: error:") and err.count("\n") == 1


# -- optimizer state and gradients against torch.optim ------------------------------------

OPTIMIZERS = {"sgd": lambda p: torch.optim.SGD(p, lr=0.1), "momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
              "adam": lambda p: torch.optim.Adam(p), "adamw": lambda p: torch.optim.AdamW(p),
              "adagrad": lambda p: torch.optim.Adagrad(p), "rmsprop": lambda p: torch.optim.RMSprop(p)}


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_grads_and_optimizer_state_equal_torch_optim(optimizer):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    model[0].requires_grad_(False)
    mem = analyze(model, (2, 3, 8, 8), measure="none", mode="train", optimizer=optimizer).totals["training_memory"]
    real = [p for p in model.parameters()]
    out = model(torch.randn(2, 3, 8, 8))
    out.sum().backward()
    opt = OPTIMIZERS[optimizer]([p for p in real if p.requires_grad])
    opt.step()
    state = sum(v.numel() * v.element_size() for s in opt.state.values() for v in s.values()
                if isinstance(v, torch.Tensor))
    grads = sum(p.grad.numel() * p.grad.element_size() for p in real if p.grad is not None)
    params = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
    assert mem["optimizer_state"] == state
    assert mem["grads"] == grads
    assert mem["params"] == params


@pytest.mark.torchvision
def test_resnet50_training_memory_against_memtracker():
    tv = pytest.importorskip("torchvision")
    from paramscope.training.memtrack import memtracker_peak

    shape = (32, 3, 224, 224)
    report = analyze("torchvision.models:resnet50", shape, measure="none", mode="train", optimizer="adam")
    mem = report.totals["training_memory"]
    # analysed as paramscope analyses a factory's model: in eval mode
    measured = memtracker_peak(lambda: tv.models.resnet50().eval(), shape, "adam")
    assert mem["params"] == measured["param"] + measured["buffer"]
    assert mem["optimizer_state"] == measured["opt"]
    with torch.device("meta"):
        assert mem["grads"] == sum(p.numel() * 4 for p in tv.models.resnet50().parameters())
    assert mem["grads"] == measured["grads_after_backward"]
    assert abs(mem["peak"] - measured["total"]) <= 0.10 * measured["total"]  # documented tolerance
    # at the same moment (fc's gradients written, one gradient in flight), every category is
    # equal; the input batch, allocated before MemTracker starts, is the whole difference
    at = report.memory.at_peak
    assert at["grads"] == measured["grad"] == (2048 * 1000 + 1000) * 4
    assert at["temporaries"] == measured["temp"]
    assert at["activations"] == measured["act"]
    assert at["input batch"] == math.prod(shape) * 4
    assert mem["peak"] - at["input batch"] == measured["total"]


def test_cli_train_mode_on_check_compare_sweep_and_memtracker_reconciliation():
    from typer.testing import CliRunner

    from paramscope.cli.main import _register_commands, app

    _register_commands()
    run = CliRunner().invoke
    out = run(app, ["check", "bottleneck-projection", "--mode", "train", "--measure", "flop_counter",
                    "--freeze", "block.conv1", "--format", "json"])
    assert out.exit_code == 0, out.output
    out = run(app, ["summary", "cifar-resnet", "--mode", "train", "--measure", "flop_counter,memtracker",
                    "--optimizer", "momentum", "--format", "json"])
    assert out.exit_code == 0, out.output
    mt = json.loads(out.output)["measurers"]["memtracker"]
    assert mt["status"] == "match", mt
    checks = mt["extra"]["checks"]
    assert all(checks[k]["predicted"] == checks[k]["measured"] for k in ("params", "grads", "optimizer_state"))
    out = run(app, ["compare", "resnet-stem", "vgg-stem", "--mode", "train"])
    assert out.exit_code == 0 and "backward MACs" in out.output, out.output
    out = run(app, ["sweep", "conv-grouped", "--set", "groups=1,2", "--mode", "train", "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)["rows"]
    assert all(r["totals"]["backward_macs"] > 0 for r in rows)


@pytest.mark.parametrize("name,optimizer,freeze", [
    ("bottleneck-projection", "adamw", ()), ("bottleneck-projection", "sgd", ("block.conv1",)),
    ("cifar-resnet", "momentum", ()), ("resnet18", "adagrad", ("layer1",)), ("vgg-stem", "rmsprop", ())])
def test_training_memory_reconciles_with_memtracker(name, optimizer, freeze):
    r = analyze(name, _small_input(name), measure="memtracker", mode="train", optimizer=optimizer, freeze=freeze)
    mt = r.measurers["memtracker"]
    assert mt.status == "match", mt.note
    checks = mt.extra["checks"]
    for key in ("params", "grads", "optimizer_state"):  # exact
        assert checks[key]["predicted"] == checks[key]["measured"], key
