"""Forward+backward time of compiled graphs vs hand-written nn.Modules with the same layers and weights.

Runs both in the same process, alternating, and prints the median ratio (compiled / hand-written) per model.
Target: ratio <= 1.02. Usage: python benchmarks/compile_overhead.py [--runs N] [--batch B]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import dlstudio as dls  # noqa: E402


# ------------------------------------------------------------------ LeNet-5
def lenet5_graph() -> dls.Graph:
    g = dls.Graph()
    x = g.input("image", shape=(1, 28, 28))
    h = g.add("Conv2d", x, out_channels=6, kernel_size=5, padding=2, label="conv1")
    h = g.add("AvgPool2d", g.add("Tanh", h), kernel_size=2, label="pool1")
    h = g.add("Conv2d", h, out_channels=16, kernel_size=5, label="conv2")
    h = g.add("AvgPool2d", g.add("Tanh", h), kernel_size=2, label="pool2")
    h = g.add("Flatten", h)
    h = g.add("Tanh", g.add("Linear", h, out_features=120, label="fc1"))
    h = g.add("Tanh", g.add("Linear", h, out_features=84, label="fc2"))
    g.output("logits", g.add("Linear", h, out_features=10, label="fc3"))
    return g


class LeNet5(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.avg_pool2d(torch.tanh(self.conv1(x)), 2)
        x = F.avg_pool2d(torch.tanh(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = torch.tanh(self.fc1(x))
        x = torch.tanh(self.fc2(x))
        return self.fc3(x)


# ------------------------------------------------------------- ResNet mini
def resnet_mini_graph() -> dls.Graph:
    g = dls.Graph()
    x = g.input("image", shape=(3, 32, 32))
    h = g.add(
        "ReLU",
        g.add("BatchNorm2d", g.add("Conv2d", x, out_channels=16, kernel_size=3, padding=1, bias=False, label="stem")),
    )
    for b in (1, 2):
        skip = h
        y = g.add("Conv2d", h, out_channels=16, kernel_size=3, padding=1, bias=False, label=f"b{b}_conv1")
        y = g.add("ReLU", g.add("BatchNorm2d", y, label=f"b{b}_bn1"))
        y = g.add("Conv2d", y, out_channels=16, kernel_size=3, padding=1, bias=False, label=f"b{b}_conv2")
        y = g.add("BatchNorm2d", y, label=f"b{b}_bn2")
        h = g.add("ReLU", g.add("Add", y, skip))
    h = g.add("Flatten", g.add("AdaptiveAvgPool2d", h, output_size=1))
    g.output("logits", g.add("Linear", h, out_features=10, label="fc"))
    return g


class Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + x)


class ResNetMini(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.block1 = Block(16)
        self.block2 = Block(16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn(self.stem(x)))
        x = self.block2(self.block1(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def copy_weights(src: nn.Module, dst: nn.Module) -> None:
    """Both modules register the same layers in the same order: copy tensors positionally."""
    s, d = list(src.state_dict().values()), dst.state_dict()
    assert len(s) == len(d), (len(s), len(d))
    dst.load_state_dict({k: v.clone() for k, v in zip(d.keys(), s)})


def step_time(model: nn.Module, x: torch.Tensor) -> float:
    t0 = time.perf_counter()
    out = model(x)
    out.float().square().mean().backward()
    return time.perf_counter() - t0


def bench(name: str, compiled: nn.Module, hand: nn.Module, x: torch.Tensor, runs: int) -> float:
    copy_weights(compiled, hand)
    compiled.train()
    hand.train()
    with torch.no_grad():
        diff = (compiled(x) - hand(x)).abs().max().item()
    for _ in range(5):
        step_time(compiled, x), step_time(hand, x)
    tc, th = [], []
    for i in range(runs):  # alternate so drift and noise hit both sides equally
        if i % 2:
            tc.append(step_time(compiled, x))
            th.append(step_time(hand, x))
        else:
            th.append(step_time(hand, x))
            tc.append(step_time(compiled, x))
    mc, mh = statistics.median(tc), statistics.median(th)
    ratio = mc / mh
    print(
        f"{name:12s} compiled {mc * 1e3:8.3f} ms  hand-written {mh * 1e3:8.3f} ms  ratio {ratio:.3f}"
        f"  (max |diff| {diff:.1e}, {runs} runs)"
    )
    return ratio


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 keeps noisy machines fair)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    r1 = bench("lenet5", dls.compile(lenet5_graph()), LeNet5(), torch.randn(a.batch, 1, 28, 28), a.runs)
    r2 = bench("resnet_mini", dls.compile(resnet_mini_graph()), ResNetMini(), torch.randn(a.batch, 3, 32, 32), a.runs)
    print(
        f"target ratio <= 1.02: lenet5 {'ok' if r1 <= 1.02 else 'MISSED'}, "
        f"resnet_mini {'ok' if r2 <= 1.02 else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
