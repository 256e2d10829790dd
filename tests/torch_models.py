"""Small hand-written torch models the trace / measure / reconcile tests run against."""

from __future__ import annotations

import torch
from torch import nn


class ResidualBlock(nn.Module):
    """ResNet basic block: one ReLU module called twice, 1×1 projection when shapes change."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        y += shortcut
        return self.relu(y)


class TinyResNet(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 7, 2, 3), nn.BatchNorm2d(16), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        self.layer1 = nn.Sequential(ResidualBlock(16, 16), ResidualBlock(16, 32, stride=2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        x = self.pool(self.layer1(self.stem(x)))
        return self.fc(torch.flatten(x, 1))


def vgg_stem() -> nn.Sequential:
    """The seed VGG stem: two conv3-64, pool, two conv3-128, pool, padding 'same', bias."""
    def conv(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding="same"), nn.ReLU(inplace=True)]
    return nn.Sequential(*conv(3, 64), *conv(64, 64), nn.MaxPool2d(2),
                         *conv(64, 128), *conv(128, 128), nn.MaxPool2d(2))


class SqueezeExcite(nn.Module):
    """SE: pooled descriptor -> bottleneck -> sigmoid gate -> ``scale * x``."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1)
        self.act = nn.ReLU()
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x):
        scale = self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))
        return scale * x


class GroupedSE(nn.Module):
    """A grouped 3×3 conv (groups=32), an SE block, a ReLU6 and a classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(64, 128, 3, padding=1, groups=32)
        self.bn = nn.BatchNorm2d(128)
        self.act = nn.ReLU6()
        self.se = SqueezeExcite(128)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Dropout(0.2),
                                  nn.Linear(128, 10))

    def forward(self, x):
        return self.head(self.se(self.act(self.bn(self.conv(x)))))


class TokenMixer(nn.Module):
    """Linear layers on 3-D (batch, tokens, features) input, LayerNorm, GELU, attention matmul."""

    def __init__(self, dim: int = 32) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        q, k, v = self.qkv(self.norm(x)).chunk(3, dim=-1)
        attn = torch.softmax(q @ k.transpose(-2, -1), dim=-1)
        x = x + self.proj(torch.bmm(attn, v))
        return x + self.mlp(x)


class SeedBottleneck(nn.Module):
    """The seed-003 ResNeXt block: expansion 2, stride on the first 1×1 conv."""

    expansion = 2

    def __init__(self, cin: int, width: int, groups: int, stride: int, project: bool) -> None:
        super().__init__()
        cout = width * self.expansion
        layers = []
        for i, (a, b, k) in enumerate([(cin, width, 1), (width, width, 3), (width, cout, 1)]):
            layers.append(nn.Conv2d(a, b, k, stride=stride if i == 0 else 1, padding=k // 2,
                                    groups=groups if k == 3 else 1, bias=False))
            layers.append(nn.BatchNorm2d(b))
            if i < 2:
                layers.append(nn.ReLU())
        self.residual = nn.Sequential(*layers)
        self.relu = nn.ReLU()
        self.projection = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                         nn.BatchNorm2d(cout)) if project else None)

    def forward(self, x):
        skip = x if self.projection is None else self.projection(x)
        return self.relu(self.residual(x) + skip)


class SeedResNeXt(nn.Module):
    """Seed-003 ResNeXt-50 (cardinality 32, widths 128/256/512/1024, blocks 3/4/6/3)."""

    def __init__(self, blocks=(3, 4, 6, 3), groups: int = 32, classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
                                   nn.BatchNorm2d(64), nn.ReLU())
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        cin, stages = 64, []
        for i, (width, n) in enumerate(zip((128, 256, 512, 1024), blocks)):
            stride = 1 if i == 0 else 2
            stage = []
            for j in range(n):
                stage.append(SeedBottleneck(cin, width, groups, stride if j == 0 else 1, j == 0))
                cin = width * SeedBottleneck.expansion
            stages.append(nn.Sequential(*stage))
        self.stage1, self.stage2, self.stage3, self.stage4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.stage4(self.stage3(self.stage2(self.stage1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))
