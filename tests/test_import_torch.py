"""PyTorch import (torch.export route): modules become graphs with their weights; the CLI form
model.py:ClassName; clear errors; the round trip project -> generated Python -> import."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import dlstudio as dls
from dlstudio.cli import run_cli
from dlstudio.core.errors import ModelImportError

MODEL_PY = """
import torch
from torch import nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(),
                                      nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2))
        self.fc1 = nn.Linear(400, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.features(x)
        x = x.view(x.size(0), -1)
        return F.log_softmax(self.fc2(F.relu(self.fc1(x))), dim=1)


class Odd(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return torch.erf(self.fc(x)) + x.sum()


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 0:
            return self.fc(x)
        return x
"""


class SeqNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(6, 8)
        self.skip = nn.Linear(8, 8)
        self.rnn = nn.GRU(8, 5, batch_first=True, bidirectional=True)
        self.head = nn.Linear(20, 3)

    def forward(self, x):
        h = self.embed(x)
        h = h + self.skip(torch.relu(h))
        out, _ = self.rnn(h)
        summary = torch.cat([out[:, -1], out[:, 0]], dim=1)
        return self.head(summary), out.permute(0, 2, 1)


def test_module_with_residual_recurrent_and_two_outputs() -> None:
    module = SeqNet()
    result = dls.import_torch(module, [(7, 6)])
    types = [n.type for n in result.graph.nodes.values()]
    assert types.count("Linear") == 3 and "GRU" in types and "Add" in types and types.count("Output") == 2
    assert result.report.worst_diff <= 1e-5
    x = torch.randn(2, 7, 6)
    with torch.no_grad():
        want = module.eval()(x)
        got = result.compile()(x)
    assert all((a - b).abs().max() <= 1e-5 for a, b in zip(want, got))


def test_cli_file_import(tmp_path: Path) -> None:
    src = tmp_path / "model.py"
    src.write_text(MODEL_PY)
    out = tmp_path / "net.dlstudio"
    assert run_cli(["import", f"{src}:Net", "--input-shape", "1,28,28", "-o", str(out)]) == 0
    project = dls.Project.load(out)
    assert [n.type for n in project.graph.nodes.values()][:4] == ["Input", "Conv2d", "BatchNorm2d", "ReLU"]
    model = dls.compile(project.graph, weights=project.weights_path)
    assert sum(p.numel() for p in model.parameters()) == 6 * 25 + 6 + 12 + 16 * 150 + 16 + 400 * 32 + 32 + 330


def test_ops_without_a_catalog_layer_import_as_generic_ops(tmp_path: Path) -> None:
    src = tmp_path / "model.py"
    src.write_text(MODEL_PY)
    out = tmp_path / "odd.dlstudio"
    assert run_cli(["import", f"{src}:Odd", "--input-shape", "4", "-o", str(out)]) == 0
    project = dls.Project.load(out)
    ops = sorted(n.params["op"] for n in project.graph.nodes.values() if n.type == "AtenOp")
    assert ops == ["aten.add.Tensor", "aten.erf.default", "aten.sum.default"]
    from dlstudio.importers.torch_export import import_torch_file

    with pytest.raises(ModelImportError, match="no nn.Module class 'Missing'"):
        import_torch_file(src, "Missing", [(4,)])


def test_data_dependent_control_flow_names_the_line_and_nothing_written(tmp_path: Path, capsys) -> None:
    src = tmp_path / "model.py"
    src.write_text(MODEL_PY)
    out = tmp_path / "branchy.dlstudio"
    assert run_cli(["import", f"{src}:Branchy", "--input-shape", "4", "-o", str(out)]) == 1
    assert not out.exists()
    err = capsys.readouterr().err
    line = MODEL_PY.splitlines().index("        if x.sum() > 0:") + 1
    assert "data-dependent control flow" in err and f"model.py line {line}" in err and "Traceback" not in err


def test_roundtrip_project_python_import(tmp_path: Path) -> None:
    g = dls.Graph()
    x = g.input("image", (3, 16, 16))
    c = g.add("ReLU", g.add("BatchNorm2d", g.add("Conv2d", x, out_channels=8, kernel_size=3, padding=1)))
    p = g.add("MaxPool2d", c, kernel_size=2)
    f = g.add("Flatten", g.add("Conv2d", p, out_channels=4, kernel_size=3, stride=2))
    g.output("logits", g.add("Linear", g.add("GELU", g.add("Linear", f, out_features=16)), out_features=4))
    original = dls.compile(g, seed=9).eval()
    from dlstudio.compiler.weights import save_weights

    wpath = save_weights(original, g, tmp_path / "w.safetensors")
    report = dls.export_python(
        g, tmp_path / "gen_model.py", weights=wpath, weights_out=tmp_path / "gen_model.safetensors"
    )
    assert report.worst_diff <= 1e-6
    sys.path.insert(0, str(tmp_path))
    try:
        import gen_model  # type: ignore[import-not-found]

        module = gen_model.load_model()
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("gen_model", None)
    result = dls.import_torch(module, [(3, 16, 16)])
    assert sorted(n.type for n in result.graph.nodes.values()) == sorted(n.type for n in g.nodes.values())
    xb = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert (result.compile()(xb) - original(xb)).abs().max() <= 1e-5
