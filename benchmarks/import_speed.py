"""ONNX import time for a ResNet-50-size model (about 25 M parameters), parity check included, with its split.

    .venv/bin/python benchmarks/import_speed.py [model.onnx] [--repeat N]

Without a file it writes a bottleneck ResNet with stages of 3, 4, 6 and 3 blocks (ResNet-50's layout) to a
temporary folder with torch.onnx (TorchScript exporter, opset 17) and imports that. The time is what
`dlstudio import` spends before it writes the project: load, map (constant folding and op handlers), layout,
weights (numpy -> torch), parity (compile + onnxruntime + compare). The target is under 3 s.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_SECONDS = 3.0


def bottleneck_resnet(stages: tuple[int, ...] = (3, 4, 6, 3), width: int = 64, classes: int = 1000):
    """A bottleneck ResNet written for this benchmark: (3, 4, 6, 3) at width 64 has ResNet-50's 25.6 M parameters."""
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self, cin: int, mid: int, stride: int) -> None:
            super().__init__()
            cout = mid * 4
            self.conv1 = nn.Conv2d(cin, mid, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(mid)
            self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(mid)
            self.conv3 = nn.Conv2d(mid, cout, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.downsample = (
                nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                if stride != 1 or cin != cout
                else None
            )

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.relu(self.bn2(self.conv2(y)))
            y = self.bn3(self.conv3(y))
            skip = x if self.downsample is None else self.downsample(x)
            return self.relu(y + skip)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.relu = nn.ReLU()
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            cin = width
            for i, blocks in enumerate(stages):
                mid = width * 2**i
                layer = []
                for j in range(blocks):
                    layer.append(Bottleneck(cin, mid, 2 if j == 0 and i > 0 else 1))
                    cin = mid * 4
                setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
            self.n_stages = len(stages)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(cin, classes)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            for i in range(self.n_stages):
                x = getattr(self, f"layer{i + 1}")(x)
            return self.fc(self.avgpool(x).flatten(1))

    return Net().eval()


def export_onnx_bytes(module, sample_shape: tuple[int, ...], opset: int = 17) -> bytes:
    """The module as ONNX (TorchScript exporter, dynamic batch), as bytes."""
    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (torch.randn(1, *sample_shape),),
            buf,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
            opset_version=opset,
            dynamo=False,
        )
    return buf.getvalue()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="an ONNX file (default: a generated ResNet-50-size model)")
    parser.add_argument("--repeat", type=int, default=3, help="imports to time (the best is reported)")
    args = parser.parse_args(argv)

    from dlstudio.importers.onnx import import_onnx

    with tempfile.TemporaryDirectory() as tmp:
        if args.model:
            path = Path(args.model)
        else:
            module = bottleneck_resnet()
            params = sum(p.numel() for p in module.parameters())
            path = Path(tmp) / "resnet50_size.onnx"
            start = time.perf_counter()
            path.write_bytes(export_onnx_bytes(module, (3, 224, 224)))
            print(f"generated {path.name}: {params / 1e6:.1f} M parameters in {time.perf_counter() - start:.1f} s")
        import_onnx(path)  # warm-up: first imports of onnx/onnxruntime/torch.fx modules are not the import's cost
        best = None
        for _ in range(max(1, args.repeat)):
            start = time.perf_counter()
            result = import_onnx(path)
            total = time.perf_counter() - start
            if best is None or total < best[0]:
                best = (total, result)
        assert best is not None
        total, result = best
        split = result.report.details.get("timings", {})
        print(f"{'step':<10}{'seconds':>9}")
        for step in ("load", "map", "layout", "weights", "parity"):
            print(f"{step:<10}{split.get(step, float('nan')):>9.2f}")
        print(
            f"{'total':<10}{total:>9.2f}   (target < {TARGET_SECONDS:.0f} s; {len(result.graph)} nodes, "
            f"{len(result.graph.groups)} blocks, max |diff| {max(result.report.max_abs_diff.values()):.1e})"
        )
    return 0 if total < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
