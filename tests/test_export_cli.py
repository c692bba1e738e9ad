"""CLI verbs `dlstudio export` and `dlstudio render` on a saved project (with a weights sidecar)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

import dlstudio as dls
from dlstudio.cli import run_cli
from dlstudio.core.edits import GroupNodes


def _project(tmp_path: Path) -> Path:
    g = dls.Graph()
    x = g.input("pixels", (1, 8, 8))
    c = g.add("ReLU", g.add("Conv2d", x, out_channels=4, kernel_size=3, padding=1, label="conv"), label="act")
    s = g.add("Add", x, g.add("Conv2d", c, out_channels=1, kernel_size=3, padding=1, label="back"), label="skip")
    GroupNodes(g.new_id("g"), "residual unit", (c.node_id, g.find("conv").id, g.find("back").id, s.node_id)).apply(g)
    g.output("scores", g.add("Linear", g.add("Flatten", s), out_features=3, label="head"))
    project = dls.Project(graph=g, meta={"name": "cli demo"})
    path = project.save(tmp_path / "demo.dlstudio")
    from dlstudio.compiler.weights import save_weights

    save_weights(dls.compile(g, seed=21), g, project.weights_path)
    return path


def test_export_onnx_and_python_use_the_sidecar_weights(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _project(tmp_path)
    onnx_path, py_path = tmp_path / "out" / "demo.onnx", tmp_path / "out" / "demo.py"
    assert run_cli(["export", str(path), "--onnx", str(onnx_path), "--python", str(py_path)]) == 0
    printed = capsys.readouterr().out
    assert "max |diff| scores" in printed and "onnx.checker" in printed
    project = dls.Project.load(path)
    model = dls.compile(project.graph, weights=project.weights_path).eval()
    x = torch.randn(5, 1, 8, 8)
    with torch.no_grad():
        want = model(x).numpy()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"pixels": x.numpy()})[0], want, atol=1e-5)
    assert (tmp_path / "out" / "demo.safetensors").is_file()
    assert "class ResidualUnit(nn.Module)" in py_path.read_text()


def test_export_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _project(tmp_path)
    assert run_cli(["export", str(path)]) == 2
    assert run_cli(["export", str(path), "--train-script", str(tmp_path / "t.py")]) == 2
    assert "needs --python" in capsys.readouterr().err
    assert run_cli(["export", str(tmp_path / "missing.dlstudio"), "--onnx", str(tmp_path / "x.onnx")]) == 2
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    assert run_cli(["export", str(path), "--onnx", str(tmp_path / "x.onnx"), "--weights", str(bad)]) == 2
    assert not (tmp_path / "x.onnx").exists()


def test_render_png_and_svg(tmp_path: Path) -> None:
    path = _project(tmp_path)
    png, svg = tmp_path / "g.png", tmp_path / "g.svg"
    assert run_cli(["render", str(path), "-o", str(png)]) == 0
    assert run_cli(["render", str(path), "-o", str(svg)]) == 0
    from PySide6.QtGui import QImage

    image = QImage(str(png))
    assert not image.isNull() and image.width() > image.height() > 100  # left-to-right layout
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 5  # boxes, wires and text were drawn, not a blank canvas
    text = " ".join(t for t in ET.parse(svg).getroot().itertext())
    for word in ("residual unit", "Block  4 layers", "pixels", "scores", "(1, 8, 8)", "(3)"):
        assert word in text, word
    assert "Conv2d" not in text  # the block is one closed card, as the studio opens it
    assert run_cli(["render", str(path), "-o", str(svg), "--expand"]) == 0
    text = " ".join(t for t in ET.parse(svg).getroot().itertext())
    for word in ("Conv2d", "conv", "residual unit", "(4, 8, 8)"):
        assert word in text, word
    assert run_cli(["render", str(path), "-o", str(tmp_path / "g.jpg")]) == 1


def test_render_frames_a_block_that_holds_only_blocks(tmp_path: Path) -> None:
    """A block whose members are all child blocks still gets its frame and label, drawn around everything inside
    (--expand); closed, it is one card that counts its child block."""
    path = _project(tmp_path)
    project = dls.Project.load(path)
    g = project.graph
    inner = next(iter(g.groups))
    GroupNodes(g.new_id("g"), "outer stage", (), group_ids=(inner,)).apply(g)
    project.save(path)
    svg = tmp_path / "nested.svg"
    assert run_cli(["render", str(path), "-o", str(svg)]) == 0
    text = " ".join(t for t in ET.parse(svg).getroot().itertext())
    assert "outer stage" in text and "1 block" in text and "residual unit" not in text
    assert run_cli(["render", str(path), "-o", str(svg), "--expand"]) == 0
    text = " ".join(t for t in ET.parse(svg).getroot().itertext())
    assert "outer stage" in text and "residual unit" in text and "back" in text


@pytest.mark.slow
def test_train_script_runs_one_epoch(tmp_path: Path) -> None:
    """A generated training script trains the generated model for one epoch in a fresh interpreter."""
    import os
    import subprocess
    import sys

    g = dls.Graph()
    h = g.add("ReLU", g.add("Linear", g.input("features", (4,)), out_features=16))
    g.output("logits", g.add("Linear", h, out_features=3))
    project = dls.Project(
        graph=g,
        data={"dataset": "iris"},
        training={
            "task": "multiclass",
            "optimizer": "SGD",
            "lr": 0.1,
            "batch_size": 16,
            "epochs": 3,
            "optimizer_params": {"momentum": 0.9},
            "schedule": {"name": "StepLR", "step_size": 1, "gamma": 0.5},
        },
        meta={"name": "iris mlp"},
    )
    path = project.save(tmp_path / "iris.dlstudio")
    out = tmp_path / "export"
    assert (
        run_cli(["export", str(path), "--python", str(out / "model.py"), "--train-script", str(out / "train.py")]) == 0
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run(
        [sys.executable, "-I", str(out / "train.py"), "--epochs", "1"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("epoch")]
    assert len(lines) == 1 and "val_acc" in lines[0]
    from safetensors.torch import load_file

    trained = load_file(str(out / "train_trained.safetensors"))
    model = dls.compile(g)
    model.load_state_dict(trained)  # the trained weights load into the project's compiled model
