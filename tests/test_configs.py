"""Every built-in config against independent truth (/work/shared/reference.md) and torch.

Models are built on the meta device (no memory, no arithmetic).  Three sources must
agree for every config: the reference figures, torch's own modules (parameters,
forward-hook shapes, constructor arguments) and the pure-Python graph that
``resolve_spec`` infers without torch.
"""

from __future__ import annotations

import json
from math import prod
from pathlib import Path

import pytest
import torch
from torch import nn

from paramscope.api import build, resolve_spec
from paramscope.spec.document import parse_file
from paramscope.spec.library import builtin_files, resolve_import
from nodes import hparams_of

LIBRARIES = {n for n, p in builtin_files().items() if parse_file(str(p), resolve_import).is_library}
CONFIGS = sorted(n for n in builtin_files() if n not in LIBRARIES)

# reference.md: seed articles, torchvision table, torchvision's published vgg11/vgg19.
REFERENCE_PARAMS = {
    "vgg-stem": 260_160,
    "resnet-stem": 9_472,
    "plain-block": 73_856,
    "bottleneck": 45_248,
    "bottleneck-projection": 57_728,
    "conv-dense": 73_728 + 128,
    "conv-grouped": 2_304 + 128,
    "cifar-resnet": 175_258,
    "resnext50": 25_028_904,
    "resnext101": 44_177_704,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnext50_32x4d": 25_028_904,
    "resnext101_32x8d": 88_791_336,
    "wide_resnet50_2": 68_883_240,
    "vgg11": 132_863_336,
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
    # v1 moves the stride inside the bottleneck: same tensors, same count as v1.5
    "resnet50-v1": 25_557_032,
    "resnet101-v1": 44_549_160,
    "resnet152-v1": 60_192_808,
}

# reference.md output shapes (batch 1); everything else is checked against torch below.
REFERENCE_OUTPUT = {
    "vgg-stem": (1, 128, 56, 56),
    "resnet-stem": (1, 64, 56, 56),
    "bottleneck-projection": (1, 128, 28, 28),
    "bottleneck": (1, 64, 56, 56),
    "plain-block": (1, 64, 56, 56),
    "cifar-resnet": (1, 10),
}


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def own_params(module: nn.Module) -> int:
    """Parameters of a module and its children, as named_modules() param sums."""
    return sum(p.numel() for p in module.parameters())


def graph_params(resolved) -> int:
    return sum(p.numel for n in resolved.graph.nodes if n.counts_params for p in n.params.values())


_MODELS: dict[str, nn.Module] = {}


def meta_model(name: str) -> nn.Module:
    """Each config built once per session on the meta device (read-only use)."""
    if name not in _MODELS:
        _MODELS[name] = build(name, device="meta")
    return _MODELS[name]


def trace(model: nn.Module, shape) -> tuple[list[tuple], dict[str, tuple], torch.Tensor]:
    """Forward on meta with hooks: leaf calls (name, class, in shape, out shape, module)
    in call order, and every container's output shape."""
    calls, containers, handles = [], {}, []
    for qualname, module in model.named_modules():
        if list(module.children()):
            hook = (lambda m, i, o, q=qualname: containers.__setitem__(q, tuple(o.shape)))
        else:
            hook = (lambda m, i, o, q=qualname: calls.append(
                (q, type(m).__name__, tuple(i[0].shape), tuple(o.shape), m)))
        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            out = model(torch.empty(shape, device="meta"))
    finally:
        for h in handles:
            h.remove()
    return calls, containers, out


# -- the config library ------------------------------------------------------

def test_every_reference_figure_has_a_config():
    assert set(REFERENCE_PARAMS) <= set(CONFIGS)
    # the only configs without a reference figure are derived from one that has it
    assert set(CONFIGS) - set(REFERENCE_PARAMS) == {"basic-block"}


def test_libraries_are_the_template_files():
    assert LIBRARIES == {"resnet-blocks", "resnext-seed", "vgg-blocks"}


@pytest.mark.parametrize("name", sorted(builtin_files()))
def test_every_config_has_a_one_line_description(name):
    doc = parse_file(str(builtin_files()[name]), resolve_import)
    text = doc.description
    assert isinstance(text, str) and text.strip(), f"{name} has no description"
    assert "\n" not in text and len(text) <= 160, f"{name}: description is not one line: {text!r}"
    assert doc.name == name, "the name: field must match the file name"


