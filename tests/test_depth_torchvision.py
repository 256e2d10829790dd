"""Depth of the torchvision models equals the number in their names (the papers' count).

ResNet-N (He et al. 2016) and VGG-N (Simonyan & Zisserman 2015, configurations A, B, D, E)
count the convolution and fully connected layers of the longest path, projection shortcuts
left out; paramscope's depth is that count, taken from a meta-device pass of the real models.
"""

from __future__ import annotations

import csv
import io

import pytest

pytest.importorskip("torchvision")

PAPER_DEPTH = {"resnet18": 18, "resnet34": 34, "resnet50": 50, "resnet101": 101, "resnet152": 152,
               "vgg11": 11, "vgg13": 13, "vgg16": 16, "vgg19": 19}


def test_torchvision_depths_are_the_papers(cli):
    targets = [f"torchvision.models:{name}" for name in PAPER_DEPTH]
    code, out, err = cli("compare", *targets, "--no-rf", "--format", "csv")
    assert code == 0, err
    depths = {row["target"].split(":")[1]: int(row["depth"]) for row in csv.DictReader(io.StringIO(out))}
    assert depths == PAPER_DEPTH


def test_torchvision_resnet50_has_more_weighted_layers_than_its_depth():
    """The count is not just "layers with weights": torch's own module list has 53 convs + 1 fc."""
    import torchvision
    from torch import nn

    model = torchvision.models.resnet50()
    weighted = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    shortcuts = [n for n in weighted if ".downsample." in n]
    assert (len(weighted), len(shortcuts)) == (54, 4)
    assert len(weighted) - len(shortcuts) == PAPER_DEPTH["resnet50"]


def test_explain_takes_every_torchvision_module_name(cli):
    """Every leaf name named_modules yields for resnet18 is a name explain accepts."""
    import torchvision

    names = [n for n, m in torchvision.models.resnet18().named_modules() if n and not list(m.children())]
    target = "torchvision.models:resnet18"
    for name in names[:12] + names[-6:]:
        code, out, err = cli("explain", target, name)
        assert code == 0, (name, err)


def test_gpt2_depth_counts_its_conv1d_projections(cli):
    """GPT-2's linear layers are transformers' Conv1D (torch.addmm with a weight parameter); each
    block runs its four in sequence (c_attn, attn.c_proj, c_fc, mlp.c_proj)."""
    transformers = pytest.importorskip("transformers")
    from transformers.pytorch_utils import Conv1D

    model = transformers.GPT2Model(transformers.GPT2Config())
    projections = [n for n, m in model.named_modules() if isinstance(m, Conv1D)]
    assert len(projections) == 4 * model.config.n_layer
    code, out, err = cli("compare", "hf:gpt2", "hf:gpt2", "--no-rf", "--format", "csv")
    assert code == 0, err
    assert [int(row["depth"]) for row in csv.DictReader(io.StringIO(out))] == [len(projections)] * 2
