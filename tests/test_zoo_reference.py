"""The zoo templates equal the well-known reference networks: each reference is written here by hand in plain
torch.nn, and the compiled template must have the same parameter count, the same multiset of parameter shapes
and the same output shape."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch
from torch import nn

import dlstudio as dls
from dlstudio.training.generative import split_graph

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _load(name: str) -> dls.Project:
    return dls.Project.load(EXAMPLES / f"{name}.dlstudio")


def _shapes(model: nn.Module) -> Counter:
    return Counter(tuple(p.shape) for p in model.parameters())


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _same(graph: dls.Graph, reference: nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
    model = dls.compile(graph, seed=0)
    assert _count(model) == _count(reference)
    assert _shapes(model) == _shapes(reference)
    # buffers too (BatchNorm running statistics), so the layouts match, not only the trainable parts
    assert Counter(tuple(b.shape) for b in model.buffers()) == Counter(tuple(b.shape) for b in reference.buffers())
    model.eval()
    reference.eval()
    with torch.no_grad():
        ours, theirs = model(*inputs), reference(*inputs)
    assert ours.shape == theirs.shape
    return ours


# ------------------------------------------------------------------------------------------------ LeNet-5
def test_lenet5_equals_the_classic_network():
    ref = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120),
        nn.Tanh(),
        nn.Linear(120, 84),
        nn.Tanh(),
        nn.Linear(84, 10),
    )
    assert _count(ref) == 61_706
    out = _same(_load("lenet5").graph, ref, torch.rand(2, 1, 28, 28))
    assert out.shape == (2, 10)


# ------------------------------------------------------------------------------------------------ ResNet-18
class _BasicBlock(nn.Module):
    """kuangliu/pytorch-cifar's BasicBlock."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class _ResNet18(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        blocks, cin = [], 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            blocks += [_BasicBlock(cin, cout, stride), _BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*blocks)
        self.linear = nn.Linear(512, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(torch.relu(self.bn1(self.conv1(x))))
        return self.linear(torch.flatten(nn.functional.adaptive_avg_pool2d(out, 1), 1))


def test_resnet18_cifar_equals_the_reference():
    ref = _ResNet18()
    assert _count(ref) == 11_173_962
    project = _load("resnet18_cifar")
    out = _same(project.graph, ref, torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 10)
    # eight residual blocks, each a user group that compiles to its own submodule
    groups = [grp.label for grp in project.graph.groups.values()]
    assert len(groups) == 8 and all(name.startswith("layer") for name in groups)
    model = dls.compile(project.graph)
    assert all(isinstance(getattr(model, name), torch.fx.GraphModule) for name in groups)


# ------------------------------------------------------------------------------------------------ MobileNetV2
def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout), nn.ReLU6()
    )


class _InvertedResidual(nn.Module):
    """torchvision.models.mobilenetv2.InvertedResidual."""

    def __init__(self, cin: int, cout: int, stride: int, t: int) -> None:
        super().__init__()
        hidden = cin * t
        layers = [] if t == 1 else [_conv_bn(cin, hidden, 1)]
        layers += [
            _conv_bn(hidden, hidden, 3, stride, hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)
        self.res = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.res else self.conv(x)


def test_mobilenetv2_equals_torchvision_layout():
    settings = (
        (1, 16, 1, 1),
        (6, 24, 2, 1),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    )
    layers: list[nn.Module] = [_conv_bn(3, 32, 3)]
    cin = 32
    for t, c, n, s in settings:
        for i in range(n):
            layers.append(_InvertedResidual(cin, c, s if i == 0 else 1, t))
            cin = c
    layers += [_conv_bn(320, 1280, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(1280, 10)]
    ref = nn.Sequential(*layers)
    # torchvision.models.mobilenet_v2(num_classes=10) has this many parameters
    assert _count(ref) == 2_236_682
    out = _same(_load("mobilenetv2_cifar").graph, ref, torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 10)


# ------------------------------------------------------------------------------------------------ DCGAN
def _dcgan_generator(nz: int = 100, ngf: int = 64, nc: int = 3) -> nn.Sequential:
    """The PyTorch DCGAN tutorial's Generator."""
    return nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
        nn.BatchNorm2d(ngf * 8),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf * 4),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf * 2),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
        nn.Tanh(),
    )