def test_list_names_every_non_library_config(cli):
    result = cli("list", "--format", "json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert [r["name"] for r in rows] == [n for n in builtin_files() if n not in LIBRARIES]
    assert sorted(r["name"] for r in rows) == CONFIGS
    for row in rows:
        doc = parse_file(str(builtin_files()[row["name"]]), resolve_import)
        assert row["description"] == doc.description
        assert row["input"] == list(resolve_spec(row["name"]).input_shape[1:])  # per sample, as the spec says


def test_list_table_shows_every_config(cli):
    result = cli("list")
    assert result.code == 0, result.err
    assert result.err == ""
    first_column = {line.split()[0] for line in result.out.splitlines() if line.strip()}
    for name in CONFIGS:
        assert name in first_column
    for name in LIBRARIES:
        assert name not in first_column


# -- parameter totals ---------------------------------------------------------

@pytest.mark.parametrize("name", sorted(REFERENCE_PARAMS))
def test_total_params_match_reference(name):
    model = meta_model(name)
    assert all(p.device.type == "meta" for p in model.parameters())
    assert n_params(model) == REFERENCE_PARAMS[name]
    assert graph_params(resolve_spec(name)) == REFERENCE_PARAMS[name]


def test_dense_vs_grouped_conv_weights():
    dense, grouped = meta_model("conv-dense"), meta_model("conv-grouped")
    assert dense.conv.weight.numel() == 73_728 and dense.conv.bias.numel() == 128
    assert grouped.conv.weight.numel() == 2_304 and grouped.conv.bias.numel() == 128
    assert tuple(dense.conv.weight.shape) == (128, 64, 3, 3)
    assert tuple(grouped.conv.weight.shape) == (128, 2, 3, 3) and grouped.conv.groups == 32
    # the same spec with groups set either way gives the other
    assert n_params(build("conv-dense", device="meta", groups=32)) == 2_304 + 128
    assert n_params(build("conv-grouped", device="meta", groups=1)) == 73_728 + 128


def test_basic_block_is_torchvision_basic_block():
    # 2 × (3·3·64·64) conv weights + 2 BatchNorm2d(64) affine
    model = meta_model("basic-block")
    assert n_params(model) == 2 * 9 * 64 * 64 + 2 * 2 * 64 == 73_984
    block = model.get_submodule("0")  # a use of a one-layer template: the residual itself
    assert set(dict(block.named_children())) == {"conv1", "bn1", "relu", "conv2", "bn2"}
    projected = build("basic-block", device="meta", stride=2, planes=128)
    assert n_params(projected) == 9 * 64 * 128 + 9 * 128 * 128 + 4 * 128 + 64 * 128 + 2 * 128


# -- per-layer seed figures ---------------------------------------------------

def module_params(model: nn.Module) -> dict[str, int]:
    return {name: own_params(m) for name, m in model.named_modules()}


def test_vgg_stem_per_layer():
    got = module_params(meta_model("vgg-stem"))
    convs = [name for name, m in meta_model("vgg-stem").named_modules() if isinstance(m, nn.Conv2d)]
    assert [got[c] for c in convs] == [1_792, 36_928, 73_856, 147_584]
    assert sum(got[c] for c in convs) == 260_160


def test_resnet_stem_per_layer():
    model = meta_model("resnet-stem")
    conv, pool = list(model.children())
    assert isinstance(conv, nn.Conv2d) and own_params(conv) == 9_472
    assert isinstance(pool, nn.MaxPool2d) and own_params(pool) == 0


def test_bottleneck_per_layer():
    got = module_params(meta_model("bottleneck"))
    assert (got["block.conv1"], got["block.conv2"], got["block.conv3"]) == (4_160, 36_928, 4_160)


def test_bottleneck_projection_per_layer():
    got = module_params(meta_model("bottleneck-projection"))
    assert (got["block.conv1"], got["block.conv2"], got["block.conv3"],
            got["block.conv_shortcut"]) == (4_160, 36_928, 8_320, 8_320)


RESNEXT_BLOCKS = {  # reference.md: residual branch / projection of block 0, then each later block
    "stage1": (46_592, 16_896, 71_168),
    "stage2": (217_088, 132_096, 282_624),
    "stage3": (864_256, 526_336, 1_126_400),
    "stage4": (3_448_832, 2_101_248, 4_497_408),
}


@pytest.mark.parametrize("name,depths", [("resnext50", (3, 4, 6, 3)), ("resnext101", (3, 4, 23, 3))])
def test_seed_resnext_per_block(name, depths):
    model = meta_model(name)
    got = module_params(model)
    for (stage, figures), depth in zip(RESNEXT_BLOCKS.items(), depths):
        residual0, projection0, later = figures
        assert got[f"{stage}.0.residual"] == residual0
        assert got[f"{stage}.0.projection"] == projection0
        for b in range(1, depth):
            assert got[f"{stage}.{b}.residual"] == later, f"{stage}.{b}"
            assert f"{stage}.{b}.projection" not in got
            assert got[f"{stage}.{b}"] == later
        assert f"{stage}.{depth}" not in got
    assert got["fc"] == 2_049_000
    assert isinstance(model.get_submodule("conv1.0"), nn.Conv2d) and got["conv1.0"] == 9_408
    # reference: stride on the first 1×1 conv of each downsampling block
    assert model.get_submodule("stage2.0.residual.0").stride == (2, 2)
    assert model.get_submodule("stage2.0.residual.3").stride == (1, 1)
    assert model.get_submodule("stage2.0.residual.3").groups == 32


# -- output shapes --------------------------------------------------------------

@pytest.mark.parametrize("name", CONFIGS)
def test_output_shape(name):
    resolved = resolve_spec(name)
    _, _, out = trace(meta_model(name), resolved.input_shape)
    assert tuple(out.shape) == resolved.root.out_shape == resolved.graph.nodes[-1].out_shape
    expected = REFERENCE_OUTPUT.get(name)
    if expected is None:
        expected = (1, 1000) if resolved.input_shape == (1, 3, 224, 224) else None
    if name in ("conv-dense", "conv-grouped"):
        expected = (1, 128, 54, 54)  # 3×3, no padding
    if name == "basic-block":
        expected = (1, 64, 56, 56)
    assert expected is not None, name
    assert tuple(out.shape) == expected


# -- the pure-Python graph equals torch, layer by layer ------------------------------

def assert_graph_matches_torch(resolved, model: nn.Module) -> None:
    calls, containers, out = trace(model, resolved.input_shape)
    nodes = [n for n in resolved.graph.nodes if n.kind != "add"]
    assert [(n.name, n.kind) for n in nodes] == [(c[0], c[1]) for c in calls]
    seen = set()
    for node, (name, kind, in_shape, out_shape, module) in zip(nodes, calls):
        assert node.in_shapes == (in_shape,), name
        assert node.out_shape == out_shape, name
        assert (node.call_index == 0) == (name not in seen), name
        seen.add(name)
        assert {k: v.shape for k, v in node.params.items()} == \
            {k: tuple(p.shape) for k, p in module.named_parameters(recurse=False)}, name
        assert {k: v.shape for k, v in node.buffers.items()} == \
            {k: tuple(b.shape) for k, b in module.named_buffers(recurse=False)}, name
        torch_hparams = hparams_of(module)  # may hold more (return_indices, BN's bias ...)
        assert set(node.hparams) <= set(torch_hparams), name
        assert dict(node.hparams) == {k: torch_hparams[k] for k in node.hparams}, name
    # residual adds: the sum has the block's shape (activations keep shapes)
    for node in resolved.graph.nodes:
        if node.kind == "add":
            assert node.in_shapes[0] == node.in_shapes[1] == node.out_shape
            assert containers[node.name] == node.out_shape, node.name
    # every module, containers included, with the class torch instantiated
    assert resolved.graph.modules == {q: type(m).__name__ for q, m in model.named_modules()}
    assert tuple(out.shape) == resolved.root.out_shape
    assert graph_params(resolved) == n_params(model)


@pytest.mark.parametrize("name", CONFIGS)
def test_graph_equals_torch_per_layer(name):
    assert_graph_matches_torch(resolve_spec(name), meta_model(name))


def test_graph_of_resolve_needs_no_torch():
    import subprocess
    import sys

    code = ("import sys; from paramscope.api import resolve_spec; "
            "r = resolve_spec('resnet50'); assert len(r.graph) == 175; "
            "assert 'torch' not in sys.modules, 'resolve imported torch'")
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=root)
    assert done.returncode == 0, done.stderr


