"""Weights diff: per-layer L2 of the difference, relative change, cosine; one-sided layers, shape mismatches; a
frozen block trained against the original shows exactly 0."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest
import torch

from dlstudio.cli import run_cli
from dlstudio.compiler.weights import node_state, save_state_dict, save_tensors
from dlstudio.compiler.weights_diff import diff_tensors, diff_weight_files
from dlstudio.core.edits import SetFrozen
from dlstudio.io.project import Project

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden" / "diff"
FROZEN = ("c1", "c3")  # LeNet-5's two convolutions: the "feature extractor" kept fixed while fine-tuning


def _ids(project: Project) -> dict[str, str]:
    return {n.label: nid for nid, n in project.graph.nodes.items()}


def test_metrics_on_known_tensors() -> None:
    old = {"a.weight": torch.tensor([3.0, 4.0]), "b.weight": torch.ones(2), "c.weight": torch.ones(3)}
    new = {"a.weight": torch.tensor([3.0, 4.0]), "b.weight": torch.tensor([1.0, -1.0]), "c.weight": torch.ones(4)}
    new["d.weight"] = torch.zeros(1)
    d = diff_tensors(old, new)
    by = {x.layer: x for x in d.layers}
    assert by["a"].status == "same" and by["a"].l2 == 0.0 and by["a"].cosine == 1.0
    assert by["b"].status == "changed" and by["b"].l2 == 2.0 and by["b"].cosine == 0.0
    assert math.isclose(by["b"].relative, 2.0 / math.sqrt(2.0))
    assert by["c"].status == "shape" and by["c"].shapes == (("weight", (3,), (4,)),)
    assert by["d"].status == "new" and not d.same
    assert d.to_dict()["counts"] == {"same": 1, "changed": 1, "shape": 1, "old": 0, "new": 1}


def test_integer_buffers_are_not_weights() -> None:
    d = diff_tensors({"bn.num_batches_tracked": torch.tensor(3)}, {"bn.num_batches_tracked": torch.tensor(9)})
    assert d.layers == [] and d.same


def test_perturbed_layers_golden(tmp_path: Path) -> None:
    """Fine-tuned weights made by hand: only f5 and f7 perturbed by a fixed seed; the rest must be exactly 0."""
    project = Project.load(ROOT / "examples" / "lenet5.dlstudio")
    model = project.compile(seed=0, weights=None)
    old = node_state(model, project.graph)
    gen = torch.Generator().manual_seed(0)
    ids = _ids(project)
    new = dict(old)
    for label, scale in (("f5", 0.01), ("f7", 0.1)):
        key = f"{ids[label]}.weight"
        new[key] = old[key] + scale * torch.randn(old[key].shape, generator=gen)
    nodes = {nid: {"label": n.label, "type": n.type} for nid, n in project.graph.nodes.items()}
    save_tensors(tmp_path / "old.safetensors", old, layout="node", nodes=nodes)
    save_tensors(tmp_path / "new.safetensors", new, layout="node", nodes=nodes)
    d = diff_weight_files(tmp_path / "old.safetensors", tmp_path / "new.safetensors")
    changed = {x.label for x in d.layers if x.status == "changed"}
    assert changed == {"f5", "f7"}
    assert all(x.l2 == 0.0 and x.cosine == 1.0 for x in d.layers if x.label not in changed)
    text = d.format("lenet5.safetensors", "finetuned.safetensors")
    golden = GOLDEN / "lenet5_weights_perturbed.txt"
    if os.environ.get("DLSTUDIO_UPDATE_GOLDEN"):
        golden.write_text(text + "\n", encoding="utf-8")
    assert text + "\n" == golden.read_text(encoding="utf-8")


def test_finetuned_run_with_a_frozen_block_shows_it_at_exactly_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Train LeNet-5 for one epoch from saved weights with its convolutions frozen, then diff the run's weights
    against the original: the frozen layers are exactly 0, every trained layer moved."""
    from dlstudio.training.project import train_project

    shutil.copy(ROOT / "examples" / "lenet5.dlstudio", tmp_path / "lenet5.dlstudio")
    original = Project.load(tmp_path / "lenet5.dlstudio")
    model = original.compile(seed=0, weights=None)
    original.save_weights(model)
    save_state_dict(model, original.graph, tmp_path / "start.safetensors")
    tuned = Project.load(tmp_path / "lenet5.dlstudio")
    for label in FROZEN:
        SetFrozen(_ids(tuned)[label], True).apply(tuned.graph)
    tuned.training["epochs"] = 1
    event = train_project(tuned, run_dir=tmp_path / "run", epochs=1, weights=tmp_path / "start.safetensors")
    assert type(event).__name__ == "Finished", event

    capsys.readouterr()
    code = run_cli(["diff", "--weights", "--json", str(tmp_path / "lenet5.dlstudio"), str(tmp_path / "run")])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    layers = {x["label"]: x for x in out["weights"]["layers"]}
    assert set(layers) == {"c1", "c3", "f5", "f6", "f7"}
    for label in FROZEN:
        assert layers[label]["status"] == "same" and layers[label]["l2"] == 0.0 and layers[label]["cosine"] == 1.0
    for label in ("f5", "f6", "f7"):
        assert layers[label]["status"] == "changed" and layers[label]["l2"] > 0 and layers[label]["relative"] > 0
    changed = {c["new"]["label"]: c["frozen"] for c in out["structure"]["changed"]}
    assert changed == {"c1": [False, True], "c3": [False, True]}
    # two bare weights files of different layouts (node sidecar, state_dict run file) line up by label
    assert run_cli(["diff", str(tmp_path / "lenet5.safetensors"), str(tmp_path / "run" / "best.safetensors")]) == 1
    text = capsys.readouterr().out
    assert "3 changed, 2 unchanged" in text


def test_weights_missing_is_trouble(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lenet = ROOT / "examples" / "lenet5.dlstudio"
    assert run_cli(["diff", "--weights", str(lenet), str(lenet)]) == 2
    err = capsys.readouterr().err
    assert "has no weights to compare" in err and "Traceback" not in err


def test_project_weights_against_its_onnx_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The export folds each BatchNorm into its convolution's weights; the diff folds the project's the same way,
    so only float rounding is left (and --tolerance calls that unchanged)."""
    import dlstudio as dls

    shutil.copy(ROOT / "examples" / "resnet_mini.dlstudio", tmp_path / "m.dlstudio")
    project = Project.load(tmp_path / "m.dlstudio")
    model = project.compile(weights=None)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # statistics far from the initial ones, so a missing fold would show
        for mod in model.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.copy_(torch.randn(mod.num_features, generator=gen) * 0.1)
                mod.running_var.copy_(torch.rand(mod.num_features, generator=gen) + 0.5)
                mod.weight.copy_(torch.rand(mod.num_features, generator=gen) + 0.5)
    project.save_weights(model)
    dls.export_onnx(project, tmp_path / "m.onnx")
    result = dls.diff(tmp_path / "m.dlstudio", tmp_path / "m.onnx", weights=True)
    assert result.structure.same
    convs = [x for x in result.weights.layers if x.status in ("same", "changed")]
    assert len(convs) == len(project.graph.nodes_of_type("Conv2d")) + len(project.graph.nodes_of_type("Linear"))
    assert all(x.relative < 1e-6 and x.cosine > 1 - 1e-9 for x in convs)
    capsys.readouterr()
    args = ["diff", "--weights", str(tmp_path / "m.dlstudio"), str(tmp_path / "m.onnx")]
    assert run_cli([*args, "--tolerance", "1e-6"]) == 0