def _dcgan_discriminator(ndf: int = 64, nc: int = 3) -> nn.Sequential:
    """The tutorial's Discriminator without its final Sigmoid (we keep logits) and with a Flatten."""
    return nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
        nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ndf * 2),
        nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ndf * 4),
        nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ndf * 8),
        nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
        nn.Flatten(),
    )


def test_dcgan_generator_and_discriminator_equal_the_tutorial():
    project = _load("dcgan")
    gen_ref, disc_ref = _dcgan_generator(), _dcgan_discriminator()
    assert _count(gen_ref) == 3_576_704
    assert _count(disc_ref) == 2_765_568
    fake = _same(split_graph(project.graph, "noise"), gen_ref, torch.randn(2, 100, 1, 1))
    assert fake.shape == (2, 3, 64, 64) and fake.abs().max() <= 1
    score = _same(split_graph(project.graph, "image"), disc_ref, torch.rand(2, 3, 64, 64))
    assert score.shape == (2, 1)
    # the whole project graph is both networks side by side, as two groups
    assert {g.label for g in project.graph.groups.values()} == {"generator", "discriminator"}
    assert dls.check(project.graph).totals.params == 3_576_704 + 2_765_568


# ------------------------------------------------------------------------------------------------ smaller ones
def test_tiny_vgg_equals_the_cnn_explainer_layout():
    ref = nn.Sequential(
        nn.Conv2d(1, 10, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(10, 10, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(10, 10, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(10, 10, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(490, 10),
    )
    assert _same(_load("tiny_vgg").graph, ref, torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_espcn_super_resolution_equals_the_reference():
    ref = nn.Sequential(
        nn.Conv2d(1, 64, 5, padding=2),
        nn.Tanh(),
        nn.Conv2d(64, 32, 3, padding=1),
        nn.Tanh(),
        nn.Conv2d(32, 4, 3, padding=1),
        nn.PixelShuffle(2),
    )
    assert _same(_load("super_resolution").graph, ref, torch.rand(2, 1, 14, 14)).shape == (2, 1, 28, 28)


def test_alexnet_small_equals_its_hand_written_twin():
    ref = nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2),
        nn.ReLU(),
        nn.LocalResponseNorm(5),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(32, 96, 5, padding=2),
        nn.ReLU(),
        nn.LocalResponseNorm(5),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 192, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(192, 128, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(128, 128, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(128 * 2 * 2, 256),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(256, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
    )
    assert _same(_load("alexnet_small").graph, ref, torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_recurrent_and_attention_templates_equal_torch_layers():
    gru = nn.GRU(8, 64, batch_first=True)
    head = nn.Linear(64, 10)
    assert _count(dls.compile(_load("gru_sequence").graph)) == _count(gru) + _count(head)
    lstm = nn.LSTM(1, 32, num_layers=2, batch_first=True)
    assert _count(dls.compile(_load("lstm_forecaster").graph)) == _count(lstm) + 33
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(32, 4, 64, batch_first=True), 2, enable_nested_tensor=False)
    expected = _count(nn.Embedding(20, 32)) + _count(enc) + _count(nn.Linear(32, 2))
    model = dls.compile(_load("transformer_classifier").graph)
    assert _count(model) == expected
    assert model(torch.randint(0, 20, (3, 12))).shape == (3, 2)


@pytest.mark.parametrize(
    "name, expected", [("perceptron", 3), ("dense_autoencoder", 64 * 32 + 32 + 32 * 8 + 8 + 8 * 32 + 32 + 32 * 64 + 64)]
)
def test_dense_templates_have_the_expected_size(name: str, expected: int) -> None:
    assert _count(dls.compile(_load(name).graph)) == expected