# -- overrides ----------------------------------------------------------------------

@pytest.mark.parametrize("base,sets,same_as", [
    ("resnet50", dict(groups=32, width_per_group=4), "resnext50_32x4d"),
    ("resnet50", dict(width_per_group=128), "wide_resnet50_2"),
    ("resnet101", dict(groups=32, width_per_group=8), "resnext101_32x8d"),
    ("resnet50", dict(block="basic_block", depths=[2, 2, 2, 2]), "resnet18"),
    ("resnet50", dict(depths=[3, 4, 23, 3]), "resnet101"),
    ("resnet50", dict(stride_in_1x1=True), "resnet50-v1"),
    ("resnext50", dict(blocks=[3, 4, 23, 3]), "resnext101"),
    ("vgg16", dict(cfg=[64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]), "vgg11"),
])
def test_set_overrides_give_the_other_config(base, sets, same_as):
    model = build(base, device="meta", **sets)
    assert n_params(model) == REFERENCE_PARAMS[same_as]
    other = meta_model(same_as)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in other.state_dict().items()}
    resolved = resolve_spec(base, sets)
    assert graph_params(resolved) == REFERENCE_PARAMS[same_as]
    assert [(n.name, n.kind, n.out_shape, dict(n.hparams)) for n in resolved.graph.nodes] == \
        [(n.name, n.kind, n.out_shape, dict(n.hparams)) for n in resolve_spec(same_as).graph.nodes]


