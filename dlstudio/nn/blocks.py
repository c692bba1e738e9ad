"""Ready-made CNN blocks, laid out like their reference implementations so parameter counts match.

BasicBlock / Bottleneck follow torchvision's ResNet (v1.5: the stride sits on the 3x3 conv), InvertedResidual
follows torchvision's MobileNetV2, VGGBlock torchvision's VGG features, the DCGAN blocks the DCGAN paper/PyTorch
example. InceptionModule follows torchvision's GoogLeNet branch layout (conv without bias + BatchNorm(eps=0.001)
+ ReLU); its "5x5" branch uses a real 5x5 kernel as the paper does unless branch3_kernel=3, which is torchvision's
layout (kept there for compatibility with old weights); with batch_norm=False the units are the paper's
conv+bias+ReLU.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, groups=groups, bias=False)


class BasicBlock(nn.Module):
    """ResNet-18/34 block: two 3x3 convs with BatchNorm, identity (or 1x1 conv + BN) skip, ReLU after the add."""

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """ResNet-50+ block: 1x1 reduce to `planes`, 3x3 (stride here), 1x1 expand to planes*4, residual add."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _conv_bn_relu6(
    in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1
) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, (kernel_size - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand (skipped when expand_ratio is 1), 3x3 depthwise, linear 1x1 projection."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, expand_ratio: int = 6) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride should be 1 or 2, got {stride}")
        hidden = int(round(in_channels * expand_ratio))
        self.use_res_connect = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(_conv_bn_relu6(in_channels, hidden, 1))
        layers += [
            _conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class _ConvUnit(nn.Sequential):
    """Conv2d + BatchNorm(eps=0.001) + ReLU (GoogLeNet's BasicConv2d), or conv with bias + ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, batch_norm: bool) -> None:
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=not batch_norm)
        layers: list[nn.Module] = [conv]
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels, eps=0.001))
        layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class InceptionModule(nn.Module):
    """GoogLeNet Inception (v1) module: four parallel branches concatenated on channels."""

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
        batch_norm: bool = True,
        branch3_kernel: int = 5,
    ) -> None:
        super().__init__()
        bn = batch_norm
        self.branch1 = _ConvUnit(in_channels, ch1x1, 1, bn)
        self.branch2 = nn.Sequential(_ConvUnit(in_channels, ch3x3red, 1, bn), _ConvUnit(ch3x3red, ch3x3, 3, bn))
        self.branch3 = nn.Sequential(
            _ConvUnit(in_channels, ch5x5red, 1, bn), _ConvUnit(ch5x5red, ch5x5, branch3_kernel, bn)
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True), _ConvUnit(in_channels, pool_proj, 1, bn)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class VGGBlock(nn.Module):
    """`num_convs` x (3x3 conv, padding 1 [+ BatchNorm] + ReLU), then MaxPool2d(2): halves height and width."""

    def __init__(self, in_channels: int, out_channels: int, num_convs: int = 2, batch_norm: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for _ in range(num_convs):
            layers.append(nn.Conv2d(c, out_channels, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU(inplace=True))
            c = out_channels
        layers.append(nn.MaxPool2d(2, 2))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class DCGANUpBlock(nn.Sequential):
    """Generator step: ConvTranspose2d(k4, s2, p1, no bias) + BatchNorm2d + ReLU doubles height and width."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class DCGANDownBlock(nn.Sequential):
    """Discriminator step: Conv2d(k4, s2, p1, no bias) [+ BatchNorm2d] + LeakyReLU(0.2) halves height and width."""

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool = True) -> None:
        layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 4, 2, 1, bias=False)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        super().__init__(*layers)
