"""The torchvision-named configs are torchvision's models: same state_dict keys and shapes,
same parameterised modules, strict state_dict loading and identical outputs.

Run with the torchvision venv:
    /work/tvenv/bin/python -m pytest tests/test_torchvision_alignment.py -q
"""

from __future__ import annotations

import pytest

torchvision = pytest.importorskip("torchvision")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from paramscope.api import build, resolve_spec  # noqa: E402

pytestmark = pytest.mark.torchvision

ALL = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
       "resnext101_32x8d", "wide_resnet50_2", "vgg11", "vgg16", "vgg19"]
# numerical comparison on real tensors for a few; the rest are compared on meta only
NUMERIC = ["resnet18", "resnet50", "resnext50_32x4d", "vgg11"]


def tv_model(name: str, device: str | None = None, **kwargs) -> nn.Module:
    if device is None:
        return getattr(torchvision.models, name)(weights=None, **kwargs)
    with torch.device(device):
        return getattr(torchvision.models, name)(weights=None, **kwargs)


def shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def parameterised(module: nn.Module) -> list[tuple[str, str]]:
    return [(n, type(m).__name__) for n, m in module.named_modules()
            if list(m.parameters(recurse=False)) or list(m.buffers(recurse=False))]


@pytest.mark.parametrize("name", ALL)
def test_state_dict_keys_and_shapes(name):
    ours, theirs = build(name, device="meta"), tv_model(name, "meta")
    assert list(shapes(ours)) == list(shapes(theirs))  # same keys, same order
    assert shapes(ours) == shapes(theirs)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def layer_config(module: nn.Module) -> tuple:
    """What a leaf layer computes, with int/pair spellings normalised."""
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        return (type(module).__name__, _pair(module.kernel_size), _pair(module.stride),
                _pair(module.padding), _pair(getattr(module, "dilation", 1)), module.ceil_mode)
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return (type(module).__name__, _pair(module.output_size))
    return (type(module).__name__, module.extra_repr())


@pytest.mark.parametrize("name", ALL)
def test_parameterised_modules_match(name):
    ours, theirs = build(name, device="meta"), tv_model(name, "meta")
    assert parameterised(ours) == parameterised(theirs)
    # every leaf module too (ReLU inplace flags, pools, dropout p): same name, same layer;
    # only our Flatten has no torchvision twin (torchvision calls torch.flatten)
    leaves = lambda m: {n: layer_config(x) for n, x in m.named_modules()  # noqa: E731
                        if not list(x.children()) and not isinstance(x, nn.Flatten)}
    assert leaves(ours) == leaves(theirs)


@pytest.mark.parametrize("name", ALL)
def test_meta_forward_shapes_match(name):
    ours, theirs = build(name, device="meta").eval(), tv_model(name, "meta").eval()
    x = torch.empty(2, 3, 160, 128, device="meta")
    assert ours(x).shape == theirs(x).shape == (2, 1000)


@pytest.mark.parametrize("name", NUMERIC)
def test_load_state_dict_strict_and_outputs_match(name):
    torch.manual_seed(0)
    theirs = tv_model(name).eval()
    ours = build(name, device="meta").to_empty(device="cpu")
    result = ours.load_state_dict(theirs.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    ours.eval()
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = theirs(x), ours(x)
    assert got.shape == expected.shape == (1, 1000)
    assert torch.isfinite(expected).all()
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["resnet34", "resnet101", "resnet152", "resnext101_32x8d",
                                  "wide_resnet50_2", "vgg16", "vgg19"])
def test_load_state_dict_strict_on_meta(name):
    ours, theirs = build(name, device="meta"), tv_model(name, "meta")
    ours.load_state_dict(theirs.state_dict(), strict=True, assign=True)
    assert shapes(ours) == shapes(theirs)


def test_our_state_dict_loads_into_torchvision():
    torch.manual_seed(3)
    ours = build("resnet18").eval()
    theirs = tv_model("resnet18").eval()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(2, 3, 48, 48, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), rtol=1e-5, atol=1e-6)


def test_training_mode_outputs_and_running_stats_match():
    torch.manual_seed(0)
    theirs = tv_model("resnet18")
    ours = build("resnet18", device="meta").to_empty(device="cpu")
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    ours.train(), theirs.train()
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), rtol=1e-5, atol=1e-6)
    for (k, a), (_, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert torch.allclose(a.float(), b.float()), k


def test_num_classes_override_matches_torchvision():
    ours, theirs = build("resnet50", device="meta", num_classes=10), tv_model("resnet50", "meta", num_classes=10)
    assert shapes(ours) == shapes(theirs)


# -- v1 vs v1.5: the stride moves from the 3×3 conv to the first 1×1 conv ----------------

def stride_of(resolved, qualname: str) -> tuple[int, int]:
    return next(n.hparams["stride"] for n in resolved.graph.nodes if n.name == qualname)


@pytest.mark.parametrize("v1,v15", [("resnet50-v1", "resnet50"), ("resnet101-v1", "resnet101"),
                                    ("resnet152-v1", "resnet152")])
def test_resnet_v1_moves_the_stride(v1, v15):
    assert sum(p.numel() for p in build(v1, device="meta").parameters()) == \
        sum(p.numel() for p in tv_model(v15, "meta").parameters())
    a, b = resolve_spec(v1), resolve_spec(v15)
    assert [n.name for n in a.graph.nodes] == [n.name for n in b.graph.nodes]
    for stage in (2, 3, 4):
        block = f"layer{stage}.0"
        assert stride_of(a, f"{block}.conv1") == (2, 2) and stride_of(a, f"{block}.conv2") == (1, 1)
        assert stride_of(b, f"{block}.conv1") == (1, 1) and stride_of(b, f"{block}.conv2") == (2, 2)
        assert stride_of(a, f"{block}.downsample.0") == stride_of(b, f"{block}.downsample.0") == (2, 2)
        # torchvision's v1.5 places it on conv2 too
        tv = tv_model(v15, "meta")
        assert tv.get_submodule(f"{block}.conv2").stride == (2, 2)
        assert tv.get_submodule(f"{block}.conv1").stride == (1, 1)
    moved = [n.name for n in a.graph.nodes if n.hparams.get("stride", (1, 1)) != (1, 1)]
    assert all(name.endswith(("conv1", "downsample.0", "maxpool")) for name in moved), moved
    # shapes differ only between the strided conv and the next
    diff = [n.name for n, m in zip(a.graph.nodes, b.graph.nodes) if n.out_shape != m.out_shape]
    assert diff and all(name.split(".")[-1] in ("conv1", "bn1", "relu") for name in diff), diff
    assert a.root.out_shape == b.root.out_shape == (1, 1000)


def test_resnet50_v1_equals_torchvision_with_the_stride_moved():
    torch.manual_seed(0)
    theirs = tv_model("resnet50").eval()
    for stage in (2, 3, 4):
        block = theirs.get_submodule(f"layer{stage}.0")
        block.conv1.stride, block.conv2.stride = (2, 2), (1, 1)
    ours = build("resnet50-v1", device="meta").to_empty(device="cpu")
    ours.load_state_dict(theirs.state_dict(), strict=True)
    ours.eval()
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), rtol=1e-5, atol=1e-6)
        # and it differs from v1.5 with the same weights
        v15 = build("resnet50", device="meta").to_empty(device="cpu")
        v15.load_state_dict(theirs.state_dict(), strict=True)
        assert not torch.allclose(v15.eval()(x), ours(x))
