"""`--train-script` export: image folders read by the script itself with dlstudio's split and decoding,
augmentation and early stopping mirrored, and the script run under `python` and under torch.distributed.run
(DDP, gloo on CPU) in fresh interpreters."""

from __future__ import annotations

import ast
import importlib.util
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

import dlstudio as dls
from dlstudio.core.errors import ExportError
from dlstudio.export.python_code import export_python
from dlstudio.export.train_script import export_train_script

AUGMENT = {"flip": True, "rotation": 15.0, "shift": 2, "noise": 0.05}


def _image_folder(root: Path, mode: str = "RGB") -> Path:
    """2 classes x 6 PNGs of 10x10 (resized to the Input's 8x8): bright images in 'light', dark in 'dark'."""
    from PIL import Image

    rng = np.random.default_rng(3)
    for k, name in enumerate(("light", "dark")):
        (root / name).mkdir(parents=True)
        for i in range(6):
            base = 200 if k == 0 else 40
            px = np.clip(base + rng.integers(-30, 30, size=(10, 10, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(px, "RGB").convert(mode).save(root / name / f"img_{i}.png")
    return root


def _image_project(tmp_path: Path, channels: int = 3, **training: object) -> dls.Project:
    images = _image_folder(tmp_path / "images")
    g = dls.Graph()
    x = g.input("image", (channels, 8, 8))
    c = g.add("ReLU", g.add("Conv2d", x, out_channels=4, kernel_size=3, padding=1))
    g.output("logits", g.add("Linear", g.add("Flatten", c), out_features=2))
    project = dls.Project(
        graph=g,
        data={
            "dataset": "imagefolder",
            "path": "images",
            "val_fraction": 0.25,
            "test_fraction": 0.17,
            "augment": AUGMENT,
        },
        training={"batch_size": 4, "epochs": 2, "lr": 0.01, **training},
        meta={"name": "folder demo"},
    )
    project.save(tmp_path / "folder.dlstudio")
    assert images.is_dir()
    return project


def _export(project: dls.Project, out: Path) -> Path:
    export_python(project.graph, out / "model.py", weights=None, weights_out=out / "model.safetensors")
    export_train_script(project, out / "train.py", model_file=out / "model.py")
    return out / "train.py"


def _load_script(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"gen_{abs(hash(path))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    path_before, modules_before = list(sys.path), set(sys.modules)
    sys.modules[spec.name] = module  # as an import does: its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:  # the script puts its folder on sys.path and imports `model`: leave no trace for other tests
        sys.path[:] = path_before
        del sys.modules[spec.name]
        for name in set(sys.modules) - modules_before:
            if Path(getattr(sys.modules[name], "__file__", None) or "/").parent == path.parent:
                del sys.modules[name]
    return module


def _imports(path: Path) -> set[str]:
    """Every module the script imports, anywhere in its code (top level or inside functions)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([sys.executable, "-I", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def _epoch_lines(stdout: str) -> list[dict[str, float]]:
    rows = []
    for line in stdout.splitlines():
        if line.startswith("epoch "):
            words = line.split()[2:]
            rows.append({k: float(v) for k, v in zip(words[::2], words[1::2])})
    return rows


def test_image_folder_split_and_decoding_match_dlstudio(tmp_path: Path) -> None:
    """The JSON lists dlstudio's own train/val/test files, and the script decodes them to the same arrays."""
    from dlstudio.training.config import DataConfig
    from dlstudio.training.data.binding import load_data
    from dlstudio.training.data.imagefolder import decode_image
    from dlstudio.training.data.prepare import prepare

    for channels in (3, 1):
        case = tmp_path / f"c{channels}"
        project = _image_project(case, channels=channels)
        script = _export(project, case / "export")
        assert not {m for m in _imports(script) if m.split(".")[0] == "dlstudio"}
        dcfg = DataConfig.from_dict(project.data)
        data = load_data(dcfg, project.graph, case)
        splits = prepare(data, dcfg, seed=0)
        gen = _load_script(script)
        train, val, test, weights = gen.load_datasets()
        assert weights is None
        for ours, theirs in ((train, splits.train), (val, splits.val), (test, splits.test)):
            assert theirs is not None and len(ours) == len(theirs) > 0
            assert [Path(p).resolve() for p in ours.paths] == [Path(p).resolve() for p in theirs.files]
            assert ours.labels.tolist() == theirs.y.tolist()
            for i in range(len(ours)):
                x, y = ours[i]
                want = decode_image(theirs.files[i], (8, 8), channels)
                assert x.shape == (channels, 8, 8) and x.dtype == torch.float32
                np.testing.assert_array_equal(x.numpy(), want)
                assert int(y) == int(theirs.y[i])
        assert len(train) + len(val) + len(test) == 12


def test_script_augmentation_matches_dlstudio_transforms(tmp_path: Path) -> None:
    from dlstudio.training.config import Augment
    from dlstudio.training.data.transforms import augment_batch

    gen = _load_script(_export(_image_project(tmp_path), tmp_path / "export"))
    x = torch.rand(6, 3, 8, 8)
    torch.manual_seed(5)
    ours = gen.augment_batch(x, gen.AUGMENT)
    torch.manual_seed(5)
    want = augment_batch(x, Augment(**AUGMENT))
    assert not torch.equal(ours, x)
    torch.testing.assert_close(ours, want, rtol=0, atol=0)


@pytest.mark.slow
def test_image_folder_script_trains_one_epoch(tmp_path: Path) -> None:
    """Exported in a folder apart from the project: the image folder is found relative to the script."""
    project = _image_project(tmp_path)
    script = _export(project, tmp_path / "elsewhere" / "export")
    res = _run([str(script), "--epochs", "1"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    rows = _epoch_lines(res.stdout)
    assert len(rows) == 1 and {"loss", "val_loss", "val_accuracy"} <= set(rows[0])
    assert math.isfinite(rows[0]["loss"]) and 0 <= rows[0]["val_accuracy"] <= 1
    assert re.search(r"^test loss [0-9.]+ accuracy [0-9.]+$", res.stdout, flags=re.M)
    from safetensors.torch import load_file

    trained = load_file(str(script.parent / "train_trained.safetensors"))
    model = dls.compile(project.graph)
    model.load_state_dict(trained)  # the trained weights load into the project's compiled model
    assert any(not torch.equal(v, model.state_dict()[k]) for k, v in dls.compile(project.graph).state_dict().items())


@pytest.mark.slow
def test_early_stopping_restores_the_best_epoch(tmp_path: Path) -> None:
    """min_delta larger than any change: epoch 1 stays the best, epoch 2 is one bad epoch, patience 1 stops
    there, and restore_best gives back exactly the weights a one-epoch run ends with."""
    g = dls.Graph()
    h = g.add("ReLU", g.add("Linear", g.input("features", (4,)), out_features=8))
    g.output("logits", g.add("Linear", h, out_features=3))
    project = dls.Project(
        graph=g,
        data={"dataset": "iris"},
        training={
            "epochs": 6,
            "lr": 0.05,
            "batch_size": 16,
            "early_stopping": {"patience": 1, "min_delta": 1e6, "restore_best": True},
        },
        meta={"name": "iris"},
    )
    script = _export(project, tmp_path / "export")
    once = _run([str(script), "--epochs", "1", "--out", str(tmp_path / "one.safetensors")], cwd=tmp_path)
    assert once.returncode == 0, once.stderr
    early = _run([str(script), "--out", str(tmp_path / "early.safetensors")], cwd=tmp_path)
    assert early.returncode == 0, early.stderr
    assert len(_epoch_lines(early.stdout)) == 2
    assert "early stopping: val_loss did not improve for 1 epochs" in early.stdout
    assert "restored the weights of the best epoch" in early.stdout
    from safetensors.torch import load_file

    a, b = load_file(str(tmp_path / "one.safetensors")), load_file(str(tmp_path / "early.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_refusals_name_the_setting(tmp_path: Path) -> None:
    g = dls.Graph()
    g.output("logits", g.add("Linear", g.input("features", (4,)), out_features=3))
    bad_monitor = dls.Project(
        graph=g, data={"dataset": "iris"}, training={"early_stopping": {"patience": 2, "monitor": "val_f1_macro"}}
    )
    with pytest.raises(ExportError, match="early_stopping.monitor 'val_f1_macro'.*val_accuracy"):
        export_train_script(bad_monitor, tmp_path / "train.py", model_file=tmp_path / "model.py")
    two = dls.Graph()
    a, b = two.input("a", (4,)), two.input("b", (4,))
    two.output("logits", two.add("Linear", two.add("Add", a, b), out_features=3))
    with pytest.raises(ExportError, match="exactly one Input"):
        export_train_script(
            dls.Project(graph=two, data={"dataset": "iris"}), tmp_path / "train.py", model_file=tmp_path / "model.py"
        )
    assert not (tmp_path / "train.py").exists()


# A known, unresolved defect: on a loaded machine about one launch in four to ten ends with one rank aborting in
# torch's C++ ("terminate called without an active exception", SIGABRT) with no Python traceback. It is retried
# once, only for that exact signature, so the test still fails on every other error.
GLOO_ABORT = "terminate called without an active exception"


@pytest.mark.slow
def test_script_runs_under_torch_distributed_run(tmp_path: Path) -> None:
    """Two processes (gloo on CPU) with a DistributedSampler over the image folder: exits 0, finite loss."""
    project = _image_project(tmp_path)
    script = _export(project, tmp_path / "export")
    cmd = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script), "--epochs", "1"]
    res = _run(cmd, cwd=tmp_path)
    if res.returncode != 0 and GLOO_ABORT in res.stderr:
        res = _run(cmd, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = _epoch_lines(res.stdout)
    assert len(rows) == 1, res.stdout  # rank 0 prints once
    assert math.isfinite(rows[0]["loss"]) and math.isfinite(rows[0]["val_loss"])
    assert (script.parent / "train_trained.safetensors").is_file()


def test_script_picks_the_fused_optimizer_like_the_trainer(tmp_path: Path) -> None:
    gen = _load_script(_export(_image_project(tmp_path), tmp_path / "export"))
    layer = torch.nn.Linear(3, 2)
    assert gen.make_optimizer(layer.parameters()).defaults["fused"] is True
    gen.SETTINGS["optimizer_params"] = {"fused": False}  # the project can turn it off
    assert not gen.make_optimizer(layer.parameters()).defaults["fused"]
    gen.SETTINGS.update(optimizer="RMSprop", optimizer_params={})  # no fused kernel: the plain one, no error
    assert not gen.make_optimizer(layer.parameters()).defaults.get("fused")


def test_the_script_inlines_the_trainers_own_functions(tmp_path: Path) -> None:
    """No second copy: every training function in the script is dlstudio's source, character for character."""
    import inspect

    from dlstudio.training.data.imagefolder import decode_image
    from dlstudio.training.data.transforms import augment_batch
    from dlstudio.training.losses import LossFn
    from dlstudio.training.optim import EpochScheduler, build_optimizer
    from dlstudio.training.task_supervised import basic_scores, improved, weight_penalty

    script = _export(_image_project(tmp_path), tmp_path / "export")
    text = script.read_text(encoding="utf-8")
    for obj in (augment_batch, LossFn, EpochScheduler, build_optimizer, basic_scores, improved, weight_penalty):
        assert inspect.getsource(obj) in text, obj.__name__
    assert inspect.getsource(decode_image) in text
    for copy in ("def lr_factor(epoch)", "def make_loss(", "def compute_loss(", "def scores(", "def augment(x)"):
        assert copy not in text  # the hand-written copies are gone
    ast.parse(text)


@pytest.mark.slow
def test_script_losses_and_metrics_equal_the_trainers_for_the_same_batches(tmp_path: Path) -> None:
    """The same model, data and batch order (no shuffle), basic epoch metrics: the script's per-epoch loss,
    validation loss and accuracy equal dlstudio's trainer to print precision, with a schedule, L2 and
    class weights on."""
    from dlstudio.training.loop import Trainer

    g = dls.Graph()
    h = g.add("ReLU", g.add("Linear", g.input("features", (4,)), out_features=8))
    g.output("logits", g.add("Linear", h, out_features=3))
    data = {"dataset": "iris", "shuffle": False, "imbalance": "class_weights"}
    training = {
        "epochs": 3,
        "lr": 0.05,
        "batch_size": 16,
        "optimizer": "SGD",
        "optimizer_params": {"momentum": 0.9},
        "l2": 0.001,
        "schedule": {"name": "StepLR", "step_size": 1, "gamma": 0.5, "warmup_epochs": 1},
        "epoch_metrics": "basic",
    }
    project = dls.Project(graph=g, data=data, training=training, meta={"name": "iris"})
    script = _export(project, tmp_path / "export")
    res = _run([str(script)], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    rows = _epoch_lines(res.stdout)
    ours = [e.metrics for e in Trainer(g, data, training).run() if type(e).__name__ == "EpochEnd"]
    assert len(rows) == len(ours) == 3
    for theirs, mine in zip(rows, ours):
        for key in ("loss", "val_loss", "val_accuracy", "lr"):
            assert theirs[key] == pytest.approx(mine[key], abs=6e-4), key