def test_set_num_classes():
    model = build("resnet18", device="meta", num_classes=10)
    assert n_params(model) == 11_689_512 - 513 * 1000 + 513 * 10
    assert resolve_spec("resnet18", {"num_classes": 10}).root.out_shape == (1, 10)


def cifar_params(blocks: int, widths=(16, 32, 64), classes: int = 10) -> int:
    """Independent count: 3×3 convs without bias, BN(2c), 1×1 conv+BN projection on change."""
    total = 3 * widths[0] * 9 + 2 * widths[0]
    cin = widths[0]
    for stage, w in enumerate(widths):
        for b in range(blocks):
            stride = 2 if stage > 0 and b == 0 else 1
            total += cin * w * 9 + 2 * w + w * w * 9 + 2 * w
            if stride != 1 or cin != w:
                total += cin * w + 2 * w
            cin = w
    return total + widths[-1] * classes + classes


@pytest.mark.parametrize("blocks", [1, 2, 3, 5])
def test_cifar_resnet_depth_override(blocks):
    assert cifar_params(2) == 175_258  # the formula reproduces the reference figure
    model = build("cifar-resnet", device="meta", blocks=blocks)
    assert n_params(model) == cifar_params(blocks)
    for stage in ("layer1", "layer2", "layer3"):
        assert len(list(getattr(model, stage).children())) == blocks
    assert_graph_matches_torch(resolve_spec("cifar-resnet", {"blocks": blocks}), model)


def test_cifar_resnet_set_on_the_cli(cli):
    result = cli("show", "cifar-resnet", "--set", "blocks=3")
    assert result.code == 0, result.err
    assert "# parameters: blocks=3" in result.out
    for stage in (1, 2, 3):
        assert f"# layer{stage}.2 ->" in result.out
        assert f"# layer{stage}.3 ->" not in result.out


def test_input_override_resnet50():
    resolved = resolve_spec("resnet50", input_shape=(2, 3, 320, 320))
    assert resolved.input_shape == (2, 3, 320, 320)
    shapes = {n.name: n.out_shape for n in resolved.graph.nodes if n.counts_params}
    assert shapes["conv1"] == (2, 64, 160, 160)
    assert shapes["maxpool"] == (2, 64, 80, 80)
    assert shapes["layer4.2.bn3"] == (2, 2048, 10, 10)
    assert shapes["avgpool"] == (2, 2048, 1, 1)
    assert shapes["fc"] == (2, 1000)
    assert graph_params(resolved) == 25_557_032  # global pooling: params do not change
    assert_graph_matches_torch(resolved, meta_model("resnet50"))


def test_input_override_changes_params_without_global_pool():
    # cifar-resnet pools with a fixed 8×8 window: 64×64 input leaves 64×2×2 = 256 features
    resolved = resolve_spec("cifar-resnet", input_shape=(1, 3, 64, 64))
    fc = [n for n in resolved.graph.nodes if n.name == "linear"][0]
    assert fc.in_shape == (1, 256) and fc.hparams["in_features"] == 256
    assert graph_params(resolved) == 175_258 - 64 * 10 + 256 * 10
    from paramscope.building.builder import module_from_resolved
    model = module_from_resolved(resolved, "meta")
    assert n_params(model) == 175_258 - 64 * 10 + 256 * 10
    assert_graph_matches_torch(resolved, model)


@pytest.mark.parametrize("name", ["vgg16", "resnext50", "wide_resnet50_2"])
def test_batch_and_odd_input(name):
    resolved = resolve_spec(name, input_shape=(3, 3, 97, 131))
    assert resolved.root.out_shape == (3, 1000)
    assert_graph_matches_torch(resolved, meta_model(name))
    assert resolve_spec(name, batch=4).input_shape == (4, 3, 224, 224)


def test_small_config_runs_on_cpu():
    torch.manual_seed(0)
    model = build("cifar-resnet").eval()
    assert all(p.device.type == "cpu" for p in model.parameters())
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    assert n_params(model) == 175_258


def test_meta_build_is_cheap():
    model = build("vgg19", device="meta")
    assert n_params(model) == 143_667_240
    assert all(p.is_meta for p in model.parameters())
    assert prod(model.classifier.get_submodule("0").weight.shape) == 25088 * 4096
