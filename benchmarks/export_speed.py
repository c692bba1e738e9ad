"""ONNX export time and size per example, TorchScript exporter vs dynamo exporter, measured in the same run.

    .venv/bin/python benchmarks/export_speed.py [examples/lenet5.dlstudio ...]

Each timing includes compile, export, onnx.checker and the onnxruntime parity check (what `dlstudio export` does).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str]) -> int:
    import logging

    from dlstudio.export.onnx import export_onnx
    from dlstudio.io.project import Project

    logging.disable(logging.WARNING)  # the dynamo exporter logs its opset conversion
    paths = [Path(p) for p in argv] or [
        ROOT / "examples" / "lenet5.dlstudio",
        ROOT / "examples" / "resnet_mini.dlstudio",
    ]
    print(f"{'model':<18}{'exporter':<13}{'seconds':>9}{'KiB':>10}{'max |diff|':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            graph = Project.load(path).graph
            for exporter in ("torchscript", "dynamo"):
                start = time.perf_counter()
                report = export_onnx(graph, Path(tmp) / f"{path.stem}_{exporter}.onnx", exporter=exporter, opset=18)
                seconds = time.perf_counter() - start
                print(
                    f"{path.stem:<18}{exporter:<13}{seconds:>9.2f}{report.size_bytes / 1024:>10.1f}"
                    f"{report.worst_diff:>12.2e}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
